package tlserr

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("dial: %w", &tls.CertificateVerificationError{Err: err}) }
	for _, tt := range []struct {
		err       error
		kind      Kind
		permanent bool
	}{
		{wrap(x509.UnknownAuthorityError{}), UnknownCA, true},
		{wrap(x509.HostnameError{Host: "db"}), WrongName, true},
		{wrap(x509.CertificateInvalidError{Reason: x509.Expired}), Expired, true},
		{wrap(x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign}), None, true},
		{fmt.Errorf("handshake: %w", tls.RecordHeaderError{}), NotTLS, false},
		{io.EOF, None, false},
	} {
		if got := Classify(tt.err); got != tt.kind {
			t.Errorf("Classify(%v) = %d, want %d", tt.err, got, tt.kind)
		}
		if got := Permanent(tt.err); got != tt.permanent {
			t.Errorf("Permanent(%v) = %v, want %v", tt.err, got, tt.permanent)
		}
	}
}

func TestError(t *testing.T) {
	fix := map[Kind]string{UnknownCA: "set x.ca_file"}
	err := wrapCA()
	got := Error("kafka at b:9093", "broker", err, fix)
	want := "kafka at b:9093: TLS: the broker's certificate is signed by a CA sluice does not trust (" + err.Error() + "): set x.ca_file"
	if got == nil || got.Error() != want || !errors.Is(got, err) {
		t.Errorf("got %v\nwant %s", got, want)
	}
	expired := &tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.Expired}}
	if got := Error("mysql db:3306", "server", expired, fix); got == nil ||
		got.Error() != "mysql db:3306: TLS: the server's certificate has expired or is not valid yet ("+expired.Error()+"): renew the server's certificate, or check this host's clock" {
		t.Errorf("expired: %v", got)
	}
	if got := Error("p", "server", &tls.CertificateVerificationError{Err: x509.HostnameError{}}, fix); got != nil {
		t.Errorf("no fix given: %v, want nil", got)
	}
	if got := Error("p", "server", io.EOF, fix); got != nil {
		t.Errorf("no certificate problem: %v", got)
	}
}

func wrapCA() error { return &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}} }
