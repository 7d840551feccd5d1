package snapshot

import (
	"context"
	"encoding/binary"
	"errors"
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
