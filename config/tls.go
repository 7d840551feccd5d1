package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// Load builds the crypto/tls configuration these settings describe: the CA
// certificates to verify the server with (the system's when ca_file is
// empty), the client certificate for mutual TLS, the server name to expect
// and, for tests only, no verification. key is the settings' prefix, such
// as "kafka.tls", which every error names together with the fix. It reads
// the files and connects nothing; errors never contain a key's content.
func (t TLSConfig) Load(key string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w; make the file readable by the user sluice runs as", key, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file: %s holds no PEM certificate; give the CA certificate in PEM form", key, t.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file and key_file: %w; give a PEM certificate and its private key", key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case t.CertFile != "" || t.KeyFile != "":
		return nil, fmt.Errorf("%s: cert_file and key_file go together; set both for a client certificate, or neither", key)
	}
	return cfg, nil
}
