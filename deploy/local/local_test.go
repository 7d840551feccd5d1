//go:build integration

package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// processesUsing returns the command lines of running processes whose
// command line mentions dir.
func processesUsing(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		if strings.Trim(e.Name(), "0123456789") != "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, dir) {
			found = append(found, e.Name()+": "+cmd)
		}
	}
	return found
}

// variable returns a server variable's value.
func variable(t *testing.T, db *MariaDB, name string) string {
	t.Helper()
	c, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Execute("SHOW VARIABLES LIKE '" + name + "'")
	if err != nil {
		t.Fatal(err)
	}
	if r.RowNumber() != 1 {
		t.Fatalf("variable %s: %d rows", name, r.RowNumber())
	}
	v, err := r.GetString(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMariaDBAndKafka(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	dbDir, kafkaDir := t.TempDir(), t.TempDir()

	db, err := StartMariaDB(ctx, MariaDBOptions{Dir: dbDir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	for name, want := range map[string]string{
		"binlog_format":       "ROW",
		"binlog_row_image":    "FULL",
		"binlog_row_metadata": "FULL",
		"log_bin":             "ON",
		"server_id":           "1",
	} {
		if got := variable(t, db, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	if err := db.Exec(ctx,
		"CREATE DATABASE shop",
		"CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(10))",
		"INSERT INTO shop.t VALUES (1, 'one')",
	); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(ctx, "SELECT * FROM shop.missing"); err == nil || !strings.Contains(err.Error(), "shop.missing") {
		t.Errorf("failing statement: want an error naming it, got %v", err)
	}

	db.Kill()
	if err := db.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Execute("SELECT v FROM shop.t WHERE id = 1")
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := r.GetString(0, 0); v != "one" {
		t.Errorf("after a crash and restart: v = %q, want one", v)
	}

	k, err := StartKafka(ctx, KafkaOptions{Dir: kafkaDir})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	produceConsume(t, ctx, k.Bootstrap(), "local-test", true)

	if err := db.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := k.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{dbDir, kafkaDir} {
		if ps := processesUsing(t, dir); len(ps) > 0 {
			t.Errorf("processes left behind: %q", ps)
		}
		if exists(dir) {
			t.Errorf("%s not removed by Stop", dir)
		}
	}
	if err := db.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// produceConsume creates topic when create is set, produces one record to
// it and reads the topic from the start until that record arrives.
func produceConsume(t *testing.T, ctx context.Context, bootstrap, topic string, create bool) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if create {
		compact := "compact"
		resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": &compact}, topic)
		if err != nil || resp.Err != nil {
			t.Fatalf("create topic: %v %v", err, resp.Err)
		}
	}
	value := fmt.Sprintf("v-%d", time.Now().UnixNano())
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	var got []string
	for {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		fs := consumer.PollFetches(fctx)
		cancel()
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume (got %q so far): %v", got, err)
		}
		for _, r := range fs.Records() {
			got = append(got, string(r.Value))
			if string(r.Value) == value {
				return
			}
		}
	}
}

func TestMariaDBVariants(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	noBinlog, err := StartMariaDB(ctx, MariaDBOptions{NoBinlog: true})
	if err != nil {
		t.Fatal(err)
	}
	defer noBinlog.Stop()
	statement, err := StartMariaDB(ctx, MariaDBOptions{Args: []string{"--binlog_format=STATEMENT", "--server-id=2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer statement.Stop()

	if got := variable(t, noBinlog, "log_bin"); got != "OFF" {
		t.Errorf("NoBinlog: log_bin = %s, want OFF", got)
	}
	if got := variable(t, statement, "binlog_format"); got != "STATEMENT" {
		t.Errorf("binlog_format = %s, want STATEMENT", got)
	}
	if got := variable(t, statement, "server_id"); got != "2" {
		t.Errorf("server_id = %s, want 2", got)
	}
	for _, db := range []*MariaDB{noBinlog, statement} {
		dir := db.Dir()
		if err := db.Stop(); err != nil {
			t.Fatal(err)
		}
		if exists(dir) {
			t.Errorf("temporary directory %s not removed by Stop", dir)
		}
	}
}

func TestReuseDir(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	dbDir, kafkaDir := t.TempDir(), t.TempDir()

	db, err := StartMariaDB(ctx, MariaDBOptions{Dir: dbDir, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(ctx, "CREATE DATABASE kept"); err != nil {
		t.Fatal(err)
	}
	if err := db.Stop(); err != nil {
		t.Fatal(err)
	}
	db, err = StartMariaDB(ctx, MariaDBOptions{Dir: dbDir, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	if err := db.Exec(ctx, "USE kept"); err != nil {
		t.Errorf("database lost across a kept restart: %v", err)
	}

	k, err := StartKafka(ctx, KafkaOptions{Dir: kafkaDir, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	produceConsume(t, ctx, k.Bootstrap(), "kept", true)
	first := k.Bootstrap()
	if err := k.Stop(); err != nil {
		t.Fatal(err)
	}
	k, err = StartKafka(ctx, KafkaOptions{Dir: kafkaDir, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	t.Logf("broker moved from %s to %s", first, k.Bootstrap())
	produceConsume(t, ctx, k.Bootstrap(), "kept", false)
}
