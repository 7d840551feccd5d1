//go:build integration

package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/engine"
)

// verifyRun runs `sluice verify --json` with cfg and returns its report and
// exit status.
func verifyRun(t *testing.T, f *fixture, cfg string, args ...string) (engine.VerifyReport, int, string) {
	t.Helper()
	p := f.sluice(cfg, append([]string{"verify", "--json", "--log.level=info", "--wait=90s"}, args...)...)
	err := p.wait(5 * time.Minute)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sluice verify: %v\n%s", err, p.output())
	}
	out := p.output()
	var steps []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "verify: ") {
			steps = append(steps, l)
		}
	}
	t.Logf("sluice verify %s: exit %d\n%s", strings.Join(args, " "), code, strings.Join(steps, "\n"))
	var r engine.VerifyReport
	i := strings.Index(out, "\n{")
	if strings.HasPrefix(out, "{") {
		i = 0
	}
	if i < 0 {
		if code == 2 {
			return r, code, out
		}
		t.Fatalf("sluice verify printed no report (exit %d):\n%s", code, out)
	}
	if err := json.NewDecoder(strings.NewReader(out[i:])).Decode(&r); err != nil {
		t.Fatalf("sluice verify --json: %v\n%s", err, out)
	}
	return r, code, out
}

// topicReport returns the report's entry for topic.
func topicReport(t *testing.T, r engine.VerifyReport, topic string) engine.TopicVerify {
	t.Helper()
	for _, tv := range r.Topics {
		if tv.Topic == topic {
			return tv
		}
	}
	t.Fatalf("verify reported no topic %s: %+v", topic, r)
	return engine.TopicVerify{}
}

// plantDifferences writes three records into topic beside sluice's, each
// copied from the topic itself so that it is well-formed in any format:
// for keys a, b, c of rows that exist, the value of b under key a (a
// differs) and a tombstone for c (c is missing); and the last value of a
// key whose row was deleted (it is extra).
func plantDifferences(t *testing.T, f *fixture, topic string) {
	t.Helper()
	// A deletion is a before-image record and a tombstone: the value
	// that still had the row is the one before the before-image.
	last := map[string][]byte{}
	prev, lastValue := map[string][]byte{}, map[string][]byte{}
	for _, r := range f.read(topic) {
		if r.Value != nil {
			prev[r.Key], lastValue[r.Key] = lastValue[r.Key], r.Value
		}
		last[r.Key] = r.Value
	}
	var live []string
	gone := ""
	for k, v := range last {
		switch {
		case v != nil:
			live = append(live, k)
		case prev[k] != nil && gone == "":
			gone = k
		}
	}
	sort.Strings(live)
	if len(live) < 3 || gone == "" {
		t.Fatalf("topic %s does not hold the keys to plant differences with", topic)
	}
	recs := []*kgo.Record{
		{Topic: topic, Key: []byte(live[0]), Value: last[live[1]]},
		{Topic: topic, Key: []byte(live[2])},
		{Topic: topic, Key: []byte(gone), Value: prev[gone]},
	}
	if err := f.kc.ProduceSync(f.ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// checkPlanted checks that verify found exactly the planted differences.
func checkPlanted(t *testing.T, r engine.VerifyReport, code int, out, topic string) {
	t.Helper()
	tv := topicReport(t, r, topic)
	if code != 1 || tv.Missing != 1 || tv.Extra != 1 || tv.Different != 1 {
		t.Fatalf("verify after planting: exit %d, %d missing, %d extra, %d different; want exit 1 and one of each\n%s", code, tv.Missing, tv.Extra, tv.Different, out)
	}
	kinds := map[string]engine.VerifyExample{}
	for _, ex := range tv.Examples {
		kinds[ex.Kind] = ex
	}
	d, ok := kinds["different"]
	if !ok || !contains(d.Columns, "id") || d.Table["id"] == d.Topic["id"] || d.Table["id"] == "" {
		t.Errorf("the different key's example does not show the differing id column with both values: %+v", d)
	}
	if _, ok := kinds["missing"]; !ok {
		t.Errorf("no example of the missing key: %+v", tv.Examples)
	}
	if _, ok := kinds["extra"]; !ok {
		t.Errorf("no example of the extra key: %+v", tv.Examples)
	}
}

// settle waits until topic has had no new record for two seconds.
func settle(f *fixture, topic string) {
	n, since := f.count(topic), time.Now()
	f.eventually(60*time.Second, "topic "+topic+" settles", func() (bool, string) {
		if m := f.count(topic); m != n {
			n, since = m, time.Now()
		}
		return time.Since(since) > 2*time.Second, fmt.Sprint(n, " records")
	})
}

func contains(s []string, v string) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}

// TestVerifyMariaDBAvro: sluice verify against a live MariaDB source with
// writers running passes, in Avro; three planted differences are found,
// each with its kind, and the exit status says so.
func TestVerifyMariaDBAvro(t *testing.T) {
	f := newAvroFixture(t)
	f.createItems(3000)
	f.exec("CREATE TABLE nokey (v INT)", "INSERT INTO nokey VALUES (1), (2)")
	cfg := f.config("")
	p := f.sluice(cfg)
	addr := adminAddr(t, f, p)
	waitPhase(f, addr, "streaming")
	w := f.startWriter(3000)

	r, code, out := verifyRun(t, f, cfg)
	topic := f.topic("items")
	tv := topicReport(t, r, topic)
	if code != 0 || r.Differences() != 0 || tv.Rows < 2000 {
		t.Fatalf("verify under live writes: exit %d, %+v\n%s", code, tv, out)
	}
	if nk := topicReport(t, r, f.topic("nokey")); !strings.Contains(nk.Skipped, "no key columns") {
		t.Errorf("the keyless table was not reported as skipped: %+v", nk)
	}
	t.Logf("verify under live writes (%d changes so far): %d rows, %d keys, equal", w.ops.Load(), tv.Rows, tv.Keys)
	w.stop()

	f.exec("DELETE FROM items WHERE id = 3") // at least one deleted row
	settle(f, topic)
	plantDifferences(t, f, topic)
	r, code, out = verifyRun(t, f, cfg, "--rechecks=1", "--tables="+f.db+".items")
	checkPlanted(t, r, code, out, topic)
	if len(r.Topics) != 1 {
		t.Errorf("--tables compared %d topics, want 1", len(r.Topics))
	}
	p.stop()
}

// TestVerifyPostgresJSON: the same on PostgreSQL in plain JSON; the
// planted differences are found with a --keys-per-pass small enough for
// several passes.
func TestVerifyPostgresJSON(t *testing.T) {
	f := newPGFixture(t)
	f.createItems(3000)
	cfg := f.config("")
	p := f.sluice(cfg)
	addr := adminAddr(t, f.fixture, p)
	waitPhase(f.fixture, addr, "streaming")
	w := f.startWriter(3000)

	r, code, out := verifyRun(t, f.fixture, cfg)
	topic := f.topic("items")
	tv := topicReport(t, r, topic)
	if code != 0 || r.Differences() != 0 || tv.Rows < 2000 {
		t.Fatalf("verify under live writes: exit %d, %+v\n%s", code, tv, out)
	}
	t.Logf("verify under live writes (%d changes so far): %d rows, %d keys, equal", w.ops.Load(), tv.Rows, tv.Keys)
	w.stop()

	f.exec("DELETE FROM items WHERE id = 3") // at least one deleted row
	f.converge("items", "id", "ver", "name", "amount")
	plantDifferences(t, f.fixture, topic)
	r, code, out = verifyRun(t, f.fixture, cfg, "--rechecks=1", "--keys-per-pass=1000")
	checkPlanted(t, r, code, out, topic)
	if r.Passes < 3 {
		t.Errorf("--keys-per-pass=1000 compared %d rows in %d passes", topicReport(t, r, topic).Rows, r.Passes)
	}
	p.stop()

	// With no instance running the checkpoint stops short of the
	// source's moving position: a clear error and exit status 2 (or 0
	// when nothing moved since the last checkpoint).
	_, code, out = verifyRun(t, f.fixture, cfg, "--wait=3s")
	if code == 2 && !strings.Contains(out, "did not reach the point the tables were read at") {
		t.Errorf("verify without a running instance: exit 2 without naming the cause:\n%s", out)
	}
}
