package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
)

// people is a memSource over a table with columns to transform.
func people() *memSource {
	t := &sluice.Table{Database: "shop", Name: "people", PrimaryKey: true, Key: []int{0}, Columns: []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "bigint"},
		{Name: "email", Kind: sluice.KindString, SourceType: "text", Nullable: true},
		{Name: "phone", Kind: sluice.KindString, SourceType: "text", Nullable: true},
		{Name: "pin", Kind: sluice.KindInt, SourceType: "integer", Nullable: true},
		{Name: "note", Kind: sluice.KindString, SourceType: "text", Nullable: true},
	}}
	m := newMemSource()
	m.table = t
	m.rows = []sluice.Row{
		{int64(1), "ann@example.com", "+41 1", int64(1111), "Zürich"},
		{int64(2), "bob@example.com", nil, nil, "Genève"},
	}
	m.changes = []*sluice.Event{
		{Op: sluice.OpCreate, Table: t, After: sluice.Row{int64(3), "cy@example.com", "+41 3", int64(3333), "Bern"}},
		{Op: sluice.OpUpdate, Table: t, Before: sluice.Row{int64(1), "ann@example.com", "+41 1", int64(1111), "Zürich"},
			After: sluice.Row{int64(1), "ann@example.org", "+41 9", nil, "Zug"}},
		{Op: sluice.OpDelete, Table: t, Before: sluice.Row{int64(2), "bob@example.com", nil, nil, "Genève"}},
	}
	return m
}

type valueRecord struct {
	key    string
	op     string
	before map[string]any
	after  map[string]any
}

// topicValues reads every record of topic with its decoded JSON value.
func topicValues(t *testing.T, c *kfake.Cluster, topic string) []valueRecord {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []valueRecord
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out
		}
		fs.EachRecord(func(r *kgo.Record) {
			vr := valueRecord{key: string(r.Key)}
			if r.Value == nil {
				vr.op = "tombstone"
				out = append(out, vr)
				return
			}
			var v struct {
				Op     string         `json:"op"`
				Before map[string]any `json:"before"`
				After  map[string]any `json:"after"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Errorf("record value %q: %v", r.Value, err)
			}
			vr.op, vr.before, vr.after = v.Op, v.Before, v.After
			out = append(out, vr)
		})
	}
}

// TestTransformsInRecords: masked, hashed and truncated columns arrive
// transformed in snapshot reads and streamed changes alike, before- and
// after-images both; a hashed key keeps the records of one row under one
// key, so the delete's tombstone compacts the row away; the source's rows
// are not touched.
func TestTransformsInRecords(t *testing.T) {
	const salt = "engine-test-salt-0123456789"
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(salt + s))
		return hex.EncodeToString(sum[:])
	}
	c := newCluster(t)
	src := people()
	e, err := New(testConfig(t, c,
		"--transforms.hash=shop.people.id", "--transforms.hash=shop.people.email", "--transforms.hash_salt="+salt,
		"--transforms.mask=shop.people.phone", "--transforms.mask=shop.*.pin",
		"--transforms.truncate=shop.people.note=3"), WithSource(src), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	stop, done := running(t, e)
	waitStreamed(t, src, done)
	waitUntil(t, "position 103 acknowledged", func() bool { return e.Status().Acknowledged.LSN == 103 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	key := func(id string) string { return `{"id":"` + hash(id) + `"}` }
	row := func(id, email string, phone, pin any, note string) map[string]any {
		return map[string]any{"id": hash(id), "email": hash(email), "phone": phone, "pin": pin, "note": note}
	}
	want := []valueRecord{
		{key: key("1"), op: "r", after: row("1", "ann@example.com", "****", "****", "Zür")},
		{key: key("2"), op: "r", after: row("2", "bob@example.com", nil, nil, "Gen")},
		{key: key("3"), op: "c", after: row("3", "cy@example.com", "****", "****", "Ber")},
		{key: key("1"), op: "u", before: row("1", "ann@example.com", "****", "****", "Zür"), after: row("1", "ann@example.org", "****", nil, "Zug")},
		{key: key("2"), op: "d", before: row("2", "bob@example.com", nil, nil, "Gen")},
		{key: key("2"), op: "tombstone"},
	}
	got := topicValues(t, c, "sluice.shop.people")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records:\n got %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(src.rows[0], sluice.Row{int64(1), "ann@example.com", "+41 1", int64(1111), "Zürich"}) ||
		!reflect.DeepEqual(src.changes[1].After, sluice.Row{int64(1), "ann@example.org", "+41 9", nil, "Zug"}) {
		t.Errorf("the source's rows were modified: %q %q", src.rows[0], src.changes[1].After)
	}
}

// TestTransformOfKeyFails: masking a key column stops Run with an error
// naming the column and the fix, before any record is produced.
func TestTransformOfKeyFails(t *testing.T) {
	c := newCluster(t)
	src := people()
	e, err := New(testConfig(t, c, "--transforms.mask=shop.people.id"), WithSource(src), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	_, done := running(t, e)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "column shop.people.id is a key column and transforms.mask") ||
			!strings.Contains(err.Error(), "hash it instead (transforms.hash)") {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop")
	}
	if recs := topicValues(t, c, "sluice.shop.people"); len(recs) != 0 {
		t.Errorf("records produced: %+v", recs)
	}
}

// TestTransformTablesForCheck: sluice check reports the tables whose
// transforms cannot work, and patterns that match no column as warnings.
func TestTransformTablesForCheck(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(t, c, "--transforms.mask=shop.people.id", "--transforms.truncate=shop.items.name=5",
		"--transforms.hash=shop.nowhere.*", "--transforms.hash_salt=0123456789abcdef")
	items := newMemSource().table
	shapes, problems := transformTables(&cfg, []*sluice.Table{people().table, items})
	if len(shapes) != 1 || shapes[0].Name != "items" || shapes[0].Columns[1].Transform != "truncate(5)" {
		t.Errorf("shapes %+v", shapes)
	}
	var msgs []string
	for _, p := range problems {
		msgs = append(msgs, p.Message)
	}
	text := strings.Join(msgs, "\n")
	for _, w := range []string{
		"column shop.people.id is a key column and transforms.mask",
		`transforms.hash "shop.nowhere.*" matches no column of the selected tables`,
	} {
		if !strings.Contains(text, w) {
			t.Errorf("problems lack %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "0123456789abcdef") {
		t.Errorf("salt in problems: %s", text)
	}
	if len(problems) != 2 || problems[0].Warning || !problems[1].Warning {
		t.Errorf("problems %+v", problems)
	}
}
