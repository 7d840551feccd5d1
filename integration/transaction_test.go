//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTransactionMetadata: with transactions.metadata, a MariaDB
// transaction over two tables gets a BEGIN and an END record (counts in
// all and per table) in the transaction topic, keyed by its GTID, and each
// of its events carries the GTID and its order; snapshot reads carry none.
func TestTransactionMetadata(t *testing.T) {
	f := newFixture(t)
	f.exec("CREATE TABLE a (id INT PRIMARY KEY)", "CREATE TABLE b (id INT PRIMARY KEY)", "INSERT INTO a VALUES (1)")
	p := f.sluice(f.config("transactions:\n  metadata: true\n"))
	f.eventually(60*time.Second, "streaming", func() (bool, string) {
		return strings.Contains(p.output(), "snapshot complete"), "no snapshot yet"
	})
	f.exec("BEGIN", "INSERT INTO a VALUES (2)", "INSERT INTO b VALUES (10)", "UPDATE a SET id = 3 WHERE id = 2", "COMMIT")
	txTopic := f.prefix + ".transaction"
	f.eventually(60*time.Second, "BEGIN and END", func() (bool, string) {
		n := f.count(txTopic)
		return n == 2, fmt.Sprintf("%d records", n)
	})
	p.stop()

	type boundary struct {
		Status string `json:"status"`
		ID     string `json:"id"`
		Count  *int64 `json:"event_count"`
		Tables []struct {
			Name  string `json:"data_collection"`
			Count int64  `json:"event_count"`
		} `json:"data_collections"`
	}
	recs := f.read(txTopic)
	var begin, end boundary
	if err := json.Unmarshal(recs[0].Value, &begin); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(recs[1].Value, &end); err != nil {
		t.Fatal(err)
	}
	// The key change is a delete and a create: 4 records in a, one in b,
	// but 3 source events (insert, insert, update) in the transaction.
	if begin.Status != "BEGIN" || begin.Count != nil || end.Status != "END" || end.ID != begin.ID ||
		end.Count == nil || *end.Count != 3 || len(end.Tables) != 2 ||
		end.Tables[0].Name != f.db+".a" || end.Tables[0].Count != 2 || end.Tables[1].Name != f.db+".b" || end.Tables[1].Count != 1 {
		t.Fatalf("transaction records %s, %s", recs[0].Value, recs[1].Value)
	}
	if !strings.HasPrefix(begin.ID, "0-1-") || recs[0].Key != fmt.Sprintf(`{"id":%q}`, begin.ID) {
		t.Errorf("transaction id %q, key %s: want the GTID", begin.ID, recs[0].Key)
	}

	type block struct {
		ID    string `json:"id"`
		Total int64  `json:"total_order"`
		Table int64  `json:"data_collection_order"`
	}
	var got []string
	for _, table := range []string{"a", "b"} {
		for _, r := range f.read(f.topic(table)) {
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
				got = append(got, table+" "+v.Op)
				continue
			}
			if v.Tx.ID != begin.ID {
				t.Errorf("event of %s in transaction %q, want %q", table, v.Tx.ID, begin.ID)
			}
			got = append(got, fmt.Sprintf("%s %s %d/%d", table, v.Op, v.Tx.Total, v.Tx.Table))
		}
	}
	want := "a r|a c 1/1|a d 3/2|a c 3/2|b c 2/1"
	if strings.Join(got, "|") != want {
		t.Errorf("events %q, want %q", strings.Join(got, "|"), want)
	}
}
