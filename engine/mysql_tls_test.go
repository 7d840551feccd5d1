package engine

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
)

func mysqlTLSConfig(t *testing.T, host string, port int, args ...string) *config.Config {
	t.Helper()
	cfg, err := config.Load("", append([]string{"--source.type=mysql", "--source.user=sluice", "--tables.include=shop.*",
		"--kafka.brokers=127.0.0.1:9", "--format=json", "--source.host=" + host, "--source.port=" + strconv.Itoa(port)}, args...), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestMySQLTLSModes: each source.tls.mode verifies what the mysql
// client's mode of that name verifies.
func TestMySQLTLSModes(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(t.TempDir(), "other.pem")
	// A CA that signed nothing the server presents: a fresh self-signed
	// certificate of another test server.
	if err := os.WriteFile(otherFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherCert(t)}), 0o600); err != nil {
		t.Fatal(err)
	}
	handshake := func(t *tls.Config) error {
		c, err := tls.Dial("tcp", addr, t)
		if err == nil {
			c.Close()
		}
		return err
	}
	ctx := context.Background()
	// The server's certificate names 127.0.0.1 and example.com; the
	// source is configured by a name it does not carry.
	for _, tt := range []struct {
		mode, ca string
		ok       bool
	}{
		{"required", "", true},
		{"verify_ca", caFile, true},
		{"verify_ca", otherFile, false},
		{"verify_identity", caFile, false},
	} {
		args := []string{"--source.tls.mode=" + tt.mode}
		if tt.ca != "" {
			args = append(args, "--source.tls.ca_file="+tt.ca)
		}
		tc, offered, err := mysqlTLS(ctx, mysqlTLSConfig(t, "db.invalid", 3306, args...))
		if err != nil || tc == nil || !offered {
			t.Fatalf("%s: %v %v", tt.mode, tc, err)
		}
		// Dialling the address, the name checked is the configured host.
		if err := handshake(tc); (err == nil) != tt.ok {
			t.Errorf("%s with ca %q: handshake error %v, want ok=%v", tt.mode, filepath.Base(tt.ca), err, tt.ok)
		} else if err != nil {
			var verr *tls.CertificateVerificationError
			if !errors.As(err, &verr) {
				t.Errorf("%s: %v is not a certificate verification error", tt.mode, err)
			}
		}
	}
	// verify_identity passes when the name matches.
	tc, _, err := mysqlTLS(ctx, mysqlTLSConfig(t, "example.com", 3306, "--source.tls.mode=verify_identity", "--source.tls.ca_file="+caFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(tc); err != nil {
		t.Errorf("verify_identity with the right name: %v", err)
	}
	if tc, _, err := mysqlTLS(ctx, mysqlTLSConfig(t, "db.invalid", 3306, "--source.tls.mode=disabled")); tc != nil || err != nil {
		t.Errorf("disabled: %v %v", tc, err)
	}

	// preferred asks the server: this one offers no TLS.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		body := append([]byte{10}, "11.4.0-MariaDB\x00"...)
		body = append(body, make([]byte, 4+8+1)...)
		body = append(body, 0x00, 0x02) // CLIENT_PROTOCOL_41 only
		c.Write(append([]byte{byte(len(body)), 0, 0, 0}, body...))
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	tc, offered, err := mysqlTLS(ctx, mysqlTLSConfig(t, "127.0.0.1", port))
	if err != nil || tc != nil || offered {
		t.Errorf("preferred against a server without TLS: %v %v %v", tc, offered, err)
	}
}

// otherCert returns a self-signed CA certificate that signed nothing the
// test server presents.
func otherCert(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
