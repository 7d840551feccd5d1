package sink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/tlserr"
)

// connectError names the cause and the fix of a failed first request to
// the brokers: TLS and SASL failures each get their own message, anything
// else is "unreachable". It decides from error types and Kafka error codes,
// and, when a broker answered but not as Kafka over the configured
// security, from a TLS handshake with the first broker (speaksTLS), which
// blocks for at most probeTimeout.
func connectError(ctx context.Context, cfg Config, err error) error {
	brokers := strings.Join(cfg.Brokers, ",")
	if cerr := tlserr.Error("kafka at "+brokers, "broker", err, map[tlserr.Kind]string{
		tlserr.UnknownCA: "set kafka.tls.ca_file to the CA certificate that signed it",
		tlserr.WrongName: "connect by a name the certificate carries, or set kafka.tls.server_name to it",
	}); cerr != nil {
		return cerr
	}
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return fmt.Errorf("kafka at %s refused the SASL %s credentials (%w): check kafka.sasl.username and kafka.sasl.password; for SCRAM the user must exist on the cluster with a SCRAM credential for this mechanism",
			brokers, mechanismName(cfg), err)
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("kafka at %s does not offer SASL %s on this listener (%w): set kafka.sasl.mechanism to one the listener enables (sasl.enabled.mechanisms)",
			brokers, mechanismName(cfg), err)
	case tlserr.Classify(err) == tlserr.NotTLS:
		return fmt.Errorf("kafka at %s did not answer in TLS (%w): the listener is PLAINTEXT or SASL_PLAINTEXT; set kafka.tls.enabled: false or use the port of the SSL / SASL_SSL listener", brokers, err)
	case cfg.TLS != nil && isTLSAlert(err):
		return fmt.Errorf("kafka at %s refused the TLS handshake (%w): if the listener requires a client certificate (ssl.client.auth=required) set kafka.tls.cert_file and key_file to one signed by a CA the broker trusts", brokers, err)
	}
	if answered(err) {
		// Something listens but the first request failed: ask the port
		// itself whether it speaks TLS.
		speaks := speaksTLS(ctx, cfg.Brokers[0], cfg.TLS)
		switch {
		case cfg.TLS == nil && speaks:
			return fmt.Errorf("kafka at %s speaks TLS and sluice connected without it (%w): set kafka.tls.enabled: true (with kafka.tls.ca_file when a private CA signs the broker's certificate)", brokers, err)
		case cfg.TLS != nil && !speaks:
			return fmt.Errorf("kafka at %s does not speak TLS (%w): the listener is PLAINTEXT or SASL_PLAINTEXT; set kafka.tls.enabled: false or use the port of the SSL / SASL_SSL listener", brokers, err)
		case cfg.SASL == nil && isFirstReadEOF(err):
			return fmt.Errorf("kafka at %s closed the connection at sluice's first request (%w): the listener wants SASL (SASL_SSL or SASL_PLAINTEXT); set kafka.sasl.mechanism, username and password", brokers, err)
		}
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

// probeTimeout bounds the diagnostic TLS handshake of speaksTLS.
const probeTimeout = 3 * time.Second

// answered reports whether err comes after the broker accepted the
// connection: anything but a failed dial.
func answered(err error) bool {
	var op *net.OpError
	return !(errors.As(err, &op) && op.Op == "dial")
}

// isFirstReadEOF reports whether the broker closed the connection at the
// client's first request.
func isFirstReadEOF(err error) bool {
	var fe *kgo.ErrFirstReadEOF
	return errors.As(err, &fe)
}

// speaksTLS reports whether the listener at addr takes a TLS handshake: it
// completes, or the server ends it with an alert (a client certificate it
// wants). Certificates are not checked; the client certificate of base, if
// any, is presented. The connection is closed without a Kafka request.
func speaksTLS(ctx context.Context, addr string, base *tls.Config) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} // a probe: it sends nothing over the connection
	if base != nil {
		cfg.Certificates = base.Certificates
	}
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		conn.Close()
		return true
	}
	return isTLSAlert(err)
}
