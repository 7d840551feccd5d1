package sink

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// connectError names the cause and the fix of a failed first request to
// the brokers: TLS and SASL failures each get their own message, anything
// else is "unreachable". It decides from error types and Kafka error codes.
func connectError(cfg Config, err error) error {
	brokers := strings.Join(cfg.Brokers, ",")
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		notTLS    tls.RecordHeaderError
	)
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return fmt.Errorf("kafka at %s refused the SASL %s credentials (%w): check kafka.sasl.username and kafka.sasl.password; for SCRAM the user must exist on the cluster with a SCRAM credential for this mechanism",
			brokers, mechanismName(cfg), err)
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("kafka at %s does not offer SASL %s on this listener (%w): set kafka.sasl.mechanism to one the listener enables (sasl.enabled.mechanisms)",
			brokers, mechanismName(cfg), err)
	case errors.As(err, &unknownCA):
		return fmt.Errorf("kafka at %s: TLS: the broker's certificate is signed by a CA sluice does not trust (%w): set kafka.tls.ca_file to the CA certificate that signed it", brokers, err)
	case errors.As(err, &hostname):
		return fmt.Errorf("kafka at %s: TLS: the broker's certificate is not valid for the name sluice connected to (%w): connect by a name the certificate carries, or set kafka.tls.server_name to it", brokers, err)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Errorf("kafka at %s: TLS: the broker's certificate has expired or is not valid yet (%w): renew the broker's certificate, or check this host's clock", brokers, err)
	case errors.As(err, &notTLS):
		return fmt.Errorf("kafka at %s did not answer in TLS (%w): the listener is PLAINTEXT or SASL_PLAINTEXT; set kafka.tls.enabled: false or use the port of the SSL / SASL_SSL listener", brokers, err)
	case cfg.TLS == nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return fmt.Errorf("kafka at %s closed the connection (%w): if the listener uses TLS (SSL or SASL_SSL), set kafka.tls.enabled: true; if it wants SASL, set kafka.sasl", brokers, err)
	case cfg.TLS != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return fmt.Errorf("kafka at %s closed the connection during the TLS handshake (%w): the listener is likely PLAINTEXT or SASL_PLAINTEXT (set kafka.tls.enabled: false or use the port of the SSL / SASL_SSL listener), or it wants a client certificate (set kafka.tls.cert_file and key_file)", brokers, err)
	case cfg.TLS != nil && isTLSAlert(err):
		return fmt.Errorf("kafka at %s refused the TLS handshake (%w): if the listener requires a client certificate (ssl.client.auth=required) set kafka.tls.cert_file and key_file to one signed by a CA the broker trusts", brokers, err)
	}
	return fmt.Errorf("kafka unreachable at %s (%w): check kafka.brokers and that the broker is running and reachable from this host",
		brokers, err)
}

func mechanismName(cfg Config) string {
	if cfg.SASL == nil {
		return "(none)"
	}
	return cfg.SASL.Name()
}

// isTLSAlert reports whether the peer ended the handshake with an alert,
// as a server does that wants a client certificate and got none:
// crypto/tls returns a received alert as a *net.OpError whose Op is
// "remote error".
func isTLSAlert(err error) bool {
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}
