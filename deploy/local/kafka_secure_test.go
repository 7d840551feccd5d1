//go:build integration

package local

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// secureRoundTrip creates topic, produces one record to it and reads it
// back, every request going over a client made with opts.
func secureRoundTrip(t *testing.T, ctx context.Context, topic string, opts ...kgo.Opt) {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	value := fmt.Sprintf("v-%d", time.Now().UnixNano())
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	consumer, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		fs := consumer.PollFetches(fctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume: %v", err)
		}
		for _, r := range fs.Records() {
			if string(r.Value) == value {
				return
			}
		}
	}
}

// pingErr returns the error of a metadata request over a client made with
// opts, with no retries and at most 20 seconds.
func pingErr(ctx context.Context, opts ...kgo.Opt) error {
	cl, err := kgo.NewClient(append(opts, kgo.RequestRetries(0), kgo.RetryTimeout(5*time.Second))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

func TestKafkaSecure(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	pki, err := NewTestPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// bob's password holds every character KafkaSecurity allows besides
	// letters and digits.
	users := map[string]string{"alice": "alice-secret", "bob": "b0b!#$%&'()*+-./:;<=>?@[]^_`{|}~"}
	dir := t.TempDir()
	start := time.Now()
	k, err := StartKafka(ctx, KafkaOptions{Dir: dir, Secure: &KafkaSecurity{PKI: pki, ScramUsers: users}})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	t.Logf("started in %v: PLAINTEXT %s, SASL_SSL %s, MTLS %s", time.Since(start).Round(time.Millisecond), k.Bootstrap(), k.SASLSSLBootstrap(), k.MTLSBootstrap())
	if k.SASLSSLBootstrap() == "" || k.MTLSBootstrap() == "" || k.SASLSSLBootstrap() == k.MTLSBootstrap() || k.SASLSSLBootstrap() == k.Bootstrap() {
		t.Fatalf("bootstraps: PLAINTEXT %s, SASL_SSL %s, MTLS %s", k.Bootstrap(), k.SASLSSLBootstrap(), k.MTLSBootstrap())
	}

	// SASL_SSL clients present no certificate: SASL alone authenticates.
	saslTLS := pki.ClientTLS()
	saslTLS.Certificates = nil
	overSASL := func(m sasl.Mechanism) []kgo.Opt {
		return []kgo.Opt{kgo.SeedBrokers(k.SASLSSLBootstrap()), kgo.DialTLSConfig(saslTLS.Clone()), kgo.SASL(m)}
	}
	mtls := []kgo.Opt{kgo.SeedBrokers(k.MTLSBootstrap()), kgo.DialTLSConfig(pki.ClientTLS())}

	t.Run("plaintext", func(t *testing.T) {
		secureRoundTrip(t, ctx, "secure-plaintext", kgo.SeedBrokers(k.Bootstrap()))
	})
	t.Run("scram-sha-512", func(t *testing.T) {
		secureRoundTrip(t, ctx, "secure-scram-512", overSASL(scram.Auth{User: "alice", Pass: users["alice"]}.AsSha512Mechanism())...)
	})
	t.Run("scram-sha-256", func(t *testing.T) {
		secureRoundTrip(t, ctx, "secure-scram-256", overSASL(scram.Auth{User: "bob", Pass: users["bob"]}.AsSha256Mechanism())...)
	})
	t.Run("plain", func(t *testing.T) {
		secureRoundTrip(t, ctx, "secure-plain", overSASL(plain.Auth{User: "bob", Pass: users["bob"]}.AsMechanism())...)
	})
	t.Run("mtls", func(t *testing.T) {
		secureRoundTrip(t, ctx, "secure-mtls", mtls...)
	})

	t.Run("wrong password", func(t *testing.T) {
		for name, m := range map[string]sasl.Mechanism{
			"SCRAM-SHA-512": scram.Auth{User: "alice", Pass: "wrong"}.AsSha512Mechanism(),
			"SCRAM-SHA-256": scram.Auth{User: "alice", Pass: "wrong"}.AsSha256Mechanism(),
			"PLAIN":         plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism(),
			"unknown user":  scram.Auth{User: "mallory", Pass: "alice-secret"}.AsSha512Mechanism(),
		} {
			err := pingErr(ctx, overSASL(m)...)
			if !errors.Is(err, kerr.SaslAuthenticationFailed) {
				t.Errorf("%s: want SASL_AUTHENTICATION_FAILED, got %v", name, err)
			} else {
				t.Logf("%s: %v", name, err)
			}
		}
	})
	t.Run("no SASL on SASL_SSL", func(t *testing.T) {
		if err := pingErr(ctx, kgo.SeedBrokers(k.SASLSSLBootstrap()), kgo.DialTLSConfig(saslTLS.Clone())); err == nil {
			t.Error("a client without SASL got an answer from the SASL_SSL listener")
		} else {
			t.Logf("without SASL: %v", err)
		}
	})
	t.Run("mtls without certificate", func(t *testing.T) {
		// The broker refuses the handshake: with TLS 1.3 the client sees
		// the broker's alert on its first read.
		noCert := pki.ClientTLS()
		noCert.Certificates = nil
		c, err := tls.Dial("tcp", k.MTLSBootstrap(), noCert)
		if err == nil {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "remote error: tls:") {
			t.Errorf("TLS without a client certificate: want a TLS alert from the broker, got %v", err)
		} else {
			t.Logf("TLS without a client certificate: %v", err)
		}
		if err := pingErr(ctx, kgo.SeedBrokers(k.MTLSBootstrap()), kgo.DialTLSConfig(noCert)); err == nil || !strings.Contains(err.Error(), "remote error: tls:") {
			t.Errorf("franz-go without a client certificate: want a TLS alert from the broker, got %v", err)
		} else {
			t.Logf("franz-go without a client certificate: %v", err)
		}
	})
	t.Run("unknown CA", func(t *testing.T) {
		b, err := os.ReadFile(pki.OtherCAFile)
		if err != nil {
			t.Fatal(err)
		}
		other := pki.ClientTLS()
		other.RootCAs = x509.NewCertPool()
		other.RootCAs.AppendCertsFromPEM(b)
		err = pingErr(ctx, kgo.SeedBrokers(k.MTLSBootstrap()), kgo.DialTLSConfig(other))
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Errorf("client trusting only the other CA: want an unknown-authority error, got %v", err)
		}
	})

	t.Run("restart keeps ports", func(t *testing.T) {
		before := []string{k.Bootstrap(), k.SASLSSLBootstrap(), k.MTLSBootstrap()}
		if err := k.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		after := []string{k.Bootstrap(), k.SASLSSLBootstrap(), k.MTLSBootstrap()}
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Errorf("addresses moved from %v to %v", before, after)
		}
		if err := pingErr(ctx, overSASL(scram.Auth{User: "alice", Pass: users["alice"]}.AsSha512Mechanism())...); err != nil {
			t.Errorf("SCRAM-SHA-512 after Restart: %v", err)
		}
		if err := pingErr(ctx, mtls...); err != nil {
			t.Errorf("mTLS after Restart: %v", err)
		}
	})

	if err := k.Stop(); err != nil {
		t.Fatal(err)
	}
	if ps := processesUsing(t, dir); len(ps) > 0 {
		t.Errorf("processes left behind: %q", ps)
	}
}
