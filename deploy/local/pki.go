package local

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TestPKI is a throwaway public-key infrastructure made by [NewTestPKI]: a
// CA, a server certificate it signed for localhost and 127.0.0.1, a client
// certificate it signed, and an unrelated CA that signed nothing. Every key
// is ECDSA P-256, written unencrypted as PKCS#8 ("PRIVATE KEY") PEM, the
// form both Go and Java read; every certificate is valid from an hour
// before NewTestPKI ran until a day after it.
//
// The fields are the paths of the files in the directory NewTestPKI was
// given. Nothing is kept secret: the keys are for tests on loopback only.
type TestPKI struct {
	// Dir is the directory that holds the files.
	Dir string
	// CAFile (ca.pem) is the CA certificate; CAKey (ca-key.pem) its key.
	CAFile, CAKey string
	// ServerCert (server.pem) is the server certificate, for DNS name
	// "localhost" and IP address 127.0.0.1, with server-auth usage;
	// ServerKey (server-key.pem) its key.
	ServerCert, ServerKey string
	// ServerKeyStore (server-keystore.pem) holds ServerKey followed by
	// ServerCert and the CA certificate: what Kafka reads with
	// ssl.keystore.type=PEM and ssl.keystore.location (Kafka 3.3 and later
	// accept an unencrypted key there when ssl.key.password is not set).
	ServerKeyStore string
	// ClientCert (client.pem) is the client certificate, common name
	// "sluice-client", with client-auth usage; ClientKey (client-key.pem)
	// its key.
	ClientCert, ClientKey string
	// OtherCAFile (other-ca.pem) is a CA certificate that signed nothing,
	// for tests that a peer with an unknown CA is refused. Its key is not
	// written.
	OtherCAFile string

	roots  *x509.CertPool
	client tls.Certificate
}

// pkiValidity is how long the certificates of a [TestPKI] are valid after
// NewTestPKI; they are valid from an hour before it, to absorb clock skew.
const pkiValidity = 24 * time.Hour

// NewTestPKI generates a new [TestPKI] and writes its PEM files into dir,
// which it creates if missing, replacing files of the same names. Keys are
// written with mode 0600, certificates with 0644. It blocks only for the
// key generation and the writes (milliseconds); an error names the step or
// the file that failed.
func NewTestPKI(dir string) (*TestPKI, error) {
	if dir == "" {
		return nil, errors.New("new test pki: empty directory (pass one, such as t.TempDir())")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("new test pki: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("new test pki: %w", err)
	}
	p := &TestPKI{
		Dir:            abs,
		CAFile:         filepath.Join(abs, "ca.pem"),
		CAKey:          filepath.Join(abs, "ca-key.pem"),
		ServerCert:     filepath.Join(abs, "server.pem"),
		ServerKey:      filepath.Join(abs, "server-key.pem"),
		ServerKeyStore: filepath.Join(abs, "server-keystore.pem"),
		ClientCert:     filepath.Join(abs, "client.pem"),
		ClientKey:      filepath.Join(abs, "client-key.pem"),
		OtherCAFile:    filepath.Join(abs, "other-ca.pem"),
	}
	now := time.Now()
	notBefore, notAfter := now.Add(-time.Hour), now.Add(pkiValidity)

	caTemplate := func(cn string) *x509.Certificate {
		return &x509.Certificate{
			Subject:               pkix.Name{CommonName: cn, Organization: []string{"sluice tests"}},
			NotBefore:             notBefore,
			NotAfter:              notAfter,
			IsCA:                  true,
			BasicConstraintsValid: true,
			MaxPathLenZero:        true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
	}
	caDER, caKey, err := newCert(caTemplate("sluice test CA"), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("new test pki: CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("new test pki: CA: %w", err)
	}
	serverDER, serverKey, err := newCert(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost", Organization: []string{"sluice tests"}},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, caKey)
	if err != nil {
		return nil, fmt.Errorf("new test pki: server certificate: %w", err)
	}
	clientDER, clientKey, err := newCert(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "sluice-client", Organization: []string{"sluice tests"}},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, caKey)
	if err != nil {
		return nil, fmt.Errorf("new test pki: client certificate: %w", err)
	}
	otherDER, _, err := newCert(caTemplate("sluice test other CA"), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("new test pki: other CA: %w", err)
	}

	caPEM, serverPEM, clientPEM := certPEM(caDER), certPEM(serverDER), certPEM(clientDER)
	var keyPEM [3][]byte
	for i, k := range []*ecdsa.PrivateKey{caKey, serverKey, clientKey} {
		if keyPEM[i], err = pkcs8PEM(k); err != nil {
			return nil, fmt.Errorf("new test pki: %w", err)
		}
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{p.CAFile, caPEM, 0o644},
		{p.CAKey, keyPEM[0], 0o600},
		{p.ServerCert, serverPEM, 0o644},
		{p.ServerKey, keyPEM[1], 0o600},
		{p.ServerKeyStore, concat(keyPEM[1], serverPEM, caPEM), 0o600},
		{p.ClientCert, clientPEM, 0o644},
		{p.ClientKey, keyPEM[2], 0o600},
		{p.OtherCAFile, certPEM(otherDER), 0o644},
	}
	for _, f := range files {
		if err := writeFileMode(f.path, f.data, f.mode); err != nil {
			return nil, fmt.Errorf("new test pki: %w", err)
		}
	}
	p.roots = x509.NewCertPool()
	p.roots.AddCert(ca)
	p.client = tls.Certificate{Certificate: [][]byte{clientDER, caDER}, PrivateKey: clientKey}
	return p, nil
}

// ClientTLS returns a new TLS configuration for Go clients of a server
// using this PKI: it trusts only the CA and presents the client certificate
// when the server asks for one. ServerName is left empty; franz-go fills in
// the host it dials (127.0.0.1 matches the server certificate's IP
// address). Each call returns a separate configuration the caller may
// change.
func (p *TestPKI) ClientTLS() *tls.Config {
	return &tls.Config{
		RootCAs:      p.roots.Clone(),
		Certificates: []tls.Certificate{p.client},
		MinVersion:   tls.VersionTLS12,
	}
}

// newCert generates a P-256 key and a certificate for it from template,
// signed by parent's key, or self-signed when parent is nil. It fills in
// the serial number. It returns the certificate in DER form.
func newCert(template, parent *x509.Certificate, parentKey crypto.Signer) ([]byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generate serial number: %w", err)
	}
	template.SerialNumber = serial
	if parent == nil {
		parent, parentKey = template, key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate: %w", err)
	}
	return der, key, nil
}

// certPEM encodes a DER certificate as a PEM "CERTIFICATE" block.
func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// pkcs8PEM encodes key as an unencrypted PKCS#8 "PRIVATE KEY" PEM block.
func pkcs8PEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key as PKCS#8: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// concat joins byte slices into a new one.
func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// writeFileMode writes data to path and sets mode even when path existed
// with another one.
func writeFileMode(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}
