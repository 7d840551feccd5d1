package config

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// pgEnv makes a PostgreSQL config valid without a file.
var pgEnv = []string{
	"SLUICE_SOURCE_TYPE=postgresql",
	"SLUICE_SOURCE_USER=sluice",
	"SLUICE_SOURCE_DATABASE=shop",
	"SLUICE_TABLES_INCLUDE=public.*",
	"SLUICE_KAFKA_BROKERS=127.0.0.1:9092",
	"SLUICE_FORMAT=json",
}

func TestSourceHostIsOnlyAHost(t *testing.T) {
	const pw = "pw-Zx81q"
	const mysqlUse = "set only the host name in source.host and use source.port, source.user and source.password (or password_file); tables.include names the databases"
	const pgUse = "set only the host name in source.host and use source.port, source.user, source.password (or password_file) and source.database"
	tests := []struct {
		host string
		pg   bool
		want string // "" when the host is valid
	}{
		{host: "mysql://u:" + pw + "@db1:3306/shop", want: "source.host: holds a URL; " + mysqlUse},
		{host: "u:" + pw + "@tcp(db1:3306)/shop", want: "source.host: holds a connection string; " + mysqlUse},
		{host: "tcp(db1:3306)/shop", want: "source.host: holds a connection string; " + mysqlUse},
		{host: "u@db1", want: "source.host: holds a connection string; " + mysqlUse},
		{host: "postgres://u:" + pw + "@db1:5432/shop?sslmode=require", pg: true, want: "source.host: holds a URL; " + pgUse},
		{host: "postgresql://db1/shop", pg: true, want: "source.host: holds a URL; " + pgUse},
		{host: "host=db1 port=5432 user=u password=" + pw, pg: true, want: "source.host: holds a connection string; " + pgUse},
		{host: "db1:3306", want: `source.host: "db1:3306" holds a port; set source.host: db1 and source.port: 3306`},
		{host: "10.0.0.5:5432", pg: true, want: `source.host: "10.0.0.5:5432" holds a port; set source.host: 10.0.0.5 and source.port: 5432`},
		{host: "[::1]:3306", want: `source.host: "[::1]:3306" holds a port; set source.host: ::1 and source.port: 3306`},
		{host: "[fe80::1]", want: `source.host: "[fe80::1]" is in brackets; set source.host: fe80::1`},
		{host: "u:" + pw, want: "source.host: is not a host name or IP address; set only the host, e.g. db1.internal, 10.0.0.5 or ::1"},
		{host: "db1"},
		{host: "db1.internal"},
		{host: "my_db-1.example.com"},
		{host: "10.0.0.5"},
		{host: "::1"},
		{host: "fe80::1"},
		{host: "fe80::1%eth0"},
		{host: "2001:db8::5", pg: true},
	}
	for _, tt := range tests {
		env := minimalEnv
		if tt.pg {
			env = pgEnv
		}
		_, err := Load("", []string{"--source.host", tt.host}, env)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.host, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("%q: error\n%v\nwant\n%s", tt.host, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), pw) {
			t.Errorf("%q: password in error: %v", tt.host, err)
		}
	}
}

// TestKafkaLimits: the checks the producer would make after connecting are
// made by Validate.
func TestKafkaLimits(t *testing.T) {
	tests := []struct {
		env  []string
		want string // "" when valid
	}{
		{env: []string{"SLUICE_KAFKA_MAX_MESSAGE_BYTES=511"},
			want: "kafka.max_message_bytes: 511 is out of range; use 512 to 1073741824, e.g. 1000012"},
		{env: []string{"SLUICE_KAFKA_MAX_MESSAGE_BYTES=1073741825", "SLUICE_KAFKA_MAX_BUFFERED_BYTES=2000000000"},
			want: "kafka.max_message_bytes: 1073741825 is out of range; use 512 to 1073741824, e.g. 1000012"},
		{env: []string{"SLUICE_KAFKA_MAX_MESSAGE_BYTES=2000000", "SLUICE_KAFKA_MAX_BUFFERED_BYTES=1000000"},
			want: "kafka.max_buffered_bytes: 1000000 is below kafka.max_message_bytes (2000000); raise max_buffered_bytes so one record always fits"},
		{env: []string{"SLUICE_KAFKA_MAX_BUFFERED_BYTES=0"},
			want: "kafka.max_buffered_bytes: 0 is below kafka.max_message_bytes (1000012); raise max_buffered_bytes so one record always fits"},
		{env: []string{"SLUICE_KAFKA_DELIVERY_TIMEOUT=0s"}, want: "kafka.delivery_timeout: must be positive, e.g. 2m"},
		{env: []string{"SLUICE_KAFKA_DELIVERY_TIMEOUT=-1s"}, want: "kafka.delivery_timeout: must be positive, e.g. 2m"},
		{env: []string{"SLUICE_KAFKA_BROKERS=PLAINTEXT://k1:9092"},
			want: `kafka.brokers: "PLAINTEXT://k1:9092" has a scheme; give host:port only, e.g. 127.0.0.1:9092`},
		{env: []string{"SLUICE_KAFKA_MAX_MESSAGE_BYTES=512", "SLUICE_KAFKA_MAX_BUFFERED_BYTES=512"}},
		{env: []string{"SLUICE_KAFKA_MAX_MESSAGE_BYTES=1073741824", "SLUICE_KAFKA_MAX_BUFFERED_BYTES=1073741824"}},
		{env: []string{"SLUICE_KAFKA_DELIVERY_TIMEOUT=1ms"}},
	}
	for _, tt := range tests {
		_, err := Load("", nil, append(slicesClone(minimalEnv), tt.env...))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: %v", tt.env, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("%v: error\n%v\nwant\n%s", tt.env, err, tt.want)
		}
	}
}

func TestPprofListen(t *testing.T) {
	for addr, want := range map[string]string{
		"6060":            `debug.pprof_listen: "6060" is not host:port; use e.g. 127.0.0.1:6060, or leave it empty to serve nothing`,
		"127.0.0.1:99999": `debug.pprof_listen: "127.0.0.1:99999" has no valid port; use host:port, e.g. 127.0.0.1:6060`,
		"127.0.0.1:6060":  "",
		":6060":           "",
		"[::1]:0":         "",
	} {
		_, err := Load("", []string{"--debug.pprof_listen=" + addr}, minimalEnv)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", addr, err)
		case want != "" && (err == nil || err.Error() != want):
			t.Errorf("%q: error\n%v\nwant\n%s", addr, err, want)
		}
	}
}

// TestValidateBeforeConnecting documents that Load never connects: pointed
// at addresses where nothing listens it loads a valid configuration and
// reports an invalid one's problems, not a connection failure; pointed at a
// listener, it leaves it untouched.
func TestValidateBeforeConnecting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	host, port, _ := net.SplitHostPort(addr)
	ln.Close()
	env := []string{
		"SLUICE_SOURCE_TYPE=mysql", "SLUICE_SOURCE_USER=sluice", "SLUICE_TABLES_INCLUDE=shop.*",
		"SLUICE_SOURCE_HOST=" + host, "SLUICE_SOURCE_PORT=" + port,
		"SLUICE_KAFKA_BROKERS=" + addr, "SLUICE_SCHEMA_REGISTRY_URLS=http://" + addr,
		"SLUICE_SOURCE_CONNECT_TIMEOUT=1ms",
	}
	if _, err := Load("", nil, env); err != nil {
		t.Fatalf("valid configuration, nothing listening: %v", err)
	}

	bad := append(slicesClone(env),
		"SLUICE_SOURCE_HOST="+addr,
		"SLUICE_KAFKA_MAX_MESSAGE_BYTES=2000000", "SLUICE_KAFKA_MAX_BUFFERED_BYTES=1000000",
		"SLUICE_KAFKA_DELIVERY_TIMEOUT=0s",
	)
	_, err = Load("", nil, bad)
	want := strings.Join([]string{
		`source.host: "` + addr + `" holds a port; set source.host: ` + host + ` and source.port: ` + port,
		"kafka.max_buffered_bytes: 1000000 is below kafka.max_message_bytes (2000000); raise max_buffered_bytes so one record always fits",
		"kafka.delivery_timeout: must be positive, e.g. 2m",
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("error\n%v\nwant\n%s", err, want)
	}

	// A listener that is never accepted from still queues a connection
	// attempt, so an empty queue shows nothing dialled it.
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr = ln.Addr().String()
	host, port, _ = net.SplitHostPort(addr)
	open := append(slicesClone(env), "SLUICE_SOURCE_HOST="+host, "SLUICE_SOURCE_PORT="+port,
		"SLUICE_KAFKA_BROKERS="+addr, "SLUICE_SCHEMA_REGISTRY_URLS=http://"+addr)
	if _, err := Load("", nil, open); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("", nil, append(open, "SLUICE_KAFKA_DELIVERY_TIMEOUT=0s")); err == nil {
		t.Fatal("want an error")
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(50 * time.Millisecond))
	if c, err := ln.Accept(); !errors.Is(err, os.ErrDeadlineExceeded) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Load connected to %s: accept returned %v", addr, err)
	}
}
