package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice/deploy/local"
)

// clientRead is one read of a table through the mariadb command-line
// client.
type clientRead struct {
	Rows    int64
	Bytes   int64 // bytes of tab-separated text the client wrote
	Elapsed time.Duration
}

// countingWriter counts bytes and newlines.
type countingWriter struct{ bytes, lines atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.bytes.Add(int64(len(p)))
	var n int64
	for _, c := range p {
		if c == '\n' {
			n++
		}
	}
	w.lines.Add(n)
	return len(p), nil
}

// readWithClient runs `mariadb --quick --batch -e "SELECT * FROM table"`
// over TCP and counts what it prints: the ceiling for reading the table on
// this machine, with the server's cost included. It blocks until the client
// exits or ctx ends.
func readWithClient(ctx context.Context, db *local.MariaDB, table string) (clientRead, error) {
	bin, err := exec.LookPath("mariadb")
	if err != nil {
		if bin, err = exec.LookPath("mysql"); err != nil {
			return clientRead{}, fmt.Errorf("reference read: no mariadb or mysql client on PATH (install mariadb-client)")
		}
	}
	var out countingWriter
	cmd := exec.CommandContext(ctx, bin, "--no-defaults", "--protocol=tcp", "-h", db.Host(), "-P", strconv.Itoa(db.Port()),
		"-u", db.User(), "--quick", "--batch", "--skip-column-names",
		"-e", "SELECT * FROM "+quote(benchDB)+"."+quote(table))
	if p := db.Password(); p != "" {
		cmd.Env = append(cmd.Environ(), "MYSQL_PWD="+p)
	}
	cmd.Stdout = &out
	stderr := &limitedBuffer{max: 4096}
	cmd.Stderr = stderr
	began := time.Now()
	if err := cmd.Run(); err != nil {
		return clientRead{}, fmt.Errorf("reference read with %s: %w: %s", bin, err, stderr.String())
	}
	return clientRead{Rows: out.lines.Load(), Bytes: out.bytes.Load(), Elapsed: time.Since(began)}, nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	max int
	b   []byte
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }

// decodeRun is one pass of go-mysql's binlog decoder over a range of the
// binary log.
type decodeRun struct {
	Rows    int64 // row images decoded (an update counts once)
	Bytes   int64 // binlog bytes read
	Elapsed time.Duration
}

// decodeBinlog reads the binary log from `from` to `to` over the replication
// protocol with go-mysql, decoding every rows event with the options
// binlog.Reader uses (UseDecimal, times as strings, read timeout, checksum
// verification, event cache), and counts the changed rows. It is
// the ceiling of the stream on this machine: fetching and decoding with
// nothing done to the rows. It blocks until `to` is reached, at most
// timeout.
func decodeBinlog(ctx context.Context, db *local.MariaDB, from, to binlogState, timeout time.Duration) (decodeRun, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 4_000_000_001,
		Flavor:   mysql.MariaDBFlavor,
		Host:     db.Host(),
		Port:     uint16(db.Port()),
		User:     db.User(),
		Password: db.Password(),
		// The options binlog.Reader uses (binlog/reader.go).
		UseDecimal:              true,
		ParseTime:               false,
		TimestampStringLocation: time.UTC,
		HeartbeatPeriod:         10 * time.Second,
		ReadTimeout:             60 * time.Second,
		DisableRetrySync:        true,
		VerifyChecksum:          true,
		EventCacheCount:         128,
		Logger:                  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	defer syncer.Close()
	began := time.Now()
	st, err := syncer.StartSync(mysql.Position{Name: from.File, Pos: from.Pos})
	if err != nil {
		return decodeRun{}, fmt.Errorf("reference decode: start replication: %w", err)
	}
	var run decodeRun
	file := from.File
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			return run, fmt.Errorf("reference decode: after %d rows: %w", run.Rows, err)
		}
		run.Bytes += int64(ev.Header.EventSize)
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			file = string(e.NextLogName)
		case *replication.RowsEvent:
			n := int64(len(e.Rows))
			if e.Type() == replication.EnumRowsEventTypeUpdate {
				n /= 2
			}
			run.Rows += n
		}
		if file == to.File && ev.Header.LogPos >= to.Pos {
			run.Elapsed = time.Since(began)
			return run, nil
		}
	}
}
