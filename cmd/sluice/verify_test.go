package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/engine"
)

func TestVerifyFlags(t *testing.T) {
	rest, f, err := takeVerifyFlags([]string{"--config", "x.yaml", "--tables", "shop.a, shop.b", "--wait=30s",
		"--rechecks", "0", "--keys-per-pass=5000", "--examples", "2", "--json", "--format=json"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rest, " ") != "--config x.yaml --format=json" {
		t.Errorf("left for the configuration: %q", rest)
	}
	o := f.opts
	if strings.Join(o.Tables, "|") != "shop.a|shop.b" || o.Wait != 30*time.Second || o.Rechecks != -1 ||
		o.KeysPerPass != 5000 || o.Examples != 2 || !f.asJSON {
		t.Errorf("flags %+v json %v", o, f.asJSON)
	}
	for _, bad := range [][]string{{"--wait", "-1s"}, {"--rechecks=-2"}, {"--keys-per-pass=10"}, {"--examples=0"}, {"--tables"}, {"--wait=soon"}} {
		if _, _, err := takeVerifyFlags(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestVerifyBadInputExitsTwo: a bad flag or configuration is found before
// any connection and exits 2 (the comparison could not be made), never 1
// (a difference was found).
func TestVerifyBadInputExitsTwo(t *testing.T) {
	for _, args := range [][]string{
		{"verify", "--rechecks=many"},
		{"verify", "--source.type=mysql", "--source.user=sluice", "--tables.include=shop.*", "--kafka.brokers=127.0.0.1:9",
			"--format=json", "--kafka.max_message_bytes=2000", "--kafka.max_buffered_bytes=1000"},
	} {
		_, _, err := run(t, args)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%q: %v, want exit status 2", args, err)
		}
	}
	out, _, err := run(t, []string{"verify", "--help"})
	if err != nil || !strings.Contains(out, "--keys-per-pass") || !strings.Contains(out, "Exit status") {
		t.Errorf("verify --help: %v\n%s", err, out)
	}
}

func TestPrintVerify(t *testing.T) {
	r := &engine.VerifyReport{Passes: 1, Topics: []engine.TopicVerify{
		{Topic: "t.shop.a", Rows: 3, Keys: 3},
		{Topic: "t.shop.b", Rows: 2, Keys: 2, Different: 1, Examples: []engine.VerifyExample{
			{Kind: "different", Key: `{"id":2}`, Columns: []string{"name"}, Table: map[string]string{"name": `"x"`}, Topic: map[string]string{"name": `"y"`}}}},
		{Topic: "t.shop.nokey", Skipped: "no key columns"},
	}}
	var b bytes.Buffer
	printVerify(&b, r)
	out := b.String()
	for _, want := range []string{"t.shop.b", `different key {"id":2} columns name`, `name: table "x", topic "y"`, "skipped: no key columns", "DIFFERENT: 1 keys differ"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	r.Topics[1].Different, r.Topics[1].Examples = 0, nil
	b.Reset()
	printVerify(&b, r)
	if !strings.Contains(b.String(), "OK: every compared topic equals its tables") {
		t.Errorf("equal report:\n%s", b.String())
	}
}
