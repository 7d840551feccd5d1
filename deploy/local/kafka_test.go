package local

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// parseProperties reads the key=value lines of a properties file.
func parseProperties(t *testing.T, s string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("line %q has no '='", l)
		}
		k = strings.TrimSpace(k)
		if _, dup := m[k]; dup {
			t.Fatalf("key %s set twice", k)
		}
		m[k] = strings.TrimSpace(v)
	}
	return m
}

func TestKafkaServerProperties(t *testing.T) {
	p := parseProperties(t, kafkaConfig{Port: 9092, ControllerPort: 9093, LogDir: "/d/data"}.render())
	for k, want := range map[string]string{
		"process.roles":                                    "broker,controller",
		"node.id":                                          "1",
		"controller.quorum.voters":                         "1@127.0.0.1:9093",
		"listeners":                                        "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
		"advertised.listeners":                             "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
		"controller.listener.names":                        "CONTROLLER",
		"listener.security.protocol.map":                   "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"log.dirs":                                         "/d/data",
		"offsets.topic.replication.factor":                 "1",
		"transaction.state.log.replication.factor":         "1",
		"transaction.state.log.min.isr":                    "1",
		"group.initial.rebalance.delay.ms":                 "0",
		"num.partitions":                                   "1",
		"auto.create.topics.enable":                        "false",
		"log.cleaner.enable":                               "true",
		"log.cleaner.backoff.ms":                           "1000",
		"share.coordinator.state.topic.replication.factor": "1",
	} {
		if p[k] != want {
			t.Errorf("%s = %q, want %q", k, p[k], want)
		}
	}
	if _, ok := p["controller.quorum.bootstrap.servers"]; ok {
		t.Error("controller.quorum.bootstrap.servers must not be set with static voters")
	}
}

func TestKafkaLog4j(t *testing.T) {
	p := parseProperties(t, kafkaLog4j("/d/kafka.log"))
	if p["appender.file.fileName"] != "/d/kafka.log" {
		t.Errorf("log file = %q", p["appender.file.fileName"])
	}
	if p["rootLogger.level"] != "warn" {
		t.Errorf("root level = %q, want warn", p["rootLogger.level"])
	}
}

func TestEscapeProperty(t *testing.T) {
	for in, want := range map[string]string{
		"/a/b":   "/a/b",
		`C:\x`:   `C:\\x`,
		" lead":  `\ lead`,
		"a=b:c ": "a=b:c ",
	} {
		if got := escapeProperty(in); got != want {
			t.Errorf("escapeProperty(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewClusterID(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		id, err := newClusterID()
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 22 || strings.HasPrefix(id, "-") {
			t.Fatalf("id %q: want 22 characters not starting with '-'", id)
		}
		b, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(b) != 16 {
			t.Fatalf("id %q does not decode to 16 bytes: %v", id, err)
		}
		if b[6]>>4 != 4 || b[8]>>6 != 2 {
			t.Fatalf("id %q is not a version-4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestKafkaPOMNamesTheJars(t *testing.T) {
	pom := string(kafkaPOM)
	for _, s := range []string{
		"<artifactId>kafka_2.13</artifactId>", "<version>" + kafkaVersion + "</version>",
		"<artifactId>log4j-slf4j2-impl</artifactId>", "<artifactId>log4j-core</artifactId>",
		"<version>2.24.3</version>", "<artifactId>slf4j-api</artifactId>", "<version>2.0.17</version>",
	} {
		if !strings.Contains(pom, s) {
			t.Errorf("pom.xml lacks %s", s)
		}
	}
}

func TestReadClusterID(t *testing.T) {
	dir := t.TempDir()
	meta := "#\n#Mon Nov 23 08:55:31 UTC 2026\nnode.id=1\ndirectory.id=abc\nversion=1\ncluster.id=Xy_z-123\n"
	if err := os.WriteFile(filepath.Join(dir, "meta.properties"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	if id, err := readClusterID(dir); err != nil || id != "Xy_z-123" {
		t.Errorf("readClusterID = %q, %v", id, err)
	}
	if _, err := readClusterID(t.TempDir()); err == nil {
		t.Error("missing meta.properties: want an error")
	}
}

func TestKafkaSecureServerProperties(t *testing.T) {
	p := parseProperties(t, kafkaConfig{
		Port: 9092, ControllerPort: 9093, SASLSSLPort: 9094, MTLSPort: 9095, LogDir: "/d/data",
		KeyStore: "/pki/server-keystore.pem", TrustStore: "/pki/ca.pem",
		Users: map[string]string{"bob": "b0b=pw", "alice": "alice-secret"},
	}.render())
	const scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
	for k, want := range map[string]string{
		"listeners":                                             "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093,SASL_SSL://127.0.0.1:9094,MTLS://127.0.0.1:9095",
		"advertised.listeners":                                  "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093,SASL_SSL://127.0.0.1:9094,MTLS://127.0.0.1:9095",
		"listener.security.protocol.map":                        "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL",
		"inter.broker.listener.name":                            "PLAINTEXT",
		"controller.listener.names":                             "CONTROLLER",
		"ssl.keystore.type":                                     "PEM",
		"ssl.keystore.location":                                 "/pki/server-keystore.pem",
		"ssl.truststore.type":                                   "PEM",
		"ssl.truststore.location":                               "/pki/ca.pem",
		"listener.name.mtls.ssl.client.auth":                    "required",
		"listener.name.sasl_ssl.sasl.enabled.mechanisms":        "SCRAM-SHA-512,SCRAM-SHA-256,PLAIN",
		"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": scram,
		"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": scram,
		"listener.name.sasl_ssl.plain.sasl.jaas.config":         `org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret" user_bob="b0b=pw";`,
	} {
		if p[k] != want {
			t.Errorf("%s = %q, want %q", k, p[k], want)
		}
	}
	for _, k := range []string{"ssl.key.password", "ssl.keystore.password", "ssl.truststore.password", "ssl.client.auth", "authorizer.class.name"} {
		if _, ok := p[k]; ok {
			t.Errorf("%s must not be set", k)
		}
	}

	plain := parseProperties(t, kafkaConfig{Port: 9092, ControllerPort: 9093, LogDir: "/d/data"}.render())
	for k := range plain {
		if strings.HasPrefix(k, "ssl.") || strings.HasPrefix(k, "listener.name.") {
			t.Errorf("without the secure listeners: %s is set", k)
		}
	}
}

func TestScramFormatArgs(t *testing.T) {
	got := scramFormatArgs(map[string]string{"bob": "b=1", "alice": "alice-secret"})
	want := []string{
		"--add-scram", "SCRAM-SHA-512=[name=alice,password=alice-secret]",
		"--add-scram", "SCRAM-SHA-256=[name=alice,password=alice-secret]",
		"--add-scram", "SCRAM-SHA-512=[name=bob,password=b=1]",
		"--add-scram", "SCRAM-SHA-256=[name=bob,password=b=1]",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("scramFormatArgs = %q, want %q", got, want)
	}
	if got := scramFormatArgs(nil); len(got) != 0 {
		t.Errorf("no users: %q", got)
	}
}

func TestKafkaSecurityCheck(t *testing.T) {
	pki, err := NewTestPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ok := &KafkaSecurity{PKI: pki, ScramUsers: map[string]string{"alice": "alice-secret", "svc.sluice@x-1_2": "p!#$%&'()*+-./:;<=>?@[]^_`{|}~"}}
	if err := ok.check(); err != nil {
		t.Errorf("valid security: %v", err)
	}
	if err := (&KafkaSecurity{PKI: pki}).check(); err != nil {
		t.Errorf("no users: %v", err)
	}
	for _, c := range []struct {
		s    *KafkaSecurity
		want string
	}{
		{&KafkaSecurity{}, "NewTestPKI"},
		{&KafkaSecurity{PKI: &TestPKI{ServerKeyStore: "/nonexistent/ks.pem", CAFile: pki.CAFile}}, "/nonexistent/ks.pem is missing"},
		{&KafkaSecurity{PKI: pki, ScramUsers: map[string]string{"": "x"}}, "user name"},
		{&KafkaSecurity{PKI: pki, ScramUsers: map[string]string{"a,b": "x"}}, "letters, digits"},
		{&KafkaSecurity{PKI: pki, ScramUsers: map[string]string{"a=b": "x"}}, "letters, digits"},
		{&KafkaSecurity{PKI: pki, ScramUsers: map[string]string{"alice": ""}}, "empty password"},
		{&KafkaSecurity{PKI: pki, ScramUsers: map[string]string{"alice": "a,b"}}, "comma"},
		{&KafkaSecurity{PKI: pki, ScramUsers: map[string]string{"alice": `a"b`}}, "double quote"},
		{&KafkaSecurity{PKI: pki, ScramUsers: map[string]string{"alice": `a\b`}}, "backslash"},
		{&KafkaSecurity{PKI: pki, ScramUsers: map[string]string{"alice": "a b"}}, "space"},
		{&KafkaSecurity{PKI: pki, ScramUsers: map[string]string{"alice": "pässword"}}, "printable ASCII"},
	} {
		if err := c.s.check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: want an error naming %q, got %v", c.s.ScramUsers, c.want, err)
		}
	}
}

func TestSecureBootstrapWithoutSecure(t *testing.T) {
	k := &Kafka{port: 9092}
	if k.SASLSSLBootstrap() != "" || k.MTLSBootstrap() != "" {
		t.Errorf("without Secure: %q %q, want empty", k.SASLSSLBootstrap(), k.MTLSBootstrap())
	}
	k = &Kafka{port: 9092, saslPort: 9094, mtlsPort: 9095}
	if k.SASLSSLBootstrap() != "127.0.0.1:9094" || k.MTLSBootstrap() != "127.0.0.1:9095" {
		t.Errorf("bootstraps = %q %q", k.SASLSSLBootstrap(), k.MTLSBootstrap())
	}
}
