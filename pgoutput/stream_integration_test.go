//go:build integration

package pgoutput

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// streamedSetup is setup with streaming asked for and the server told to
// stream every transaction past 64 kB of decoded changes.
// It returns a connection for the server's statistics (read outside any
// transaction, which would freeze them), two for writers, the reader's
// configuration, its handler and the running reader.
func streamedSetup(t *testing.T) (conn, tx, other *pgx.Conn, cfg Config, h *safeRecorder, run *running) {
	t.Helper()
	pg, db, cfg, from := setup(t, []TableName{{"public", "t"}}, "CREATE TABLE t (id int PRIMARY KEY, note text)")
	// The walsender reads the database's settings when it starts.
	exec(t, pg, "", fmt.Sprintf("ALTER DATABASE %s SET logical_decoding_work_mem = '64kB'", quoteIdent(db)))
	cfg.Streaming, cfg.SpoolDir = true, t.TempDir()
	h = &safeRecorder{}
	cfg.Acked = h.Acked
	return connect(t, pg, db), connect(t, pg, db), connect(t, pg, db), cfg, h, start(t, cfg, from, h)
}

// ids returns the first column of every event's after-image, from event
// from on.
func (h *safeRecorder) ids(from int) []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []int64
	for _, ev := range h.events[from:] {
		out = append(out, ev.After[0].(int64))
	}
	return out
}

func span(lo, hi int64) []int64 {
	var out []int64
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	return out
}

// streamStats returns how many transactions the server has streamed
// through the slot, and how many bytes.
func streamStats(t *testing.T, conn *pgx.Conn, slot string) (txns, bytes int64) {
	t.Helper()
	err := conn.QueryRow(t.Context(), "SELECT stream_txns, stream_bytes FROM pg_stat_replication_slots WHERE slot_name = $1", slot).Scan(&txns, &bytes)
	if err != nil && err != pgx.ErrNoRows {
		t.Fatal(err)
	}
	return txns, bytes
}

// waitStreamed waits until the server streamed more than bytes through
// the slot.
func waitStreamed(t *testing.T, conn *pgx.Conn, slot string, bytes int64) int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, b := streamStats(t, conn, slot); b > bytes {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server streamed no more than %d bytes: is streaming on?", bytes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const note = "repeat('n', 100)"

// Large transactions streamed while in progress reach the handler at
// their commit, in commit order, without the changes of rolled-back
// subtransactions, and rolled-back ones not at all; a shape change inside
// one shapes the changes after it.
func TestIntegrationStreamedTransactions(t *testing.T) {
	conn, tx, other, cfg, h, run := streamedSetup(t)
	ctx := t.Context()

	// A savepoint rolled back inside a streamed transaction.
	exec := func(c *pgx.Conn, sql string) {
		t.Helper()
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(tx, "BEGIN")
	exec(tx, "INSERT INTO t SELECT i, "+note+" FROM generate_series(1, 5000) i")
	exec(tx, "SAVEPOINT s1")
	exec(tx, "INSERT INTO t SELECT i, "+note+" FROM generate_series(5001, 8000) i")
	exec(tx, "ROLLBACK TO SAVEPOINT s1")
	exec(tx, "INSERT INTO t SELECT i, "+note+" FROM generate_series(8001, 9000) i")
	exec(tx, "COMMIT")
	h.waitEvents(t, 6000)
	want := append(span(1, 5000), span(8001, 9000)...)
	if got := h.ids(0); !slices.Equal(got, want) {
		t.Fatalf("savepoint transaction: %d ids, want %d (first %v)", len(got), len(want), got[:min(5, len(got))])
	}
	if txns, _ := streamStats(t, conn, cfg.Slot); txns == 0 {
		t.Fatal("the server streamed no transaction: the test did not test streaming")
	}

	// A streamed transaction that rolls back, then two that interleave and
	// commit in the opposite order of their start. Nothing of the first
	// may arrive before its commit.
	exec(tx, "BEGIN")
	exec(tx, "INSERT INTO t SELECT i, "+note+" FROM generate_series(20001, 25000) i")
	exec(tx, "ROLLBACK")
	_, streamedBytes := streamStats(t, conn, cfg.Slot)
	exec(tx, "BEGIN")
	exec(tx, "INSERT INTO t SELECT i, "+note+" FROM generate_series(30001, 35000) i")
	exec(other, "BEGIN")
	exec(other, "INSERT INTO t SELECT i, "+note+" FROM generate_series(40001, 45000) i")
	waitStreamed(t, conn, cfg.Slot, streamedBytes)
	time.Sleep(300 * time.Millisecond)
	if got := h.ids(6000); len(got) != 0 {
		t.Fatalf("%d events of uncommitted transactions reached the handler", len(got))
	}
	exec(other, "COMMIT")
	exec(tx, "INSERT INTO t SELECT i, "+note+" FROM generate_series(35001, 36000) i")
	exec(tx, "COMMIT")
	h.waitEvents(t, 6000+11000)
	want = append(span(40001, 45000), span(30001, 36000)...)
	if got := h.ids(6000); !slices.Equal(got, want) {
		t.Fatalf("interleaved transactions: %d ids, want %d", len(got), len(want))
	}

	// ADD COLUMN in the middle of a streamed transaction.
	exec(tx, "BEGIN")
	exec(tx, "INSERT INTO t SELECT i, "+note+" FROM generate_series(50001, 52000) i")
	exec(tx, "ALTER TABLE t ADD COLUMN extra int DEFAULT 7")
	exec(tx, "INSERT INTO t SELECT i, "+note+", 8 FROM generate_series(52001, 54000) i")
	exec(tx, "COMMIT")
	h.waitEvents(t, 17000+4000)
	waitResumable(t, h, conn)
	h.mu.Lock()
	first, last := h.events[17000], h.events[len(h.events)-1]
	h.mu.Unlock()
	if len(first.After) != 2 || len(last.After) != 3 || last.After[2] != int64(8) {
		t.Errorf("shapes around ADD COLUMN: first %v, last %v", first.After, last.After)
	}
	if got := h.ids(17000); !slices.Equal(got, span(50001, 54000)) {
		t.Errorf("ADD COLUMN transaction: %d ids", len(got))
	}
	if n := len(h.shown()); n != 21000 {
		t.Errorf("%d events in all, want 21000", n)
	}
	run.stop(t)
	if entries, err := os.ReadDir(cfg.SpoolDir); err != nil || len(entries) != 0 {
		t.Errorf("spool directory after the reader stopped: %v, %v", entries, err)
	}
}

// A connection lost while a streamed transaction is open: the server
// streams it again to the new session, and its changes arrive once.
func TestIntegrationStreamedReconnect(t *testing.T) {
	conn, tx, _, cfg, h, run := streamedSetup(t)
	defer run.stop(t)
	ctx := t.Context()
	for _, sql := range []string{"BEGIN", "INSERT INTO t SELECT i, " + note + " FROM generate_series(1, 5000) i"} {
		if _, err := tx.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	waitStreamed(t, conn, cfg.Slot, 0)
	var killed bool
	err := conn.QueryRow(ctx, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active", cfg.Slot).Scan(&killed)
	if err != nil || !killed {
		t.Fatalf("terminate walsender: %v %v", killed, err)
	}
	for _, sql := range []string{"INSERT INTO t SELECT i, " + note + " FROM generate_series(5001, 8000) i", "COMMIT"} {
		if _, err := tx.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	h.waitEvents(t, 8000)
	waitResumable(t, h, conn)
	time.Sleep(300 * time.Millisecond) // duplicates would arrive now
	if got := h.ids(0); !slices.Equal(got, span(1, 8000)) {
		t.Errorf("%d ids after the reconnect, want 1..8000 once each", len(got))
	}
}
