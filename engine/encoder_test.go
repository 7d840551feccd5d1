package engine

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/schema"
)

func registrySettings(urls ...string) config.SchemaRegistryConfig {
	return config.SchemaRegistryConfig{URLs: urls, RequestTimeout: 2 * time.Second}
}

func TestCheckRegistry(t *testing.T) {
	ctx := context.Background()
	const user, pw = "sluice", "reg-Secret-42"
	open := srfake.New()
	defer open.Close()
	authed := srfake.New(srfake.WithAuth("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))))
	defer authed.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	withAuth := func(u, p string) config.SchemaRegistryConfig {
		c := registrySettings(authed.URL())
		c.Username, c.Password = u, config.NewSecret(p)
		return c
	}
	tests := []struct {
		name string
		cfg  config.SchemaRegistryConfig
		want string // "" for no problem
	}{
		{name: "reachable", cfg: registrySettings(open.URL())},
		{name: "second url when the first is down", cfg: registrySettings(downURL, open.URL())},
		{name: "down", cfg: registrySettings(downURL), want: "schema registry not reachable: "},
		{name: "authenticated", cfg: withAuth(user, pw)},
		{name: "no credentials", cfg: registrySettings(authed.URL()), want: "requires authentication (401): set schema_registry.username and schema_registry.password"},
		{name: "wrong password", cfg: withAuth(user, "wrong-"+pw), want: `denied user "sluice" access (403)`},
		{name: "not the base url", cfg: registrySettings(open.URL() + "/subjects/x"), want: "answered 404: schema_registry.urls must be the registry's base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := checkRegistry(ctx, &tt.cfg)
			if tt.want == "" {
				if len(problems) != 0 {
					t.Fatalf("problems: %v", problems)
				}
				return
			}
			if len(problems) != 1 || !strings.Contains(problems[0].Message, tt.want) || problems[0].Warning {
				t.Fatalf("problems %v, want one error containing %q", problems, tt.want)
			}
			if strings.Contains(problems[0].Message, pw) {
				t.Errorf("password in %q", problems[0].Message)
			}
		})
	}
}

func TestRegistryTLS(t *testing.T) {
	fake := srfake.NewRegistry()
	srv := httptest.NewTLSServer(fake.Handler())
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	c := registrySettings(srv.URL)
	if p := checkRegistry(ctx, &c); len(p) != 1 || !strings.Contains(p[0].Message, "certificate") {
		t.Errorf("unknown CA: problems %v, want a certificate error", p)
	}
	c.TLS.CAFile = ca
	if p := checkRegistry(ctx, &c); len(p) != 0 {
		t.Errorf("with ca_file: %v", p)
	}
	c.TLS = config.TLSConfig{InsecureSkipVerify: true}
	if p := checkRegistry(ctx, &c); len(p) != 0 {
		t.Errorf("with insecure_skip_verify: %v", p)
	}

	for _, tt := range []struct {
		tls  config.TLSConfig
		want string
	}{
		{config.TLSConfig{CAFile: filepath.Join(dir, "missing.pem")}, "schema_registry.tls.ca_file: open "},
		{config.TLSConfig{CAFile: notPEM}, "schema_registry.tls.ca_file: " + notPEM + " holds no PEM certificate"},
		{config.TLSConfig{CertFile: notPEM, KeyFile: notPEM}, "schema_registry.tls.cert_file and key_file: "},
	} {
		c := registrySettings(srv.URL)
		c.TLS = tt.tls
		if _, err := registryClient(&c, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.tls, err, tt.want)
		}
	}
}

// TestNewEncoder: format picks the encoder; avro registers the table's
// schemas under <prefix>.<db>.<table>-key and -value on first use and
// frames records in the Confluent wire format.
func TestNewEncoder(t *testing.T) {
	fake := srfake.New()
	defer fake.Close()
	cfg, err := config.Load("", []string{"--source.type=mysql", "--source.user=sluice", "--tables.include=shop.*",
		"--kafka.brokers=127.0.0.1:9092", "--kafka.topic_prefix=cdc", "--schema_registry.urls=" + fake.URL()}, nil)
	if err != nil {
		t.Fatal(err)
	}

	cfg.Format = "json"
	enc, err := newEncoder(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := enc.(jsonEncoder); !ok {
		t.Fatalf("json: got %T", enc)
	}

	cfg.Format = "avro"
	enc, err = newEncoder(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := enc.(*schema.AvroEncoder); !ok {
		t.Fatalf("avro: got %T", enc)
	}
	table := &sluice.Table{Database: "shop", Name: "orders", PrimaryKey: true, Key: []int{0}, Columns: []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "int"},
		{Name: "total", Kind: sluice.KindDecimal, SourceType: "decimal(10,2)", Precision: 10, Scale: 2, Nullable: true},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key, err := enc.Key(ctx, table, sluice.Row{int64(7), "1.50"})
	if err != nil {
		t.Fatal(err)
	}
	if len(key) < 5 || key[0] != 0 {
		t.Fatalf("key % x is not in the Confluent wire format", key)
	}
	cl, err := sr.NewClient(sr.URLs(fake.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.SchemaByVersion(ctx, "cdc.shop.orders-key", -1)
	if err != nil {
		t.Fatalf("key subject: %v", err)
	}
	if id := binary.BigEndian.Uint32(key[1:5]); int(id) != ss.ID {
		t.Errorf("key carries schema id %d, the registry has %d", id, ss.ID)
	}
	if _, err := cl.SchemaByVersion(ctx, "cdc.shop.orders-value", -1); err != nil {
		t.Errorf("value subject: %v", err)
	}

	cfg.Avro.UnsignedBigint = "text"
	if _, err := newEncoder(cfg, nil, nil); err == nil {
		t.Error("unsigned_bigint text: want an error")
	}
}
