package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed PEM certificate and its PKCS#8 key into
// dir and returns their paths.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func minimalJSON() []string { return append(slicesClone(minimalEnv), "SLUICE_FORMAT=json") }

// TestKafkaSecuritySettings: kafka.tls and kafka.sasl load from the file,
// the environment and flags, and every bad combination is its own error.
func TestKafkaSecuritySettings(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "sasl-password")
	if err := os.WriteFile(pwFile, []byte("s3cret-sasl\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, "sluice.yaml", `
kafka:
  tls:
    enabled: true
    ca_file: /etc/kafka/ca.pem
    server_name: broker.internal
  sasl:
    mechanism: SCRAM-SHA-512
    username: sluice
    password_file: `+pwFile+`
`)
	c, err := Load(p, nil, minimalJSON())
	if err != nil {
		t.Fatal(err)
	}
	k := c.Kafka
	if !k.TLS.Enabled || k.TLS.CAFile != "/etc/kafka/ca.pem" || k.TLS.ServerName != "broker.internal" ||
		k.SASL.Mechanism != "SCRAM-SHA-512" || k.SASL.Username != "sluice" || k.SASL.Password.Reveal() != "s3cret-sasl" {
		t.Errorf("loaded %+v", k)
	}
	if out := c.Redacted() + fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(out, "s3cret-sasl") {
		t.Error("the SASL password is printed")
	}

	for _, tt := range []struct {
		name string
		env  []string
		args []string
		file string
		want []string
	}{
		{name: "tls settings without enabled", env: []string{"SLUICE_KAFKA_TLS_CA_FILE=/ca.pem"},
			want: []string{"kafka.tls: ca_file, cert_file, key_file, server_name or insecure_skip_verify is set but kafka.tls.enabled is false; set kafka.tls.enabled: true, or remove them"}},
		{name: "cert without key", args: []string{"--kafka.tls.enabled", "--kafka.tls.cert_file=/c.pem"},
			want: []string{"kafka.tls: cert_file and key_file go together; set both for a client certificate, or neither"}},
		{name: "user without mechanism", env: []string{"SLUICE_KAFKA_SASL_USERNAME=sluice"},
			want: []string{"kafka.sasl.mechanism: required when kafka.sasl.username, password or token_file is set; one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, AWS_MSK_IAM"}},
		{name: "lower-case mechanism", env: []string{"SLUICE_KAFKA_SASL_MECHANISM=scram-sha-512", "SLUICE_KAFKA_SASL_USERNAME=u", "SLUICE_KAFKA_SASL_PASSWORD=p"},
			want: []string{`kafka.sasl.mechanism: "scram-sha-512" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, AWS_MSK_IAM (did you mean SCRAM-SHA-512?)`}},
		{name: "unknown mechanism", env: []string{"SLUICE_KAFKA_SASL_MECHANISM=GSSAPI"},
			want: []string{`kafka.sasl.mechanism: "GSSAPI" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`}},
		{name: "mechanism without credentials", env: []string{"SLUICE_KAFKA_SASL_MECHANISM=PLAIN"},
			want: []string{"kafka.sasl.username: required for SASL PLAIN; set the user sluice authenticates as",
				"kafka.sasl.password: required for SASL PLAIN; set kafka.sasl.password_file or SLUICE_KAFKA_SASL_PASSWORD"}},
		{name: "password and file", env: []string{"SLUICE_KAFKA_SASL_PASSWORD=x", "SLUICE_KAFKA_SASL_PASSWORD_FILE=" + pwFile},
			want: []string{"kafka.sasl.password and kafka.sasl.password_file are both set; keep only one"}},
		{name: "oauthbearer needs a token file", env: []string{"SLUICE_KAFKA_SASL_MECHANISM=OAUTHBEARER"},
			want: []string{"kafka.sasl.token_file: required for SASL OAUTHBEARER; name the file holding the bearer token"}},
		{name: "oauthbearer takes no password", env: []string{"SLUICE_KAFKA_SASL_MECHANISM=OAUTHBEARER", "SLUICE_KAFKA_SASL_TOKEN_FILE=/t", "SLUICE_KAFKA_SASL_USERNAME=u"},
			want: []string{"kafka.sasl: username and password do not apply to OAUTHBEARER; remove them"}},
		{name: "msk iam needs tls", env: []string{"SLUICE_KAFKA_SASL_MECHANISM=AWS_MSK_IAM"},
			want: []string{"kafka.tls.enabled: must be true for SASL AWS_MSK_IAM: MSK offers IAM authentication on its TLS listener (port 9098) only"}},
		{name: "token file with scram", env: []string{"SLUICE_KAFKA_SASL_MECHANISM=SCRAM-SHA-256", "SLUICE_KAFKA_SASL_USERNAME=u", "SLUICE_KAFKA_SASL_PASSWORD=p", "SLUICE_KAFKA_SASL_TOKEN_FILE=/t"},
			want: []string{"kafka.sasl.token_file: applies to OAUTHBEARER only; remove it for SCRAM-SHA-256"}},
		{name: "unknown tls key suggests", file: "kafka:\n  tls:\n    ca_fle: /ca.pem\n",
			want: []string{"line 3: unknown key kafka.tls.ca_fle (did you mean kafka.tls.ca_file?)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, "sluice.yaml", tt.file)
			}
			_, err := Load(path, tt.args, append(minimalJSON(), tt.env...))
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nlacks %q", err, w)
				}
			}
			if n := len(strings.Split(err.Error(), "\n")); n != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", n, len(tt.want), err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("password in error: %v", err)
			}
		})
	}
}

// TestCheckFiles: the TLS files are read before any connection, and each
// problem names the setting.
func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	notPEM := writeFile(t, "not.pem", "hello")
	load := func(args ...string) *Config {
		t.Helper()
		c, err := Load("", append([]string{"--format=json", "--kafka.tls.enabled"}, args...), minimalEnv)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := load("--kafka.tls.ca_file="+cert, "--kafka.tls.cert_file="+cert, "--kafka.tls.key_file="+key).CheckFiles(); err != nil {
		t.Errorf("good files: %v", err)
	}
	if err := load().CheckFiles(); err != nil {
		t.Errorf("system roots: %v", err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--kafka.tls.ca_file=" + filepath.Join(dir, "missing.pem")}, "kafka.tls.ca_file: open " + filepath.Join(dir, "missing.pem") + ": no such file or directory; make the file readable by the user sluice runs as"},
		{[]string{"--kafka.tls.ca_file=" + notPEM}, "kafka.tls.ca_file: " + notPEM + " holds no PEM certificate; give the CA certificate in PEM form"},
		{[]string{"--kafka.tls.cert_file=" + cert, "--kafka.tls.key_file=" + notPEM}, "kafka.tls.cert_file and key_file: "},
	} {
		if err := load(tt.args...).CheckFiles(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	// The registry's files count only where the registry is used.
	c, err := Load("", []string{"--format=avro", "--schema_registry.urls=https://r:1", "--schema_registry.tls.ca_file=" + notPEM}, minimalEnv)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckFiles(); err == nil || !strings.Contains(err.Error(), "schema_registry.tls.ca_file: "+notPEM+" holds no PEM certificate") {
		t.Errorf("registry ca_file: %v", err)
	}
}

// TestSourceTLSSettings: source.tls.mode defaults to preferred on mysql,
// and settings that contradict the mode or the source type are errors.
func TestSourceTLSSettings(t *testing.T) {
	c, err := Load("", nil, minimalJSON())
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.TLS.Mode != "preferred" {
		t.Errorf("default mode %q, want preferred", c.Source.TLS.Mode)
	}
	pg := []string{"SLUICE_SOURCE_TYPE=postgresql", "SLUICE_SOURCE_DATABASE=shop", "SLUICE_TABLES_INCLUDE=public.*"}
	for _, tt := range []struct {
		name string
		env  []string
		want []string
	}{
		{"unknown mode", []string{"SLUICE_SOURCE_TLS_MODE=VERIFY_FULL"},
			[]string{`source.tls.mode: "VERIFY_FULL" is not one of disabled, preferred, required, verify_ca, verify_identity`}},
		{"files with tls disabled", []string{"SLUICE_SOURCE_TLS_MODE=disabled", "SLUICE_SOURCE_TLS_CA_FILE=/ca.pem"},
			[]string{"source.tls: files or options are set but source.tls.mode is disabled; choose required, verify_ca or verify_identity, or remove them"}},
		{"skip verify contradicts verify", []string{"SLUICE_SOURCE_TLS_MODE=verify_identity", "SLUICE_SOURCE_TLS_INSECURE_SKIP_VERIFY=true"},
			[]string{"source.tls.insecure_skip_verify: contradicts source.tls.mode verify_identity, which verifies the server's certificate; remove one"}},
		{"cert without key", []string{"SLUICE_SOURCE_TLS_MODE=required", "SLUICE_SOURCE_TLS_CERT_FILE=/c.pem"},
			[]string{"source.tls: cert_file and key_file go together; set both for a client certificate, or neither"}},
		{"mode on postgresql", append(slicesClone(pg), "SLUICE_SOURCE_TLS_MODE=required"),
			[]string{"source.tls.mode: applies to mysql only; for postgresql set source.sslmode (disable, allow, prefer, require, verify-ca, verify-full)"}},
		{"ca twice on postgresql", append(slicesClone(pg), "SLUICE_SOURCE_TLS_CA_FILE=/a.pem", "SLUICE_SOURCE_SSLROOTCERT=/b.pem"),
			[]string{"source.tls.ca_file: and source.sslrootcert name the same file for postgresql; keep only one"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", nil, append(minimalJSON(), tt.env...))
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nlacks %q", err, w)
				}
			}
			if n := len(strings.Split(err.Error(), "\n")); n != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", n, len(tt.want), err)
			}
		})
	}
}

// TestClientCertificateRotation: a client certificate rewritten in place
// is used from the next handshake on; a half-written pair keeps the last
// good one.
func TestClientCertificateRotation(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	tc, err := TLSConfig{CertFile: certFile, KeyFile: keyFile}.Load("kafka.tls")
	if err != nil {
		t.Fatal(err)
	}
	get := func() []byte {
		t.Helper()
		c, err := tc.GetClientCertificate(nil)
		if err != nil || c == nil {
			t.Fatalf("GetClientCertificate: %v %v", c, err)
		}
		return c.Certificate[0]
	}
	first := get()
	newCert, newKey := writeCert(t, t.TempDir())
	for _, f := range [][2]string{{newCert, certFile}, {newKey, keyFile}} {
		data, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	second := get()
	if string(second) == string(first) {
		t.Fatal("the rotated certificate is not used")
	}
	if err := os.WriteFile(keyFile, []byte("half written"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := get(); string(got) != string(second) {
		t.Error("a broken pair replaced the last good certificate")
	}
}
