package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// minimalEnv makes a config valid without a file.
var minimalEnv = []string{
	"SLUICE_SOURCE_TYPE=mysql",
	"SLUICE_SOURCE_USER=sluice",
	"SLUICE_TABLES_INCLUDE=shop.*",
	"SLUICE_KAFKA_BROKERS=127.0.0.1:9092",
	"SLUICE_SCHEMA_REGISTRY_URLS=https://127.0.0.1:8081",
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testdataConfig is what testdata/sluice.yaml holds, on top of the defaults.
func testdataConfig() *Config {
	return &Config{
		Name: "orders-db",
		Source: SourceConfig{
			Type: "mysql", Host: "db1.internal", Port: 3307, User: "sluice",
			ServerID: deriveServerID("orders-db"), Flavor: "mariadb", ConnectTimeout: 5 * time.Second, Streaming: true, TLS: SourceTLSConfig{Mode: "preferred"},
		},
		Tables: TablesConfig{
			Include:        []string{"shop.*", "billing.invoices"},
			Exclude:        []string{"shop.audit_*"},
			ExcludeColumns: []string{"shop.customers.ssn"},
			Keys:           map[string][]string{"shop.events": {"event_id", "ts"}},
		},
		Snapshot: SnapshotConfig{Mode: "initial"},
		Kafka: KafkaConfig{
			Brokers: []string{"kafka1:9092", "kafka2:9092"}, TopicPrefix: "cdc",
			Partitions: 6, ReplicationFactor: 3,
			TopicConfig:     map[string]string{"min.insync.replicas": "2"},
			CheckpointTopic: "cdc.checkpoints", CheckpointInterval: 2 * time.Second,
			MaxBufferedRecords: 20000, MaxBufferedBytes: 64 << 20, MaxMessageBytes: 1000012, DeliveryTimeout: 2 * time.Minute, Compression: "zstd", Linger: 10 * time.Millisecond,
			ClientID: "sluice-orders",
		},
		Format: "avro",
		SchemaRegistry: SchemaRegistryConfig{
			URLs:           []string{"https://registry1.internal:8081", "https://registry2.internal:8081"},
			TLS:            TLSConfig{CAFile: "/etc/sluice/registry-ca.pem"},
			RequestTimeout: 5 * time.Second,
		},
		Avro:        AvroConfig{UnsignedBigint: "long", Mapping: "v2"},
		Transforms:  TransformsConfig{MaskWith: "****"},
		ConnectJSON: ConnectJSONConfig{DecimalFormat: "base64"},
		Routing:     RoutingConfig{KeyField: "__source_table"},
		Log:         LogConfig{Level: "debug", Format: "json"},
		Admin:       AdminConfig{Listen: "127.0.0.1:9180", ReadyMaxLag: time.Minute},
		Leadership:  LeadershipConfig{SessionTimeout: 10 * time.Second},
	}
}

func TestLoadConfigLayers(t *testing.T) {
	const file = "testdata/sluice.yaml"
	tests := []struct {
		name string
		path string
		args []string
		env  []string
		want func(c *Config)
	}{
		{
			name: "file only",
			path: file,
			want: func(c *Config) {},
		},
		{
			name: "file from SLUICE_CONFIG",
			env:  []string{"SLUICE_CONFIG=" + file},
			want: func(c *Config) {},
		},
		{
			name: "file from --config",
			path: "does-not-exist.yaml",
			args: []string{"--config", file},
			env:  []string{"SLUICE_CONFIG=does-not-exist-either.yaml"},
			want: func(c *Config) {},
		},
		{
			name: "env overrides file",
			path: file,
			env: []string{
				"SLUICE_SOURCE_HOST=db2.internal",
				"SLUICE_SOURCE_PORT=3308",
				"SLUICE_KAFKA_BROKERS=k1:9092, k2:9092",
				"SLUICE_TABLES_INCLUDE=a.*,b.c",
				"SLUICE_TABLES_KEYS=a.t=x:y,a.u=z",
				"SLUICE_KAFKA_TOPIC_CONFIG=cleanup.policy=compact,delete,retention.ms=-1",
				"SLUICE_KAFKA_LINGER=0s",
				"SLUICE_KAFKA_REPLICATION_FACTOR=-1",
				"SLUICE_SOURCE_SERVER_ID=4242",
				"SLUICE_LOG_LEVEL=",            // empty counts as unset
				"SLUICE_SERVICE_HOST=10.0.0.1", // Kubernetes' for a Service named sluice: no warning
				"OTHER=1",
			},
			want: func(c *Config) {
				c.Source.Host = "db2.internal"
				c.Source.Port = 3308
				c.Kafka.Brokers = []string{"k1:9092", "k2:9092"}
				c.Tables.Include = []string{"a.*", "b.c"}
				c.Tables.Keys = map[string][]string{"a.t": {"x", "y"}, "a.u": {"z"}}
				c.Kafka.TopicConfig = map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "-1"}
				c.Kafka.Linger = 0
				c.Kafka.ReplicationFactor = -1
				c.Source.ServerID = 4242
			},
		},
		{
			name: "flag overrides env and file",
			path: file,
			env:  []string{"SLUICE_SOURCE_HOST=db2.internal", "SLUICE_KAFKA_PARTITIONS=3"},
			args: []string{
				"--source.host=db3.internal",
				"-kafka.partitions", "12",
				"--tables.include=x.*", "--tables.include", "y.*",
				"--kafka.topic_config=a=1", "--kafka.topic_config=b=2",
				"--snapshot.mode=never",
				"--name", "other",
			},
			want: func(c *Config) {
				c.Source.Host = "db3.internal"
				c.Kafka.Partitions = 12
				c.Tables.Include = []string{"x.*", "y.*"}
				c.Kafka.TopicConfig = map[string]string{"a": "1", "b": "2"}
				c.Snapshot.Mode = "never"
				c.Name = "other"
				c.Source.ServerID = deriveServerID("other")
			},
		},
		{
			name: "defaults without a file",
			env:  minimalEnv,
			want: func(c *Config) {
				*c = Config{
					Name: "sluice",
					Source: SourceConfig{Type: "mysql", Host: "127.0.0.1", Port: 3306, User: "sluice",
						ServerID: deriveServerID("sluice"), ConnectTimeout: 10 * time.Second, Streaming: true, TLS: SourceTLSConfig{Mode: "preferred"}},
					Tables:   TablesConfig{Include: []string{"shop.*"}},
					Snapshot: SnapshotConfig{Mode: "initial"},
					Kafka: KafkaConfig{Brokers: []string{"127.0.0.1:9092"}, TopicPrefix: "sluice",
						Partitions: 1, ReplicationFactor: -1, CheckpointTopic: "sluice.checkpoints",
						CheckpointInterval: time.Second, MaxBufferedRecords: 10000, MaxBufferedBytes: 64 << 20, MaxMessageBytes: 1000012, DeliveryTimeout: 2 * time.Minute, Compression: "lz4",
						Linger: 5 * time.Millisecond, ClientID: "sluice"},
					Format:         "avro",
					SchemaRegistry: SchemaRegistryConfig{URLs: []string{"https://127.0.0.1:8081"}, RequestTimeout: 10 * time.Second},
					Avro:           AvroConfig{UnsignedBigint: "decimal", Mapping: "v2"},
					Transforms:     TransformsConfig{MaskWith: "****"},
					ConnectJSON:    ConnectJSONConfig{DecimalFormat: "base64"},
					Routing:        RoutingConfig{KeyField: "__source_table"},
					Log:            LogConfig{Level: "info", Format: "text"},
					Admin:          AdminConfig{Listen: "127.0.0.1:9180", ReadyMaxLag: time.Minute},
					Leadership:     LeadershipConfig{SessionTimeout: 10 * time.Second},
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(tt.path, tt.args, tt.env)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := testdataConfig()
			tt.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("config differs\n got: %#v\nwant: %#v", got, want)
			}
		})
	}
}

func TestFileKeepsDefaultsForMissingAndNullKeys(t *testing.T) {
	p := writeFile(t, "sluice.yaml", "source:\n  host: ~\n  port:\nkafka:\n")
	c, err := Load(p, nil, minimalEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Host != "127.0.0.1" || c.Source.Port != 3306 || c.Kafka.Linger != 5*time.Millisecond {
		t.Errorf("defaults lost: host %q port %d linger %v", c.Source.Host, c.Source.Port, c.Kafka.Linger)
	}
}

func TestFileAnchorsAndMergeKeys(t *testing.T) {
	p := writeFile(t, "sluice.yaml", `
common: &brokers ["k1:9092"]
`)
	// "common" is not a setting: anchors must live inside known keys.
	if _, err := Load(p, nil, minimalEnv); err == nil || !strings.Contains(err.Error(), "unknown key common") {
		t.Fatalf("want unknown key error, got %v", err)
	}
	p = writeFile(t, "sluice.yaml", `
tables:
  include: &inc ["shop.*"]
  exclude: *inc
log: &log
  level: warn
  format: json
kafka:
  <<: {compression: gzip, linger: 1s}
  linger: 2s
`)
	c, err := Load(p, nil, minimalEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Tables.Exclude, []string{"shop.*"}) || c.Log.Level != "warn" ||
		c.Kafka.Compression != "gzip" || c.Kafka.Linger != 2*time.Second {
		t.Errorf("anchors or merge keys not applied: %+v %+v %+v", c.Tables, c.Log, c.Kafka)
	}
}

func TestPasswordSources(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret from file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		file    string
		env     []string
		args    []string
		want    string
		wantErr string
	}{
		{name: "from file key", file: "source:\n  password_file: " + pwFile + "\n", want: "s3cret from file"},
		{name: "from env file", env: []string{"SLUICE_SOURCE_PASSWORD_FILE=" + pwFile}, want: "s3cret from file"},
		{name: "from env", env: []string{"SLUICE_SOURCE_PASSWORD=from env"}, want: "from env"},
		{name: "from config", file: "source:\n  password: 12345\n", want: "12345"},
		{name: "flag beats env", env: []string{"SLUICE_SOURCE_PASSWORD=from env"}, args: []string{"--source.password=from flag"}, want: "from flag"},
		{name: "both", file: "source:\n  password_file: " + pwFile + "\n", env: []string{"SLUICE_SOURCE_PASSWORD=x"},
			wantErr: "source.password and source.password_file are both set"},
		{name: "missing file", env: []string{"SLUICE_SOURCE_PASSWORD_FILE=" + filepath.Join(dir, "nope")},
			wantErr: "source.password_file: open " + filepath.Join(dir, "nope") + ": no such file or directory; make the file readable"},
		{name: "empty file", env: []string{"SLUICE_SOURCE_PASSWORD_FILE=" + empty}, wantErr: "source.password_file: " + empty + " is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, "sluice.yaml", tt.file)
			}
			c, err := Load(path, tt.args, append(slicesClone(minimalEnv), tt.env...))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Source.Password.Reveal(); got != tt.want {
				t.Errorf("password = %q, want %q", got, tt.want)
			}
		})
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// TestPasswordNeverShown prints a loaded config every way a program might and
// provokes errors with a password set; the password must appear nowhere.
func TestPasswordNeverShown(t *testing.T) {
	const pw = "hunter2-Zq9"
	env := append(slicesClone(minimalEnv), "SLUICE_SOURCE_PASSWORD="+pw)
	c, err := Load("testdata/sluice.yaml", nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Password.Reveal() != pw {
		t.Fatal("password not loaded")
	}

	var outputs []string
	for _, v := range []any{c, *c, c.Source, c.Source.Password, &c.Source.Password} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %[1]v"} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
		outputs = append(outputs, fmt.Sprint(v), fmt.Sprintln(v))
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		y, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(j), string(y))
	}
	outputs = append(outputs, c.Redacted())
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var b bytes.Buffer
		l := slog.New(h(&b))
		l.Info("start", "config", c, "source", c.Source, "password", c.Source.Password)
		l.Info("start", slog.Any("config", *c), slog.Group("g", "pw", c.Source.Password))
		outputs = append(outputs, b.String())
	}
	for _, out := range outputs {
		if strings.Contains(out, pw) || strings.Contains(out, fmt.Sprintf("%x", pw)) {
			t.Fatalf("password shown in %q", out)
		}
	}
	if !strings.Contains(c.Redacted(), "password: '[redacted]'") {
		t.Errorf("Redacted() does not mark the password:\n%s", c.Redacted())
	}
	if got := fmt.Sprintf("%#v", NewSecret(pw)); got != `config.Secret("[redacted]")` {
		t.Errorf("%%#v = %s", got)
	}
	if got := fmt.Sprint(NewSecret("")); got != "" {
		t.Errorf("empty secret prints %q", got)
	}

	// Errors, with the password set from each source.
	bad := []struct {
		file string
		env  []string
		args []string
	}{
		{file: "source:\n  password: " + pw + "\n  port: abc\n"},
		{file: "source:\n  password: [" + pw + "]\n"},
		{file: "source:\n  password: {" + pw + ": 1}\n"},
		{file: "source:\n  password: " + pw + "\n    host: x\n"},
		{file: "source:\n  pasword: " + pw + "\n"},
		{file: "source:\n  password: " + pw + "\n", env: []string{"SLUICE_SOURCE_PASSWORD_FILE=/nonexistent"}},
		{file: "source:\n  password: " + pw + "\nsnapshot:\n  mode: sometimes\n"},
		{env: []string{"SLUICE_SOURCE_PASSWORD=" + pw, "SLUICE_SOURCE_PORT=x"}},
		{args: []string{"--source.password=" + pw, "--source.port=x"}},
		{args: []string{"--source.password", pw, "--nope"}},
		{args: []string{"--source.password", pw, "extra"}},
		{args: []string{"--source.password=", pw}},
		{args: []string{"---source.password=" + pw}},
		{args: []string{"--source.password=" + pw}, env: []string{"SLUICE_KAFKA_BROKERS=bad"}},
	}
	for i, b := range bad {
		path := ""
		if b.file != "" {
			path = writeFile(t, "sluice.yaml", b.file)
		}
		_, err := Load(path, b.args, append(slicesClone(minimalEnv), b.env...))
		if err == nil {
			t.Fatalf("case %d: want an error", i)
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("case %d: password in error: %v", i, err)
		}
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // each must appear in the error, after "config <path>: "
	}{
		{
			name: "bad indentation",
			yaml: "source:\n  host: db1\n    port: 3306\n",
			want: []string{"line 3: mapping values are not allowed in this context; check the indentation"},
		},
		{
			name: "bad indentation of a section",
			yaml: "source:\n  host: db1\n port: 3306\n",
			want: []string{"line 2: did not find expected key; check the indentation"},
		},
		{
			name: "tabs",
			yaml: "source:\n\thost: db1\n",
			want: []string{"line 2: found character that cannot start any token; indent with spaces, YAML does not allow tabs"},
		},
		{
			name: "unknown key with suggestion",
			yaml: "name: a\nsource:\n  type: mysql\n  hots: db1\n",
			want: []string{"line 4: unknown key source.hots (did you mean source.host?)"},
		},
		{
			name: "unknown key in the wrong section",
			yaml: "source:\n  brokers: [a:1]\n",
			want: []string{"line 2: unknown key source.brokers (did you mean kafka.brokers?)"},
		},
		{
			name: "unknown top-level key",
			yaml: "sorce:\n  host: db1\nzzz: 1\n",
			want: []string{"line 1: unknown key sorce (did you mean source?)", "line 3: unknown key zzz\n"},
		},
		{
			name: "wrong type",
			yaml: "source:\n  host: db1\n  port: abc\n",
			want: []string{`line 3: source.port: want an integer, got "abc"`},
		},
		{
			name: "all problems at once",
			yaml: "source:\n  port: 70000x\n  connect_timeout: 10\nkafka:\n  partitions: [1]\n  replication_factor: 40000\n  brokers: k1:9092\ntables: yes\n",
			want: []string{
				`line 2: source.port: want an integer, got "70000x"`,
				`line 3: source.connect_timeout: want a duration such as 10s, 500ms or 1m30s, got "10"`,
				`line 5: kafka.partitions: want an integer from -2147483648 to 2147483647, got a list`,
				`line 6: kafka.replication_factor: want an integer from -32768 to 32767, got "40000"`,
				`line 7: kafka.brokers: want a list of strings, got "k1:9092"`,
				`line 8: tables: want a mapping of settings, got a single value`,
			},
		},
		{
			name: "duplicate key",
			yaml: "log:\n  level: info\n  level: debug\n",
			want: []string{"line 3: log.level is set twice (first at line 2); keep one"},
		},
		{
			// yaml.v3 would truncate these to 3, 3306, 1000 and 2.
			name: "float for an integer",
			yaml: "kafka:\n  partitions: 3.5\n  replication_factor: !!float 2\n  max_buffered_bytes: .inf\nsource:\n  port: 3306.0\n  server_id: 1e3\n  connect_timeout: 1.5\n",
			want: []string{
				`line 2: kafka.partitions: want an integer from -2147483648 to 2147483647, got "3.5"`,
				`line 3: kafka.replication_factor: want an integer from -32768 to 32767, got "2"`,
				`line 4: kafka.max_buffered_bytes: want an integer, got ".inf"`,
				`line 6: source.port: want an integer, got "3306.0"`,
				`line 7: source.server_id: want an integer from 0 to 4294967295, got "1e3"`,
				`line 8: source.connect_timeout: want a duration such as 10s, 500ms or 1m30s, got "1.5"`,
			},
		},
		{
			name: "empty key",
			yaml: "\"\": 1\nsource:\n  \"\": x\n",
			want: []string{"line 1: a key is empty; name a setting or remove it", "line 3: a key is empty; name a setting or remove it"},
		},
		{
			// Config's unexported field is no setting.
			name: "warnings is no key",
			yaml: "warnings: [x]\n",
			want: []string{"line 1: unknown key warnings\n"},
		},
		{
			name: "not a mapping",
			yaml: "- a\n- b\n",
			want: []string{"line 1: want a mapping of settings such as \"source:\" at the top, got a list"},
		},
		{
			name: "two documents",
			yaml: "name: a\n---\nname: b\n",
			want: []string{"line 2: a second YAML document starts here"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "sluice.yaml", tt.yaml)
			_, err := Load(p, nil, minimalEnv)
			if err == nil {
				t.Fatal("want an error")
			}
			msg := err.Error() + "\n"
			for _, w := range tt.want {
				if !strings.Contains(msg, "config "+p+": "+w) {
					t.Errorf("error\n%s\nwants to contain\nconfig %s: %s", msg, p, w)
				}
			}
			if n := strings.Count(msg, "\n"); n != len(tt.want) {
				t.Errorf("error has %d lines, want %d:\n%s", n, len(tt.want), msg)
			}
		})
	}
}

func TestEmptyAndCommentOnlyFiles(t *testing.T) {
	for _, content := range []string{"", "# nothing\n", "---\n", "~\n"} {
		p := writeFile(t, "sluice.yaml", content)
		if _, err := Load(p, nil, minimalEnv); err != nil {
			t.Errorf("%q: %v", content, err)
		}
	}
}

func TestMissingConfigFile(t *testing.T) {
	_, err := Load("nope.yaml", nil, minimalEnv)
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "read config: open nope.yaml") {
		t.Fatalf("got %v", err)
	}
}

func TestEnvAndFlagErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   []string
		want  string
		exact bool // the whole error is want
	}{
		{name: "env int", env: []string{"SLUICE_SOURCE_PORT=abc"}, want: `SLUICE_SOURCE_PORT: want an integer, got "abc"`},
		{name: "env duration", env: []string{"SLUICE_KAFKA_LINGER=5"}, want: `SLUICE_KAFKA_LINGER: want a duration such as 10s, 500ms or 1m30s, got "5"`},
		{name: "env map", env: []string{"SLUICE_TABLES_KEYS=shop.t"}, want: "SLUICE_TABLES_KEYS: want db.table=column:column pairs"},
		{name: "env uint32", env: []string{"SLUICE_SOURCE_SERVER_ID=-1"}, want: `SLUICE_SOURCE_SERVER_ID: want an integer from 0 to 4294967295, got "-1"`},
		{name: "flag int16", args: []string{"--kafka.replication_factor=99999"}, want: `--kafka.replication_factor: want an integer from -32768 to 32767, got "99999"`},
		{name: "env float int32", env: []string{"SLUICE_KAFKA_PARTITIONS=3.5"}, want: `SLUICE_KAFKA_PARTITIONS: want an integer from -2147483648 to 2147483647, got "3.5"`, exact: true},
		{name: "env float int", env: []string{"SLUICE_SOURCE_PORT=3306.0"}, want: `SLUICE_SOURCE_PORT: want an integer, got "3306.0"`, exact: true},
		{name: "flag float uint32", args: []string{"--source.server_id=1e3"}, want: `--source.server_id: want an integer from 0 to 4294967295, got "1e3"`, exact: true},
		{name: "flag float int16", args: []string{"--kafka.replication_factor=2.0"}, want: `--kafka.replication_factor: want an integer from -32768 to 32767, got "2.0"`, exact: true},
		{name: "unknown flag warnings", args: []string{"--warnings=x"}, want: "unknown flag --warnings; see --help for the list", exact: true},
		{name: "unknown flag", args: []string{"--source.hots=x"}, want: "unknown flag --source.hots (did you mean --source.host?)"},
		{name: "unknown flag by last part", args: []string{"--brokers=x"}, want: "unknown flag --brokers (did you mean --kafka.brokers?)"},
		{name: "unknown flag far off", args: []string{"--zzzzzz"}, want: "unknown flag --zzzzzz; see --help for the list"},
		{name: "flag without value", args: []string{"--source.host"}, want: "flag needs an argument"},
		{name: "positional", args: []string{"--source.host=x", "extra"}, want: `unexpected argument "extra" (argument 2)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", tt.args, append(slicesClone(minimalEnv), tt.env...))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
			if tt.exact && err.Error() != tt.want {
				t.Errorf("error = %q, want exactly %q", err, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		if _, err := Load("", []string{arg}, nil); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s: got %v, want flag.ErrHelp", arg, err)
		}
	}
}

func TestValidateCollectsAllProblems(t *testing.T) {
	c := defaultConfig()
	c.Name = "my source"
	c.Source.Type = "oracle"
	c.Source.Port = 0
	c.Source.Flavor = "percona"
	c.Tables.Exclude = []string{"shop.[", "orders"}
	c.Tables.ExcludeColumns = []string{"shop.t"}
	c.Tables.Keys = map[string][]string{"shop.log": nil}
	c.Snapshot.Mode = "sometimes"
	c.Kafka.Brokers = []string{"localhost", "h:99999"}
	c.Kafka.Partitions = 0
	c.Kafka.ReplicationFactor = 0
	c.Kafka.TopicConfig = map[string]string{"cleanup.policy": "delete"}
	c.Kafka.CheckpointTopic = "bad topic"
	c.Kafka.Compression = "brotli"
	c.Format = "xml"
	c.Log.Level = "trace"
	c.Log.Format = "logfmt"

	err := c.Validate()
	if err == nil {
		t.Fatal("want problems")
	}
	want := []string{
		`name: "my source" may hold only letters, digits`,
		`source.type: "oracle" is not one of mysql`,
		`source.port: 0 is not a port; use 1 to 65535, e.g. 3306`,
		`source.user: required; set the database user sluice connects as`,
		`source.flavor: "percona" is not one of mysql, mariadb`,
		`tables.include: at least one pattern is required, e.g. ["shop.*"]`,
		`tables.exclude: "shop.[" is not a valid pattern (syntax error in pattern); use * and ? globs`,
		`tables.exclude: "orders" is not of the form db.table`,
		`tables.exclude_columns: "shop.t" is not of the form db.table.column`,
		`tables.keys: "shop.log" needs a list of key column names, e.g. shop.log: [id]`,
		`snapshot.mode: "sometimes" is not one of initial, never, when_needed, always, initial_only`,
		`kafka.brokers: "localhost" is not host:port, e.g. 127.0.0.1:9092`,
		`kafka.brokers: "h:99999" has no valid port`,
		`kafka.partitions: must be at least 1`,
		`kafka.replication_factor: must be -1 (broker default) or at least 1`,
		`kafka.topic_config: cleanup.policy "delete" would drop rows`,
		`kafka.checkpoint_topic: "bad topic" is not a valid topic name`,
		`kafka.compression: "brotli" is not one of none, gzip, snappy, lz4, zstd`,
		`format: "xml" is not one of avro, json`,
		`log.level: "trace" is not one of debug, info, warn, error`,
		`log.format: "logfmt" is not one of text, json`,
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in\n%s", w, msg)
		}
	}
	if n := len(strings.Split(msg, "\n")); n != len(want) {
		t.Errorf("%d problems, want %d:\n%s", n, len(want), msg)
	}

	// Through Load the required settings are named too.
	_, err = Load("", nil, nil)
	for _, w := range []string{"source.type: required", "source.user: required", "tables.include: at least one", "kafka.brokers: required"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Load with nothing set: error %v lacks %q", err, w)
		}
	}
}

func TestDeriveServerID(t *testing.T) {
	seen := map[uint32]string{}
	for _, name := range []string{"", "sluice", "orders-db", "a", "b", strings.Repeat("x", 300)} {
		id := deriveServerID(name)
		if id < 1000 || id >= 1<<31 {
			t.Errorf("%q: id %d out of [1000, 2^31)", name, id)
		}
		if id != deriveServerID(name) {
			t.Errorf("%q: id not stable", name)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("%q and %q share id %d", name, other, id)
		}
		seen[id] = name
	}
}

func TestEverySettingHasHelpAndValidDefault(t *testing.T) {
	for _, s := range settings() {
		if s.help == "" {
			t.Errorf("%s has no help tag", s.key)
		}
		if s.def != "" {
			if _, err := parseValue(s.typ, s.def); err != nil {
				t.Errorf("%s: default %q: %v", s.key, s.def, err)
			}
		}
	}
}

func TestFlagUsageListsEverySetting(t *testing.T) {
	var b bytes.Buffer
	FlagUsage(&b)
	out := b.String()
	for _, s := range settings() {
		if !strings.Contains(out, "--"+s.key+" ") || !strings.Contains(out, "env "+s.env) {
			t.Errorf("usage lacks %s / %s", s.key, s.env)
		}
		if s.def != "" && !strings.Contains(out, "default "+s.def) {
			t.Errorf("usage lacks the default of %s", s.key)
		}
	}
	if !strings.Contains(out, "--config path") || !strings.Contains(out, "SLUICE_CONFIG") {
		t.Error("usage lacks --config")
	}
}

const docsPath = "../docs/configuration.md"

// TestDocsListEverySetting keeps docs/configuration.md in step with Config:
// every key has a table row naming its flag, environment variable and
// default.
func TestDocsListEverySetting(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for line := range strings.SplitSeq(string(data), "\n") {
		if m := regexp.MustCompile("^\\| `([a-z_.]+)` \\|").FindStringSubmatch(line); m != nil {
			rows[m[1]] = line
		}
	}
	for _, s := range settings() {
		row, ok := rows[s.key]
		if !ok {
			t.Errorf("%s has no row in %s", s.key, docsPath)
			continue
		}
		for _, w := range []string{"`--" + s.key + "`", "`" + s.env + "`"} {
			if !strings.Contains(row, w) {
				t.Errorf("%s row lacks %s", s.key, w)
			}
		}
		if s.def != "" && !strings.Contains(row, "`"+s.def+"`") {
			t.Errorf("%s row lacks its default `%s`", s.key, s.def)
		}
		delete(rows, s.key)
	}
	for key := range rows {
		t.Errorf("%s documents %s, which is no setting", docsPath, key)
	}
	if !strings.Contains(string(data), "flag > environment > config file > default") {
		t.Error("docs lack the precedence rule")
	}
}

// TestDocsExampleLoads loads the full example of docs/configuration.md.
func TestDocsExampleLoads(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "## Full example\n\n```yaml\n")
	if !ok {
		t.Fatal("no yaml block under ## Full example")
	}
	example, _, _ := strings.Cut(after, "```")
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	salt := filepath.Join(t.TempDir(), "salt")
	if err := os.WriteFile(salt, []byte("a long and random salt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	example = strings.Replace(example, "/run/secrets/mysql-password", pw, 1)
	example = strings.Replace(example, "/run/secrets/hash-salt", salt, 1)
	p := writeFile(t, "sluice.yaml", example)
	c, err := Load(p, nil, nil)
	if err != nil {
		t.Fatalf("docs example does not load: %v", err)
	}
	if c.Source.Password.Reveal() != "x" || len(c.Kafka.Brokers) != 3 ||
		c.Transforms.HashSalt.Reveal() != "a long and random salt" || c.Transforms.Truncate["shop.orders.comment"] != 200 {
		t.Errorf("docs example loaded wrongly: %+v", c)
	}
}

func TestSchemaRegistrySettings(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("registry secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"SLUICE_SOURCE_TYPE=mysql", "SLUICE_SOURCE_USER=sluice", "SLUICE_TABLES_INCLUDE=shop.*", "SLUICE_KAFKA_BROKERS=127.0.0.1:9092"}
	tests := []struct {
		name    string
		file    string
		env     []string
		args    []string
		check   func(t *testing.T, c *Config)
		wantErr []string
	}{
		{name: "avro is the default and needs a registry",
			wantErr: []string{`schema_registry.urls: required when format is avro; set the registry's address, e.g. ["http://127.0.0.1:8081"], or choose format: json`}},
		{name: "json needs no registry", env: []string{"SLUICE_FORMAT=json"},
			check: func(t *testing.T, c *Config) {
				if c.Format != "json" || len(c.SchemaRegistry.URLs) != 0 {
					t.Errorf("format %q urls %v", c.Format, c.SchemaRegistry.URLs)
				}
			}},
		{name: "urls from the environment", env: []string{"SLUICE_SCHEMA_REGISTRY_URLS=http://r1:8081, http://r2:8081/base"},
			check: func(t *testing.T, c *Config) {
				if !reflect.DeepEqual(c.SchemaRegistry.URLs, []string{"http://r1:8081", "http://r2:8081/base"}) || c.Format != "avro" ||
					c.SchemaRegistry.RequestTimeout != 10*time.Second || c.Avro.UnsignedBigint != "decimal" {
					t.Errorf("got %+v %+v", c.SchemaRegistry, c.Avro)
				}
			}},
		{name: "full file", file: `
schema_registry:
  urls: ["https://r1:8081"]
  username: key
  password_file: ` + pwFile + `
  tls:
    ca_file: /ca.pem
    cert_file: /c.pem
    key_file: /k.pem
    insecure_skip_verify: true
  request_timeout: 3s
avro:
  unsigned_bigint: long
`, check: func(t *testing.T, c *Config) {
			r := c.SchemaRegistry
			if r.Username != "key" || r.Password.Reveal() != "registry secret" || r.RequestTimeout != 3*time.Second ||
				r.TLS != (TLSConfig{CAFile: "/ca.pem", CertFile: "/c.pem", KeyFile: "/k.pem", InsecureSkipVerify: true}) ||
				c.Avro.UnsignedBigint != "long" {
				t.Errorf("got %+v %+v", r, c.Avro)
			}
		}},
		{name: "bare bool flag", env: []string{"SLUICE_SCHEMA_REGISTRY_URLS=https://r:1"},
			args: []string{"--schema_registry.tls.insecure_skip_verify", "--format", "avro"},
			check: func(t *testing.T, c *Config) {
				if !c.SchemaRegistry.TLS.InsecureSkipVerify || c.Format != "avro" {
					t.Errorf("got %+v format %q", c.SchemaRegistry.TLS, c.Format)
				}
			}},
		{name: "bool flag false", env: []string{"SLUICE_SCHEMA_REGISTRY_URLS=https://r:1", "SLUICE_SCHEMA_REGISTRY_TLS_INSECURE_SKIP_VERIFY=true"},
			args: []string{"--schema_registry.tls.insecure_skip_verify=false"},
			check: func(t *testing.T, c *Config) {
				if c.SchemaRegistry.TLS.InsecureSkipVerify {
					t.Error("flag false did not override the environment's true")
				}
			}},
		{name: "bad bool env", env: []string{"SLUICE_SCHEMA_REGISTRY_TLS_INSECURE_SKIP_VERIFY=maybe"},
			wantErr: []string{`SLUICE_SCHEMA_REGISTRY_TLS_INSECURE_SKIP_VERIFY: want true or false, got "maybe"`}},
		{name: "bad bool file", file: "schema_registry:\n  tls:\n    insecure_skip_verify: sometimes\n",
			wantErr: []string{`line 3: schema_registry.tls.insecure_skip_verify: want true or false, got "sometimes"`}},
		{name: "bad urls", env: []string{"SLUICE_SCHEMA_REGISTRY_URLS=registry:8081,ftp://r,https://,http://r:1/?x=1"},
			wantErr: []string{
				`schema_registry.urls: "registry:8081" is not an http:// or https:// URL, e.g. http://127.0.0.1:8081`,
				`schema_registry.urls: "ftp://r" is not an http:// or https:// URL`,
				`schema_registry.urls: "https://" is not an http:// or https:// URL`,
				`schema_registry.urls: "http://r:1/?x=1" has a query or fragment`,
			}},
		{name: "credentials in the url", env: []string{"SLUICE_SCHEMA_REGISTRY_URLS=https://key:hunter2@r:8081"},
			wantErr: []string{`schema_registry.urls: "https://key:xxxxx@r:8081" holds credentials; set schema_registry.username and schema_registry.password instead`}},
		{name: "password without user", env: []string{"SLUICE_SCHEMA_REGISTRY_URLS=http://r:1", "SLUICE_SCHEMA_REGISTRY_PASSWORD=x"},
			wantErr: []string{"schema_registry.username: required when schema_registry.password is set"}},
		{name: "user without password", env: []string{"SLUICE_SCHEMA_REGISTRY_URLS=http://r:1", "SLUICE_SCHEMA_REGISTRY_USERNAME=x"},
			wantErr: []string{"schema_registry.password: required when schema_registry.username is set; set it or schema_registry.password_file"}},
		{name: "password and file", env: []string{"SLUICE_SCHEMA_REGISTRY_PASSWORD=x", "SLUICE_SCHEMA_REGISTRY_PASSWORD_FILE=" + pwFile},
			wantErr: []string{"schema_registry.password and schema_registry.password_file are both set; keep only one"}},
		{name: "missing password file", env: []string{"SLUICE_SCHEMA_REGISTRY_PASSWORD_FILE=" + filepath.Join(dir, "nope")},
			wantErr: []string{"schema_registry.password_file: open " + filepath.Join(dir, "nope") + ": no such file or directory"}},
		{name: "cert without key", env: []string{"SLUICE_SCHEMA_REGISTRY_URLS=https://r:1", "SLUICE_SCHEMA_REGISTRY_TLS_CERT_FILE=/c.pem"},
			wantErr: []string{"schema_registry.tls: cert_file and key_file go together"}},
		{name: "tls over http", env: []string{"SLUICE_SCHEMA_REGISTRY_URLS=http://r:1", "SLUICE_SCHEMA_REGISTRY_TLS_CA_FILE=/ca.pem"},
			wantErr: []string{"schema_registry.tls: is set but no URL in schema_registry.urls is https://; use https:// URLs or remove the tls settings"}},
		{name: "timeout and unsigned bigint", env: []string{"SLUICE_SCHEMA_REGISTRY_URLS=http://r:1", "SLUICE_SCHEMA_REGISTRY_REQUEST_TIMEOUT=0s", "SLUICE_AVRO_UNSIGNED_BIGINT=string"},
			wantErr: []string{"schema_registry.request_timeout: must be positive, e.g. 10s", `avro.unsigned_bigint: "string" is not one of decimal, long`}},
		{name: "unknown key suggests", file: "schema_registry:\n  url: http://r:1\n",
			wantErr: []string{"line 2: unknown key schema_registry.url (did you mean schema_registry.urls?)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, "sluice.yaml", tt.file)
			}
			c, err := Load(path, tt.args, append(slicesClone(base), tt.env...))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("want an error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error\n%v\nlacks %q", err, w)
					}
				}
				if n := len(strings.Split(err.Error(), "\n")); n != len(tt.wantErr) {
					t.Errorf("%d problems, want %d:\n%v", n, len(tt.wantErr), err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("password in error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// TestRegistryPasswordNeverShown: the registry password is a Secret like
// the database's.
func TestRegistryPasswordNeverShown(t *testing.T) {
	const pw = "reg-Pw-7731"
	env := append(slicesClone(minimalEnv), "SLUICE_SCHEMA_REGISTRY_USERNAME=u", "SLUICE_SCHEMA_REGISTRY_PASSWORD="+pw)
	c, err := Load("", nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.SchemaRegistry.Password.Reveal() != pw {
		t.Fatal("password not loaded")
	}
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("start", "config", c)
	j, _ := json.Marshal(c)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v", c, *c, c.SchemaRegistry), c.Redacted(), b.String(), string(j)} {
		if strings.Contains(out, pw) {
			t.Fatalf("password shown in %q", out)
		}
	}
	_, err = Load("", []string{"--schema_registry.password=" + pw, "--schema_registry.request_timeout=x"}, env)
	if err == nil || strings.Contains(err.Error(), pw) {
		t.Errorf("error %v", err)
	}
}

// TestDeploySamplesLoad keeps the sample configurations under deploy/
// valid: the plain ones and the one inside the Kubernetes ConfigMap.
func TestDeploySamplesLoad(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plain, err := os.ReadFile("../deploy/sluice.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	k8s, err := os.ReadFile("../deploy/kubernetes/sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var fromConfigMap string
	dec := yaml.NewDecoder(bytes.NewReader(k8s))
	for {
		var doc struct {
			Kind string
			Data map[string]string
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if doc.Kind == "ConfigMap" {
			fromConfigMap = doc.Data["sluice.yaml"]
		}
	}
	if fromConfigMap == "" {
		t.Fatal("no sluice.yaml in the sidecar's ConfigMap")
	}
	pgSample, err := os.ReadFile("../deploy/sluice.postgresql.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"sluice.example.yaml": string(plain), "sidecar.yaml": fromConfigMap,
		"sluice.postgresql.example.yaml": string(pgSample)} {
		text = strings.ReplaceAll(text, "/run/secrets/sluice-password", pw)
		c, err := Load(writeFile(t, "sluice.yaml", text), nil, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.Format != "avro" || len(c.SchemaRegistry.URLs) != 1 {
			t.Errorf("%s: format %q, registry %v", name, c.Format, c.SchemaRegistry.URLs)
		}
	}
}
