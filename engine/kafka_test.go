package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/config"
)

func TestSASLMechanisms(t *testing.T) {
	for _, m := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} { // OAUTHBEARER and AWS_MSK_IAM below
		got, err := saslMechanism(config.KafkaSASLConfig{Mechanism: m, Username: "u", Password: config.NewSecret("p")})
		if err != nil || got == nil || got.Name() != m {
			t.Errorf("%s: %v %v", m, got, err)
		}
	}
	if got, err := saslMechanism(config.KafkaSASLConfig{}); got != nil || err != nil {
		t.Errorf("no mechanism: %v %v", got, err)
	}
}

// TestNewReadsTLSFiles: a kafka.tls file that cannot be read fails New,
// before any connection.
func TestNewReadsTLSFiles(t *testing.T) {
	c := newCluster(t)
	missing := filepath.Join(t.TempDir(), "ca.pem")
	_, err := New(testConfig(t, c, "--kafka.tls.enabled", "--kafka.tls.ca_file="+missing))
	if err == nil || !strings.Contains(err.Error(), "kafka.tls.ca_file: open "+missing) {
		t.Errorf("New: %v", err)
	}
}

// TestOAuthBearerTokenFile: the token is read at every authentication, so
// a rotated file is used at the next connection.
func TestOAuthBearerTokenFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("token-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := saslMechanism(config.KafkaSASLConfig{Mechanism: "OAUTHBEARER", TokenFile: file})
	if err != nil || m.Name() != "OAUTHBEARER" {
		t.Fatalf("%v %v", m, err)
	}
	first := func() string {
		t.Helper()
		_, msg, err := m.Authenticate(context.Background(), "127.0.0.1:9092")
		if err != nil {
			t.Fatal(err)
		}
		return string(msg)
	}
	if msg := first(); !strings.Contains(msg, "auth=Bearer token-one\x01") {
		t.Errorf("first message %q", msg)
	}
	if err := os.WriteFile(file, []byte("token-two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if msg := first(); !strings.Contains(msg, "auth=Bearer token-two\x01") {
		t.Errorf("after rotation %q", msg)
	}
	if err := os.WriteFile(file, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Authenticate(context.Background(), "127.0.0.1:9092"); err == nil || !strings.Contains(err.Error(), "kafka.sasl.token_file: "+file+" is empty") {
		t.Errorf("empty token file: %v", err)
	}
}

// TestMSKIAMCredentials: AWS_MSK_IAM signs with the credentials of the
// AWS chain (here the environment) for the region of the broker's name.
func TestMSKIAMCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIASLUICETEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-key-for-tests")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	m, err := saslMechanism(config.KafkaSASLConfig{Mechanism: "AWS_MSK_IAM"})
	if err != nil || m.Name() != "AWS_MSK_IAM" {
		t.Fatalf("%v %v", m, err)
	}
	_, msg, err := m.Authenticate(context.Background(), "b-1.shop.abc123.c2.kafka.eu-west-1.amazonaws.com:9098")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"AKIASLUICETEST/", "/eu-west-1/kafka-cluster/aws4_request", "kafka-cluster:Connect", `"user-agent":"sluice/`} {
		if !strings.Contains(string(msg), want) {
			t.Errorf("signed request lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(string(msg), "secret-key-for-tests") {
		t.Error("the secret key is sent")
	}
}
