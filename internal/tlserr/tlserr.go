// Package tlserr tells which certificate problem a failed TLS connection
// had, from the error types crypto/tls and crypto/x509 return, so that
// every connection sluice makes (Kafka, MySQL/MariaDB, PostgreSQL) names
// the same causes the same way and adds the fix of its own settings. It
// never looks at error text and does no I/O.
package tlserr

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// Kind is a certificate problem.
type Kind int

// The kinds.
const (
	// None: err is no certificate problem this package knows.
	None Kind = iota
	// UnknownCA: the peer's certificate is signed by a CA not trusted.
	UnknownCA
	// WrongName: the certificate does not carry the name connected to.
	WrongName
	// Expired: the certificate has expired or is not valid yet.
	Expired
	// NotTLS: the peer answered with something that is not TLS.
	NotTLS
)

// Classify returns the kind of certificate problem in err's chain.
func Classify(err error) Kind {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		notTLS    tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknownCA):
		return UnknownCA
	case errors.As(err, &hostname):
		return WrongName
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return Expired
	case errors.As(err, &notTLS):
		return NotTLS
	}
	return None
}

// Cause says what is wrong with the certificate of peer ("server",
// "broker"), for an error message; "" for None.
func (k Kind) Cause(peer string) string {
	switch k {
	case UnknownCA:
		return "the " + peer + "'s certificate is signed by a CA sluice does not trust"
	case WrongName:
		return "the " + peer + "'s certificate is not valid for the name sluice connected to"
	case Expired:
		return "the " + peer + "'s certificate has expired or is not valid yet"
	case NotTLS:
		return "the " + peer + " did not answer in TLS"
	}
	return ""
}

// Error describes err's certificate problem as "<prefix>: TLS: <cause>
// (<err>): <fix>", with the fix the caller gives for its kind, in terms of
// its own settings; an expired certificate has a fix of its own. It
// returns nil when err is no certificate problem with a fix.
func Error(prefix, peer string, err error, fix map[Kind]string) error {
	k := Classify(err)
	f, ok := fix[k]
	if k == Expired && !ok {
		f, ok = "renew the "+peer+"'s certificate, or check this host's clock", true
	}
	if k == None || !ok {
		return nil
	}
	return fmt.Errorf("%s: TLS: %s (%w): %s", prefix, k.Cause(peer), err, f)
}

// Permanent reports whether err is a certificate the peer presented and
// sluice refuses, which stays so until someone acts (a new certificate,
// another setting): retrying cannot help.
func Permanent(err error) bool {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	return errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid)
}
