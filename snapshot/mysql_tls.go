package snapshot

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// OffersTLS reports whether the MySQL/MariaDB server at addr offers TLS:
// it opens a TCP connection, reads the server's initial handshake packet
// and looks at its CLIENT_SSL capability, then closes the connection
// without logging in (no credentials are sent). It is how
// source.tls.mode preferred decides, once per start, between TLS and plain
// text. It blocks until the packet arrives or timeout passes.
func OffersTLS(ctx context.Context, addr string, timeout time.Duration) (bool, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, fmt.Errorf("mysql %s unreachable (%v): check source.host and source.port and that the server is running", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	var head [4]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return false, fmt.Errorf("mysql %s: read the server's handshake: %w", addr, err)
	}
	n := int(head[0]) | int(head[1])<<8 | int(head[2])<<16
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return false, fmt.Errorf("mysql %s: read the server's handshake: %w", addr, err)
	}
	return handshakeOffersTLS(addr, body)
}

// handshakeOffersTLS reads the CLIENT_SSL flag of an initial handshake
// packet (protocol version 10): version byte, NUL-terminated server
// version, 4-byte thread id, 8 bytes of scramble, a filler byte, then the
// lower two bytes of the capability flags. An error packet (0xff: too many
// connections, host blocked) becomes its error.
func handshakeOffersTLS(addr string, body []byte) (bool, error) {
	if len(body) > 0 && body[0] == 0xff {
		if len(body) >= 3 {
			code := binary.LittleEndian.Uint16(body[1:3])
			msg := body[3:]
			if len(msg) > 0 && msg[0] == '#' && len(msg) >= 6 {
				msg = msg[6:]
			}
			return false, fmt.Errorf("mysql %s: %w", addr, &mysql.MyError{Code: code, Message: string(msg)})
		}
		return false, fmt.Errorf("mysql %s: the server refused the connection", addr)
	}
	if len(body) == 0 || body[0] != 10 {
		return false, fmt.Errorf("mysql %s: not a MySQL/MariaDB handshake (protocol %v): check source.host and source.port", addr, body[:min(1, len(body))])
	}
	i := 1
	for i < len(body) && body[i] != 0 {
		i++
	}
	i += 1 + 4 + 8 + 1 // NUL, thread id, scramble part 1, filler
	if i+2 > len(body) {
		return false, errors.New("mysql " + addr + ": short handshake packet")
	}
	caps := binary.LittleEndian.Uint16(body[i : i+2])
	return uint32(caps)&mysql.CLIENT_SSL != 0, nil
}
