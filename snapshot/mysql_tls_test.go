package snapshot

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// handshake builds an initial handshake packet (protocol 10) with the
// given lower capability flags.
func handshake(caps uint16) []byte {
	body := []byte{10}
	body = append(body, "10.11.6-MariaDB-0+deb12u1-log"...)
	body = append(body, 0)
	body = binary.LittleEndian.AppendUint32(body, 42) // thread id
	body = append(body, "abcdefgh"...)                // scramble part 1
	body = append(body, 0)                            // filler
	body = binary.LittleEndian.AppendUint16(body, caps)
	body = append(body, 33, 2, 0) // charset, status
	return body
}

func packet(body []byte) []byte {
	return append([]byte{byte(len(body)), byte(len(body) >> 8), byte(len(body) >> 16), 0}, body...)
}

func TestHandshakeOffersTLS(t *testing.T) {
	const protocol41 = uint16(mysql.CLIENT_PROTOCOL_41)
	if ok, err := handshakeOffersTLS("db:3306", handshake(protocol41|uint16(mysql.CLIENT_SSL))); err != nil || !ok {
		t.Errorf("with CLIENT_SSL: %v %v", ok, err)
	}
	if ok, err := handshakeOffersTLS("db:3306", handshake(protocol41)); err != nil || ok {
		t.Errorf("without CLIENT_SSL: %v %v", ok, err)
	}
	errPacket := append([]byte{0xff}, binary.LittleEndian.AppendUint16(nil, mysql.ER_CON_COUNT_ERROR)...)
	errPacket = append(errPacket, "Too many connections"...)
	_, err := handshakeOffersTLS("db:3306", errPacket)
	var me *mysql.MyError
	if !errors.As(err, &me) || me.Code != mysql.ER_CON_COUNT_ERROR || !strings.Contains(err.Error(), "Too many connections") {
		t.Errorf("error packet: %v", err)
	}
	if _, err := handshakeOffersTLS("db:3306", []byte("HTTP/1.1 400")); err == nil || !strings.Contains(err.Error(), "not a MySQL/MariaDB handshake") {
		t.Errorf("not mysql: %v", err)
	}
	if _, err := handshakeOffersTLS("db:3306", handshake(0)[:12]); err == nil {
		t.Error("short packet: want an error")
	}
}

// TestOffersTLS reads the handshake from a server on loopback and sends
// nothing back.
func TestOffersTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(packet(handshake(uint16(mysql.CLIENT_PROTOCOL_41 | mysql.CLIENT_SSL))))
		buf := make([]byte, 64)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _ := c.Read(buf)
		got <- n
	}()
	ok, err := OffersTLS(context.Background(), ln.Addr().String(), 5*time.Second)
	if err != nil || !ok {
		t.Fatalf("OffersTLS: %v %v", ok, err)
	}
	if n := <-got; n != 0 {
		t.Errorf("the probe sent %d bytes; it must not log in", n)
	}
}

// TestConnectErrorAccessDenied: MariaDB refuses a plain-text login under
// require_secure_transport=ON with the code of a wrong password (1045), so
// the message names TLS, and over TLS it names the client certificate a
// REQUIRE X509 user needs; the code MySQL gives plain text (3159) says so
// alone; 4151 is MariaDB's locked account, not TLS.
func TestConnectErrorAccessDenied(t *testing.T) {
	denied := fmt.Errorf("handleAuthResult: %w", &mysql.MyError{Code: mysql.ER_ACCESS_DENIED_ERROR, State: "28000",
		Message: "Access denied for user 'sluice'@'127.0.0.1' (using password: YES)"})
	withCert := &tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return nil, nil }}
	for _, tt := range []struct {
		name string
		tls  *tls.Config
		err  error
		want []string
		not  []string
	}{
		{"plain text", nil, denied,
			[]string{`access denied for user "sluice"`, "source.password", "require_secure_transport=ON", "set source.tls.mode to verify_identity", "REQUIRE SSL or X509"},
			[]string{"client certificate"}},
		{"tls without a client certificate", &tls.Config{}, denied,
			[]string{`access denied for user "sluice"`, "REQUIRE X509", "set source.tls.cert_file and source.tls.key_file"},
			[]string{"require_secure_transport", "set source.tls.mode"}},
		{"tls with a client certificate", withCert, denied,
			[]string{`access denied for user "sluice"`, "REQUIRE SUBJECT or ISSUER", "source.tls.cert_file is the certificate it names"},
			[]string{"require_secure_transport", "set source.tls.cert_file and"}},
		{"mysql requires tls", nil, &mysql.MyError{Code: 3159, Message: "Connections using insecure transport are prohibited while --require_secure_transport=ON."},
			[]string{"requires TLS (require_secure_transport=ON)", "set source.tls.mode to verify_identity"}, nil},
		{"mariadb locked account", nil, &mysql.MyError{Code: 4151, Message: "Access denied, this account is locked"},
			nil, []string{"requires TLS"}},
	} {
		msg := connectError("db:3306", "sluice", tt.tls, tt.err).Error()
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q lacks %q", tt.name, msg, w)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(msg, n) {
				t.Errorf("%s: %q should not say %q", tt.name, msg, n)
			}
		}
	}
}
