//go:build integration

package integration

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// standbyYAML makes takeovers quick: the brokers' minimum session.
const standbyYAML = "leadership:\n  session_timeout: 6s\n"

// waitRole waits until the instance at addr reports role and phase.
func waitRole(f *fixture, addr, role, phase string, within time.Duration) {
	f.t.Helper()
	f.eventually(within, role+" "+phase, func() (bool, string) {
		st, err := getStatus(addr)
		if err != nil {
			return false, err.Error()
		}
		return st.Role == role && st.Phase == phase, "role " + st.Role + ", phase " + st.Phase
	})
}

// TestStandbyTakesOverMariaDB: two instances of one name. One streams, the
// other waits as a standby and writes nothing; kill -9 of the active one,
// under load, and the standby takes over within 30 s from the committed
// checkpoint: the topic equals the table and no key's version goes back.
func TestStandbyTakesOverMariaDB(t *testing.T) {
	f := newFixture(t)
	f.createItems(2000)
	standbyTakesOver(t, f, f.config(standbyYAML), f.startWriter, f.converge)
}

func TestStandbyTakesOverPostgres(t *testing.T) {
	f := newPGFixture(t)
	f.createItems(2000)
	standbyTakesOver(t, f.fixture, f.config(standbyYAML), f.startWriter, f.converge)
}

func standbyTakesOver(t *testing.T, f *fixture, cfg string, startWriter func(int) *writer, converge func(string, string, ...string) []record) {
	a := f.sluice(cfg)
	addrA := adminAddr(t, f, a)
	waitRole(f, addrA, "active", "streaming", 60*time.Second)
	b := f.sluice(cfg)
	addrB := adminAddr(t, f, b)
	waitRole(f, addrB, "standby", "standby", 30*time.Second)
	w := startWriter(2000)
	time.Sleep(3 * time.Second)
	if st, _ := getStatus(addrB); st.Role != "standby" || st.Events != 0 {
		t.Fatalf("the standby is %s with %d events while the active one runs", st.Role, st.Events)
	}
	if st, _ := getStatus(addrA); st.Role != "active" || st.Terms != 1 {
		t.Fatalf("the active one is %s after %d terms", st.Role, st.Terms)
	}
	if !strings.Contains(b.output(), "standby: another instance with this name holds the lease") {
		t.Errorf("the standby did not log its role")
	}

	a.kill()
	killed := time.Now()
	waitRole(f, addrB, "active", "streaming", 60*time.Second)
	took := time.Since(killed)
	t.Logf("the standby streamed %s after the active instance was killed (session timeout 6s)", took.Round(100*time.Millisecond))
	if took > 30*time.Second {
		t.Errorf("takeover took %s, over the promised 30 s", took)
	}
	time.Sleep(2 * time.Second)
	w.stop()
	t.Logf("writer made %d changes", w.ops.Load())
	recs := converge("items", "id", "ver", "name", "amount")
	t.Logf("%d records, %d repeated after the takeover", len(recs), checkOrder(t, recs))
	b.stop()
}

// producerRecords reads topic as a read_committed consumer, with each
// record's producer id: the instance that wrote it.
func (f *fixture) producerRecords(topic string) []*kgo.Record {
	f.t.Helper()
	c, err := kgo.NewClient(kgo.SeedBrokers(kafka.Bootstrap()), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		f.t.Fatal(err)
	}
	defer c.Close()
	var recs []*kgo.Record
	for {
		ctx, cancel := context.WithTimeout(f.ctx, 3*time.Second)
		fs := c.PollFetches(ctx)
		idle := ctx.Err() != nil
		cancel()
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
		if idle {
			return recs
		}
	}
}

// TestStandbyFencesAFrozenActive: with kafka.exactly_once, the active
// instance is frozen (SIGSTOP: a stalled VM, a long GC pause, a network
// cut) under load. The standby takes over when the frozen one's session
// expires; woken up, the old one finds its lease lost and its producer
// fenced, and waits as a standby. A read_committed consumer sees every
// change once, and nothing the old instance wrote after the new one began.
func TestStandbyFencesAFrozenActive(t *testing.T) {
	f := newFixture(t)
	f.kafkaYAML = "  exactly_once: true\n"
	f.createItems(2000)
	cfg := f.config(standbyYAML)
	a := f.sluice(cfg)
	addrA := adminAddr(t, f, a)
	waitRole(f, addrA, "active", "streaming", 60*time.Second)
	b := f.sluice(cfg)
	addrB := adminAddr(t, f, b)
	waitRole(f, addrB, "standby", "standby", 30*time.Second)
	w := f.startWriter(2000)
	time.Sleep(2 * time.Second)

	a.cmd.Process.Signal(syscall.SIGSTOP)
	frozen := time.Now()
	waitRole(f, addrB, "active", "streaming", 60*time.Second)
	t.Logf("the standby streamed %s after the active one froze", time.Since(frozen).Round(100*time.Millisecond))
	time.Sleep(2 * time.Second)
	a.cmd.Process.Signal(syscall.SIGCONT)
	waitRole(f, addrA, "standby", "standby", 60*time.Second)
	if out := a.output(); !strings.Contains(out, "lost the lease on the name") {
		t.Errorf("the woken instance did not log the lost lease")
	}
	time.Sleep(2 * time.Second)
	w.stop()
	t.Logf("writer made %d changes", w.ops.Load())

	var recs []record
	f.eventually(90*time.Second, "the committed topic equals the table", func() (bool, string) {
		recs = f.readCommitted(f.topic("items"))
		return diffRows(f.tableRows("items", "id", "ver", "name", "amount"), f.topicRows(recs, "ver", "name", "amount"))
	})
	if dups := checkVersions(t, recs, true); dups != 0 {
		t.Errorf("a read_committed consumer saw %d records twice", dups)
	}
	// Both instances share the transactional id, so the producer id;
	// each term bumps the epoch. Once a newer epoch wrote, an older one
	// never did again.
	prs := f.producerRecords(f.topic("items"))
	var epochs []int16
	for _, r := range prs {
		n := len(epochs)
		if n > 0 && r.ProducerEpoch < epochs[n-1] {
			t.Errorf("offset %d: written by epoch %d after epoch %d had written: a fenced instance wrote", r.Offset, r.ProducerEpoch, epochs[n-1])
		}
		if n == 0 || epochs[n-1] != r.ProducerEpoch {
			epochs = append(epochs, r.ProducerEpoch)
		}
	}
	if len(epochs) < 2 {
		t.Errorf("producer epochs in offset order %v: the takeover wrote nothing", epochs)
	}
	t.Logf("%d committed records, producer epochs in offset order %v", len(prs), epochs)
	b.stop()
	a.stop()
}
