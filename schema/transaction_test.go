package schema

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

func testBoundaries() []*sluice.TransactionBoundary {
	at := time.UnixMilli(1700000000456)
	return []*sluice.TransactionBoundary{
		{ID: "0-1-42", CommitTime: at},
		{End: true, ID: "0-1-42", Events: 3, CommitTime: at, Tables: []sluice.TableEvents{{Table: "shop.orders", Events: 2}, {Table: "shop.items", Events: 1}}},
	}
}

func TestTransactionRecordsAvro(t *testing.T) {
	enc, _, cl := newTestAvro(t, v2Options("mysql"))
	ctx := context.Background()
	for _, b := range testBoundaries() {
		kb, err := enc.TransactionKey(ctx, "sluice.transaction", b.ID)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := decodeWire(t, cl, kb)
		if key["id"] != "0-1-42" {
			t.Errorf("key %v", key)
		}
		vb, err := enc.TransactionValue(ctx, "sluice.transaction", b)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := decodeWire(t, cl, vb)
		if v["ts_ms"] != int64(1700000000456) || v["id"] != "0-1-42" {
			t.Errorf("value %v", v)
		}
		_, n := unwrap(v["event_count"])
		_, cols := unwrap(v["data_collections"])
		if !b.End {
			if v["status"] != "BEGIN" || n != nil || cols != nil {
				t.Errorf("BEGIN %v", v)
			}
			continue
		}
		list, _ := cols.([]any)
		if v["status"] != "END" || n != int64(3) || len(list) != 2 ||
			list[0].(map[string]any)["data_collection"] != "shop.orders" || list[1].(map[string]any)["event_count"] != int64(1) {
			t.Errorf("END %v", v)
		}
	}
}

func TestTransactionRecordsJSON(t *testing.T) {
	j := NewJSONEncoder("v")
	c, err := NewConnectJSONEncoder(v2Options("postgresql"), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range testBoundaries() {
		var plain map[string]any
		if err := json.Unmarshal(j.TransactionValue(b), &plain); err != nil {
			t.Fatal(err)
		}
		if plain["status"] != map[bool]string{false: "BEGIN", true: "END"}[b.End] {
			t.Errorf("json %v", plain)
		}
		s, p := decodeConnect(t, c.TransactionValue(b))
		connectCheck(t, "tx value", s, p)
		ks, kp := decodeConnect(t, c.TransactionKey(b.ID))
		connectCheck(t, "tx key", ks, kp)
		if string(j.TransactionKey(b.ID)) != `{"id":"0-1-42"}` {
			t.Errorf("json key %s", j.TransactionKey(b.ID))
		}
	}
}

// TestTransactionBlock: an event's transaction block reaches all three
// envelopes.
func TestTransactionBlock(t *testing.T) {
	tbl := mysqlAvroTable()
	row := mysqlAvroRows()[2]
	ev := &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: row, Source: sluice.Source{Connector: "mysql"},
		Transaction: &sluice.Transaction{ID: "0-1-7", TotalOrder: 5, TableOrder: 2}}
	enc, _, cl := newTestAvro(t, v2Options("mysql"))
	b, err := enc.Value(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := decodeWire(t, cl, b)
	_, tx := unwrap(v["transaction"])
	if m, ok := tx.(map[string]any); !ok || m["id"] != "0-1-7" || m["total_order"] != int64(5) || m["data_collection_order"] != int64(2) {
		t.Errorf("avro transaction %v", v["transaction"])
	}
	c, _ := NewConnectJSONEncoder(v2Options("mysql"), false)
	cb, err := c.Value(ev)
	if err != nil {
		t.Fatal(err)
	}
	s, p := decodeConnect(t, cb)
	connectCheck(t, "envelope", s, p)
	if m := p.(map[string]any)["transaction"].(map[string]any); m["id"] != "0-1-7" {
		t.Errorf("connect transaction %v", m)
	}
	jb, err := NewJSONEncoder("v").Value(ev)
	if err != nil {
		t.Fatal(err)
	}
	var plain map[string]any
	if err := json.Unmarshal(jb, &plain); err != nil {
		t.Fatalf("%v: %s", err, jb)
	}
	if m, _ := plain["transaction"].(map[string]any); m["total_order"] != 5.0 {
		t.Errorf("json transaction %v", plain["transaction"])
	}
}
