package engine

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
)

// shardSource snapshots one row of each of two shard tables with the same
// key, and streams a delete of one of them.
type shardSource struct{ *memSource }

func shardTable(name string) *sluice.Table {
	return &sluice.Table{Database: "shop", Name: name, PrimaryKey: true, Key: []int{0}, Columns: []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "bigint"},
		{Name: "name", Kind: sluice.KindString, SourceType: "text", Nullable: true},
	}}
}

var shard1, shard2 = shardTable("orders_1"), shardTable("orders_2")

func (m shardSource) Snapshot(ctx context.Context, h Handler, began func(context.Context, sluice.Position) error) (sluice.Position, error) {
	at := sluice.Position{LSN: snapshotLSN}
	if err := began(ctx, at); err != nil {
		return at, err
	}
	for _, t := range []*sluice.Table{shard1, shard2} {
		ev := &sluice.Event{Op: sluice.OpRead, Table: t, After: sluice.Row{int64(1), t.Name},
			Source: sluice.Source{Connector: "mysql", Name: "test", Snapshot: true, Position: at}}
		if err := h.Change(ctx, ev); err != nil {
			return at, err
		}
	}
	return at, nil
}

func (m shardSource) Stream(ctx context.Context, from sluice.Position, h Handler) error {
	ev := &sluice.Event{Op: sluice.OpDelete, Table: shard2, Before: sluice.Row{int64(1), "orders_2"},
		Source: sluice.Source{Connector: "mysql", Name: "test", Position: sluice.Position{LSN: snapshotLSN + 1}, CommitTime: time.Now()}}
	if err := h.Change(ctx, ev); err != nil {
		return err
	}
	if err := h.Resumable(ctx, sluice.Position{LSN: snapshotLSN + 1}); err != nil {
		return err
	}
	close(m.streamed)
	<-ctx.Done()
	return nil
}

// TestRouting: two tables routed to one topic keep distinct keys, carry
// the key field in key and rows, and name their own table in source.
func TestRouting(t *testing.T) {
	c := newCluster(t)
	src := shardSource{newMemSource()}
	cfg := testConfig(t, c)
	cfg.Routing.Topics = map[string]string{`shop\.(orders)_[0-9]+`: "sluice.shop.all_$1"}
	e, err := New(cfg, WithSource(src), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	stop, done := running(t, e)
	waitStreamed(t, src.memSource, done)
	waitUntil(t, "position 101 acknowledged", func() bool { return e.Status().Acknowledged.LSN == snapshotLSN+1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rawRecords(t, c.ListenAddrs(), "sluice.shop.all_orders") {
		if r.Value == nil {
			got = append(got, string(r.Key)+" tombstone")
			continue
		}
		var v struct {
			Op     string            `json:"op"`
			After  map[string]any    `json:"after"`
			Before map[string]any    `json:"before"`
			Source map[string]any    `json:"source"`
			_      map[string]string `json:"-"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		row := v.After
		if row == nil {
			row = v.Before
		}
		got = append(got, string(r.Key)+" "+v.Op+" "+row["__source_table"].(string)+" "+v.Source["table"].(string))
	}
	want := []string{
		`{"id":1,"__source_table":"shop.orders_1"} r shop.orders_1 orders_1`,
		`{"id":1,"__source_table":"shop.orders_2"} r shop.orders_2 orders_2`,
		`{"id":1,"__source_table":"shop.orders_2"} d shop.orders_2 orders_2`,
		`{"id":1,"__source_table":"shop.orders_2"} tombstone`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("records:\n got %q\nwant %q", got, want)
	}
}

func TestRouterErrors(t *testing.T) {
	r, err := newRouter(config.RoutingConfig{KeyField: "name", Topics: map[string]string{`shop\..*`: "all"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.event(&sluice.Event{Table: shard1}); err == nil || !strings.Contains(err.Error(), "routing.key_field") {
		t.Errorf("key field collision: %v", err)
	}
	r, _ = newRouter(config.RoutingConfig{KeyField: "k", Topics: map[string]string{`shop\.orders_1`: "a", `.*_1`: "b"}})
	if _, err := r.event(&sluice.Event{Table: shard1}); err == nil || !strings.Contains(err.Error(), "two routing.topics") {
		t.Errorf("two routes: %v", err)
	}
	ev := &sluice.Event{Table: shard2, After: sluice.Row{int64(1), "x"}}
	if got, err := r.event(ev); err != nil || got != ev {
		t.Errorf("unrouted table: %v %v", got, err)
	}
	if s, ok := r.shapes[shard2]; !ok || s != nil {
		t.Error("unrouted shape cached as routed")
	}
}

func TestRoutingConfigErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{`--routing.topics=shop\.(=x`}, "not a regular expression"},
		{[]string{"--routing.topics=a=bad topic"}, "not a valid topic name"},
		{[]string{"--routing.topics=a=t", "--routing.key_field=1x"}, "routing.key_field"},
	} {
		_, err := config.Load("", append([]string{"--source.user=u", "--tables.include=a.*", "--format=json"}, c.args...), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
