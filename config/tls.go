package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// Load builds the crypto/tls configuration these settings describe: the CA
// certificates to verify the server with (the system's when ca_file is
// empty), the client certificate for mutual TLS, the server name to expect
// and, for tests only, no verification. key is the settings' prefix, such
// as "kafka.tls", which every error names together with the fix. It reads
// the files and connects nothing; errors never contain a key's content.
//
// The client certificate is read again when its files change (checked at
// each TLS handshake, that is each new connection), so a certificate that
// cert-manager or a similar tool rotates in place is used without a
// restart; while the new files do not form a pair (one written, the other
// not yet), the last good pair stays in use.
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
		kp, err := newKeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file and key_file: %w; give a PEM certificate and its private key", key, err)
		}
		cfg.GetClientCertificate = kp.get
	case t.CertFile != "" || t.KeyFile != "":
		return nil, fmt.Errorf("%s: cert_file and key_file go together; set both for a client certificate, or neither", key)
	}
	return cfg, nil
}

// keyPair is a client certificate that follows its files.
type keyPair struct {
	certFile, keyFile string

	mu                sync.Mutex
	cert              *tls.Certificate
	certMod, keyMod   time.Time
	certSize, keySize int64
}

func newKeyPair(certFile, keyFile string) (*keyPair, error) {
	kp := &keyPair{certFile: certFile, keyFile: keyFile}
	if err := kp.reload(); err != nil {
		return nil, err
	}
	return kp, nil
}

// reload reads both files when either changed since the last read.
func (kp *keyPair) reload() error {
	cs, err := os.Stat(kp.certFile)
	if err != nil {
		return err
	}
	ks, err := os.Stat(kp.keyFile)
	if err != nil {
		return err
	}
	if kp.cert != nil && cs.ModTime().Equal(kp.certMod) && ks.ModTime().Equal(kp.keyMod) &&
		cs.Size() == kp.certSize && ks.Size() == kp.keySize {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(kp.certFile, kp.keyFile)
	if err != nil {
		return err
	}
	kp.cert, kp.certMod, kp.keyMod, kp.certSize, kp.keySize = &cert, cs.ModTime(), ks.ModTime(), cs.Size(), ks.Size()
	return nil
}

// get is tls.Config.GetClientCertificate: the current pair, re-read when
// the files changed; the last good pair when they cannot be read now.
func (kp *keyPair) get(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	_ = kp.reload() // a pair half-way through rotation: keep the last good one
	return kp.cert, nil
}
