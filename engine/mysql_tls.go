package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/snapshot"
)

// mysqlTLS turns source.tls into the crypto/tls configuration of every
// MySQL/MariaDB connection, the snapshot's and the binlog's alike; nil
// means plain text. Mode preferred asks the server, once, whether it
// offers TLS (snapshot.OffersTLS, without logging in) and is then
// required or disabled; offered says which.
func mysqlTLS(ctx context.Context, cfg *config.Config) (t *tls.Config, offered bool, err error) {
	s := &cfg.Source
	mode := s.TLS.Mode
	if mode == "disabled" {
		return nil, false, nil
	}
	if mode == "preferred" {
		addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
		ok, err := snapshot.OffersTLS(ctx, addr, s.ConnectTimeout)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			return nil, false, nil
		}
	}
	t, err = s.TLS.Load("source.tls")
	if err != nil {
		return nil, false, err
	}
	switch mode {
	case "preferred", "required":
		// Encrypted, not verified: what the mysql client's modes of these
		// names do.
		t.InsecureSkipVerify = true
	case "verify_ca":
		// The chain must lead to a trusted CA; the name is not checked.
		roots := t.RootCAs
		t.InsecureSkipVerify = true
		t.VerifyConnection = func(cs tls.ConnectionState) error { return verifyChain(cs, roots) }
	case "verify_identity":
		if t.ServerName == "" {
			t.ServerName = s.Host
		}
	}
	return t, true, nil
}

// verifyChain checks the server's certificate chain against roots (the
// system's when nil) without looking at its names.
func verifyChain(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: the server sent no certificate")
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
	}
	return nil
}

// describeTLS says, for the start-up log, how the MySQL connections are
// secured.
func describeTLS(mode string, t *tls.Config) string {
	switch {
	case t == nil && mode == "preferred":
		return "plain text: the server offers no TLS (source.tls.mode preferred)"
	case t == nil:
		return "plain text (source.tls.mode disabled)"
	}
	return fmt.Sprintf("TLS (source.tls.mode %s)", mode)
}
