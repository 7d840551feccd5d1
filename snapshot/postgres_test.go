package snapshot

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/deploy/local"
	"github.com/sluice-cdc/sluice/schema"
)

func TestUnescapeCopy(t *testing.T) {
	for in, want := range map[string]string{
		``:                    ``,
		`plain`:               `plain`,
		`a\tb\nc\rd\\e`:       "a\tb\nc\rd\\e",
		`\b\f\v`:              "\b\f\v",
		`\101\1\0101`:         "A\x01\x081",
		`\x41\x4a\xg\x4`:      "AJxg\x04",
		`\\x00ff`:             `\x00ff`,
		`\q\.`:                `q.`,
		`é\t😀`:                "é\t😀",
		`{"a\\"b",NULL}`:      `{"a\"b",NULL}`,
		`trailing \\`:         `trailing \`,
		`\377\400`:            "\xff\x00", // PostgreSQL keeps the low 8 bits
		`mixed\x7Fend\x7fend`: "mixed\x7fend\x7fend",
	} {
		got, err := unescapeCopy(nil, []byte(in))
		if err != nil || string(got) != want {
			t.Errorf("unescapeCopy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := unescapeCopy(nil, []byte(`abc\`)); err == nil {
		t.Error("a lone trailing backslash: want an error")
	}
}

func TestCopyRows(t *testing.T) {
	cols := []sluice.Column{
		{Name: "id", Kind: sluice.KindInt},
		{Name: "note", Kind: sluice.KindString, SourceType: "text"},
		{Name: "data", Kind: sluice.KindBytes, SourceType: "bytea"},
	}
	var got []sluice.Row
	w := &copyRows{cols: cols, row: func(r sluice.Row) error { got = append(got, r); return nil }}
	stream := "1\tone\t\\\\x01ff\n2\t\\N\t\\N\n3\ttab\\there\\nnewline\t\\\\x\n4\t\t\\\\x00\n"
	// Feed the stream in every possible two-piece split, and byte by byte.
	want := []sluice.Row{
		{int64(1), "one", []byte{1, 0xff}},
		{int64(2), nil, nil},
		{int64(3), "tab\there\nnewline", []byte{}},
		{int64(4), "", []byte{0}},
	}
	for cut := 0; cut <= len(stream); cut++ {
		got = nil
		buf := []byte(stream)
		for _, part := range [][]byte{buf[:cut], buf[cut:]} {
			p := append([]byte(nil), part...)
			if n, err := w.Write(p); err != nil || n != len(p) {
				t.Fatalf("cut %d: Write = %d, %v", cut, n, err)
			}
			for i := range p {
				p[i] = '#' // rows must not alias what Write was given
			}
		}
		if len(w.partial) != 0 || !reflect.DeepEqual(got, want) {
			t.Fatalf("cut %d: rows %#v (partial %q), want %#v", cut, got, w.partial, want)
		}
	}
	got = nil
	for i := 0; i < len(stream); i++ {
		if _, err := w.Write([]byte{stream[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("byte by byte: rows %#v, want %#v", got, want)
	}
}

func TestCopyRowsErrors(t *testing.T) {
	cols := []sluice.Column{{Name: "id", Kind: sluice.KindInt}, {Name: "n", Kind: sluice.KindString}}
	for line, want := range map[string]string{
		"1\n":       "1 fields, want 2",
		"1\ta\tb\n": "more than 2",
		"x\ta\n":    `column "id"`,
		"1\ta\\\n":  "lone backslash",
	} {
		w := &copyRows{cols: cols, row: func(sluice.Row) error { return nil }}
		if _, err := w.Write([]byte(line)); err == nil || !strings.Contains(err.Error(), want) || w.err != err {
			t.Errorf("%q: err = %v, want one containing %q", line, err, want)
		}
	}
	stop := errors.New("handler stopped")
	w := &copyRows{cols: cols, row: func(sluice.Row) error { return stop }}
	if _, err := w.Write([]byte("1\ta\n")); !errors.Is(err, stop) {
		t.Errorf("a handler error: got %v", err)
	}
}

func TestCopyQuery(t *testing.T) {
	full := &sluice.Table{Database: "sales", Name: `Or"ders`, Columns: []sluice.Column{{Name: "id"}, {Name: "Secret"}, {Name: "note x"}}}
	sel := &sluice.Selection{Include: []string{"*.*"}, ExcludeColumns: []string{"sales.*.Secret"}}
	proj, err := sel.Project(full)
	if err != nil {
		t.Fatal(err)
	}
	sh := &PostgresShape{Ref: PostgresTableRef{Schema: "sales", Name: `Or"ders`}, Full: full, Proj: proj}
	if got, want := sh.copyQuery(), `COPY (SELECT "id", "note x" FROM ONLY "sales"."Or""ders") TO STDOUT`; got != want {
		t.Errorf("copyQuery = %s, want %s", got, want)
	}
	sh.Ref.Partitioned = true
	if got := sh.copyQuery(); !strings.Contains(got, ` FROM "sales"."Or""ders"`) {
		t.Errorf("partitioned: copyQuery = %s, want no ONLY", got)
	}
}

func TestPostgresConnConfig(t *testing.T) {
	// None of libpq's environment variables and files changes sluice's
	// settings; the bad ones must not break them either.
	home := t.TempDir()
	t.Setenv("HOME", home)
	if err := os.WriteFile(filepath.Join(home, ".pgpass"), []byte("*:*:*:*:from-pgpass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"PGPASSWORD": "from-env", "PGSSLMODE": "require", "PGHOST": "env-host", "PGPORT": "1234", "PGUSER": "env-user",
		"PGDATABASE": "env-db", "PGAPPNAME": "env-app", "PGOPTIONS": "-c work_mem=1MB", "PGTZ": "Europe/Paris",
		"PGSSLCERT": "/nonexistent/cert.pem", "PGSSLKEY": "/nonexistent/key.pem", "PGSSLROOTCERT": "/nonexistent/ca.pem",
		"PGCONNECT_TIMEOUT": "not-a-number", "PGTARGETSESSIONATTRS": "bogus", "PGSSLCERTMODE": "require",
		"PGCHANNELBINDING": "require", "PGREQUIREAUTH": "md5", "PGMINPROTOCOLVERSION": "3.2",
		"PGPASSFILE": filepath.Join(home, ".pgpass"),
	} {
		t.Setenv(k, v)
	}
	cc, err := PostgresConnConfig(PostgresConfig{Name: "src", Host: "127.0.0.1", Port: 5433, User: "u'\\ x", Password: "s3cret", Database: "d b", SSLMode: "disable"})
	if err != nil {
		t.Fatal(err)
	}
	if cc.Host != "127.0.0.1" || cc.Port != 5433 || cc.User != "u'\\ x" || cc.Password != "s3cret" || cc.Database != "d b" || cc.TLSConfig != nil || len(cc.Fallbacks) != 0 {
		t.Errorf("config = %+v", cc.Config)
	}
	if cc.ValidateConnect != nil || cc.ChannelBinding != "prefer" || cc.RequireAuth != "" || cc.MinProtocolVersion != "3.0" || cc.ConnectTimeout != 10*time.Second {
		t.Errorf("environment leaked: validate %v channel binding %q require_auth %q min protocol %q timeout %v",
			cc.ValidateConnect != nil, cc.ChannelBinding, cc.RequireAuth, cc.MinProtocolVersion, cc.ConnectTimeout)
	}
	if strings.Contains(cc.ConnString(), "s3cret") {
		t.Errorf("connection string holds the password: %s", cc.ConnString())
	}
	want := map[string]string{"application_name": "sluice src"}
	for k, v := range schema.PostgresSessionSettings {
		want[k] = v
	}
	if !maps.Equal(cc.RuntimeParams, want) {
		t.Errorf("runtime params = %v, want %v", cc.RuntimeParams, want)
	}

	// An empty password stays empty: not PGPASSWORD, not ~/.pgpass.
	cc, err = PostgresConnConfig(PostgresConfig{Host: "db.example", Port: 5432, Password: "", ConnectTimeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// prefer: TLS first, then a plain fallback to the same server.
	if cc.TLSConfig == nil || len(cc.Fallbacks) != 1 || cc.Fallbacks[0].TLSConfig != nil || cc.Fallbacks[0].Host != "db.example" || cc.Password != "" {
		t.Errorf("prefer: TLS %v fallbacks %+v password %q", cc.TLSConfig != nil, cc.Fallbacks, cc.Password)
	}
	if len(cc.TLSConfig.Certificates) != 0 || cc.TLSConfig.RootCAs != nil || cc.ConnectTimeout != 1500*time.Millisecond {
		t.Errorf("prefer: client certificates %d, roots %v, timeout %v", len(cc.TLSConfig.Certificates), cc.TLSConfig.RootCAs != nil, cc.ConnectTimeout)
	}
	if cc.RuntimeParams["application_name"] != "sluice" {
		t.Errorf("application_name = %q, want sluice", cc.RuntimeParams["application_name"])
	}
	if _, err := PostgresConnConfig(PostgresConfig{Host: "h", Port: 1, SSLMode: "verify-full", SSLRootCert: "/nonexistent/ca.pem"}); err == nil || !strings.Contains(err.Error(), "sslrootcert") {
		t.Errorf("unreadable root certificate: err = %v", err)
	}
	if _, err := PostgresConnConfig(PostgresConfig{Host: "h", Port: 0}); err == nil {
		t.Error("port 0: want an error")
	}
}

// TestPostgresConnConfigTLS: the CA, the client certificate and the mode
// reach the TLS settings.
func TestPostgresConnConfigTLS(t *testing.T) {
	pki, err := local.NewTestPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cc, err := PostgresConnConfig(PostgresConfig{Host: "127.0.0.1", Port: 5432, SSLMode: "verify-full", SSLRootCert: pki.CAFile, SSLCert: pki.ClientCert, SSLKey: pki.ClientKey})
	if err != nil {
		t.Fatal(err)
	}
	if cc.TLSConfig == nil || len(cc.Fallbacks) != 0 || cc.TLSConfig.ServerName != "127.0.0.1" || cc.TLSConfig.RootCAs == nil || cc.TLSConfig.InsecureSkipVerify {
		t.Errorf("verify-full: TLS %+v fallbacks %d", cc.TLSConfig, len(cc.Fallbacks))
	}
	if cc.TLSConfig.GetClientCertificate == nil && len(cc.TLSConfig.Certificates) == 0 {
		t.Error("verify-full: no client certificate")
	}
	if _, err := PostgresConnConfig(PostgresConfig{Host: "127.0.0.1", Port: 5432, SSLMode: "require", SSLCert: pki.ClientCert}); err == nil {
		t.Error("sslcert without sslkey: want an error")
	}
}

// BenchmarkCopyRows parses COPY text rows of ten typical columns into
// canonical values, the snapshot's per-row work besides the network.
func BenchmarkCopyRows(b *testing.B) {
	cols := []sluice.Column{
		{Name: "id", Kind: sluice.KindInt},
		{Name: "tenant", Kind: sluice.KindInt},
		{Name: "name", Kind: sluice.KindString, SourceType: "text"},
		{Name: "email", Kind: sluice.KindString, SourceType: "character varying(100)"},
		{Name: "amount", Kind: sluice.KindDecimal, SourceType: "numeric(12,2)", Precision: 12, Scale: 2},
		{Name: "ratio", Kind: sluice.KindDouble, SourceType: "double precision"},
		{Name: "active", Kind: sluice.KindBool, SourceType: "boolean"},
		{Name: "created", Kind: sluice.KindTimestamp, SourceType: "timestamp with time zone", Scale: 6},
		{Name: "day", Kind: sluice.KindDate, SourceType: "date"},
		{Name: "note", Kind: sluice.KindString, SourceType: "text"},
	}
	line := "123456\t42\tAda Lovelace\tada@example.com\t12345.67\t0.3333333333333333\tt\t2024-01-02 03:04:05.123456+00\t2024-01-02\tsome note with a \\t tab\n"
	var chunk []byte
	for len(chunk) < 64<<10 {
		chunk = append(chunk, line...)
	}
	perChunk := len(chunk) / len(line)
	n := 0
	w := &copyRows{cols: cols, row: func(sluice.Row) error { n++; return nil }}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += perChunk {
		if _, err := w.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/row")
}

// FuzzCopyRows feeds arbitrary COPY output, in two writes, to the row
// parser: it must not panic, and rows must come out the same however the
// stream is cut.
func FuzzCopyRows(f *testing.F) {
	f.Add("1\ta\\tb\n2\t\\N\n", 3)
	f.Add("x\n\n\t\n", 1)
	f.Add("1\t\\\\x00\n", 0)
	cols := []sluice.Column{{Name: "id", Kind: sluice.KindInt}, {Name: "v", Kind: sluice.KindString, SourceType: "text"}}
	f.Fuzz(func(t *testing.T, stream string, cut int) {
		run := func(parts ...string) ([]sluice.Row, error) {
			var rows []sluice.Row
			w := &copyRows{cols: cols, row: func(r sluice.Row) error { rows = append(rows, r); return nil }}
			for _, p := range parts {
				if _, err := w.Write([]byte(p)); err != nil {
					return rows, err
				}
			}
			return rows, nil
		}
		whole, err1 := run(stream)
		cut = int(uint(cut) % uint(len(stream)+1))
		split, err2 := run(stream[:cut], stream[cut:])
		if (err1 == nil) != (err2 == nil) || !reflect.DeepEqual(whole, split) {
			t.Fatalf("%q cut at %d: %v, %v vs %v, %v", stream, cut, whole, err1, split, err2)
		}
	})
}
