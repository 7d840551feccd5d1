package engine

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/config"
)

func TestSASLMechanisms(t *testing.T) {
	for _, m := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
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
