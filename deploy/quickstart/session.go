package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/deploy/local"
)

// session prints the records of one sluice run and drives the demo. It owns
// the consumer goroutine.
type session struct {
	prefix   string
	sluice   *sluiceProcess
	records  chan record
	errs     chan error
	cancel   context.CancelFunc
	done     chan struct{} // closed when the consumer has returned
	timer    *time.Timer
	deadline <-chan time.Time // the demo's deadline; nil once the demo is done
}

// startSession spawns the consumer of the topics under prefix at bootstrap
// and starts the demo's clock. close stops the consumer.
func startSession(ctx context.Context, bootstrap, prefix string, proc *sluiceProcess) *session {
	ctx, cancel := context.WithCancel(ctx)
	s := &session{
		prefix:  prefix,
		sluice:  proc,
		records: make(chan record, 64),
		errs:    make(chan error, 16),
		cancel:  cancel,
		done:    make(chan struct{}),
		timer:   time.NewTimer(demoTimeout),
	}
	s.deadline = s.timer.C
	go func() {
		defer close(s.done)
		if err := consume(ctx, bootstrap, prefix, s.records, s.errs); err != nil {
			select {
			case s.errs <- err:
			default:
			}
		}
	}()
	return s
}

// close stops the consumer and blocks until it has returned.
func (s *session) close() {
	s.cancel()
	<-s.done
	s.timer.Stop()
}

// until prints records as they arrive until done reports true for one. It
// fails when sluice exits, when the demo's deadline passes (waitingFor says
// for what) or when the consumer stops; it returns ctx's error when ctx is
// done.
func (s *session) until(ctx context.Context, waitingFor func() string, done func(record) bool) error {
	for {
		select {
		case r, ok := <-s.records:
			if !ok {
				var err error
				select {
				case err = <-s.errs:
				default:
					err = errors.New("stopped")
				}
				return fmt.Errorf("consumer of %s: %w", tableTopics(s.prefix), err)
			}
			fmt.Println(r.format())
			if done(r) {
				return nil
			}
		case err := <-s.errs:
			fmt.Fprintln(os.Stderr, "quickstart (retrying):", err)
		case <-s.sluice.done:
			return s.sluice.exitError()
		case <-s.deadline:
			return fmt.Errorf("the demo's records did not arrive within %s of sluice's start (still waiting for %s); sluice's log %s ends with:\n%s",
				demoTimeout, waitingFor(), rel(s.sluice.logPath), logTail(s.sluice.logPath, 20))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// demo prints the snapshot's records, makes the live changes in db and
// prints the records of each. Then, unless once is set, it keeps printing
// until ctx is done, which is not an error.
func (s *session) demo(ctx context.Context, db *local.MariaDB, once bool) error {
	say("Reading %[1]s.shop.customers and %[1]s.shop.orders from the start; the snapshot comes first (op r, %[2]d rows)",
		s.prefix, snapshotRows)
	fmt.Println()
	reads := 0
	err := s.until(ctx,
		func() string { return fmt.Sprintf("the snapshot: %d of %d rows so far", reads, snapshotRows) },
		func(r record) bool {
			if r.Op == "r" {
				reads++
			}
			return reads >= snapshotRows
		})
	if err != nil {
		return err
	}
	fmt.Println()
	say("The snapshot is in Kafka and sluice streams the binlog now. Live changes, each followed by its records:")
	for _, c := range demoChanges {
		fmt.Printf("\n-- %s\n%s;\n", c.what, c.sql)
		if err := db.Exec(ctx, c.sql); err != nil {
			return fmt.Errorf("make the demo change: %w", err)
		}
		left := pending(slices.Clone(c.want))
		err := s.until(ctx,
			func() string {
				names := make([]string, len(left))
				for i, e := range left {
					names[i] = e.String()
				}
				return strings.Join(names, ", ")
			},
			func(r record) bool {
				left.see(s.prefix, r)
				return len(left) == 0
			})
		if err != nil {
			return err
		}
	}
	s.timer.Stop()
	s.deadline = nil
	fmt.Println()
	if once {
		say("Demo complete: every change arrived, the tombstones included")
		return nil
	}
	say("Demo complete. sluice keeps streaming: change the tables yourself, e.g. with\n"+
		"        mariadb --host=127.0.0.1 --port=%d --user=root shop\n"+
		"    and watch the records appear here. Ctrl-C stops sluice, Kafka and MariaDB.", db.Port())
	fmt.Println()
	err = s.until(ctx, func() string { return "" }, func(record) bool { return false })
	if ctx.Err() != nil {
		fmt.Println()
		return nil
	}
	return err
}
