package engine

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
)

// txSource streams memSource's changes as two transactions: the first two
// changes in one, the delete in another.
type txSource struct{ *memSource }

func (m txSource) Stream(ctx context.Context, from sluice.Position, h Handler) error {
	groups := [][]int{{0, 1}, {2}}
	for g, idx := range groups {
		var lsn uint64
		for _, i := range idx {
			lsn = uint64(snapshotLSN + 1 + i)
			ev := *m.changes[i]
			ev.Source = sluice.Source{Connector: "postgresql", Name: "test", Position: sluice.Position{LSN: lsn},
				TxID: uint32(700 + g), CommitTime: time.Date(2026, 12, 3, 12, 0, g, 0, time.UTC)}
			if err := h.Change(ctx, &ev); err != nil {
				return err
			}
		}
		if err := h.Resumable(ctx, sluice.Position{LSN: lsn}); err != nil {
			return err
		}
	}
	close(m.streamed)
	<-ctx.Done()
	return nil
}

func rawRecords(t *testing.T, addrs []string, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// TestTransactionMetadata: with transactions.metadata each streamed event
// carries its transaction block, and the transaction topic holds a BEGIN
// and an END per transaction with the counts; snapshot reads carry none.
func TestTransactionMetadata(t *testing.T) {
	c := newCluster(t)
	src := txSource{newMemSource()}
	e, err := New(testConfig(t, c, "--transactions.metadata=true"), WithSource(src), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	stop, done := running(t, e)
	waitStreamed(t, src.memSource, done)
	waitUntil(t, "position 103 acknowledged", func() bool { return e.Status().Acknowledged.LSN == 103 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	type block struct {
		ID         string `json:"id"`
		Total      int64  `json:"total_order"`
		Collection int64  `json:"data_collection_order"`
	}
	var got []string
	for _, r := range rawRecords(t, c.ListenAddrs(), "sluice.shop.items") {
		if r.Value == nil {
			continue
		}
		var v struct {
			Op string `json:"op"`
			Tx *block `json:"transaction"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		if v.Tx == nil {
			got = append(got, v.Op+" -")
			continue
		}
		got = append(got, v.Op+" "+v.Tx.ID+" "+string(rune('0'+v.Tx.Total))+" "+string(rune('0'+v.Tx.Collection)))
	}
	want := []string{"r -", "r -", "r -", "c 700:101 1 1", "u 700:101 2 2", "d 701:103 1 1"}
	if !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}

	var txs []string
	for _, r := range rawRecords(t, c.ListenAddrs(), "sluice.transaction") {
		var v struct {
			Status string `json:"status"`
			ID     string `json:"id"`
			Count  *int64 `json:"event_count"`
			Tables []struct {
				Table string `json:"data_collection"`
				Count int64  `json:"event_count"`
			} `json:"data_collections"`
			TS int64 `json:"ts_ms"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != `{"id":"`+v.ID+`"}` {
			t.Errorf("key %s for id %s", r.Key, v.ID)
		}
		s := v.Status + " " + v.ID
		if v.Count != nil {
			s += " " + string(rune('0'+*v.Count))
			for _, tb := range v.Tables {
				s += " " + tb.Table + "=" + string(rune('0'+tb.Count))
			}
		}
		txs = append(txs, s)
	}
	wantTx := []string{"BEGIN 700:101", "END 700:101 2 shop.items=2", "BEGIN 701:103", "END 701:103 1 shop.items=1"}
	if !slices.Equal(txs, wantTx) {
		t.Errorf("transaction topic %q, want %q", txs, wantTx)
	}
}
