package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// session prints the records of the sources' sluice runs and drives the
// demo. It owns the consumer goroutine.
type session struct {
	sources  []*source
	exited   <-chan *sluiceProcess // a sluice that exited
	records  chan record
	errs     chan error
	cancel   context.CancelFunc
	done     chan struct{} // closed when the consumer has returned
	timer    *time.Timer
	deadline <-chan time.Time // the demo's deadline; nil once the demo is done
}

// prefixes returns the topic prefixes of the sources.
func prefixes(sources []*source) []string {
	out := make([]string, len(sources))
	for i, s := range sources {
		out[i] = s.prefix()
	}
	return out
}

// startSession spawns the consumer of the sources' topics at bootstrap,
// which decodes Avro with schemas from reg, and starts the demo's clock.
// exited reports a sluice that exits. close stops the consumer.
func startSession(ctx context.Context, bootstrap string, reg *sr.Client, sources []*source, exited <-chan *sluiceProcess) *session {
	ctx, cancel := context.WithCancel(ctx)
	s := &session{
		sources: sources,
		exited:  exited,
		records: make(chan record, 64),
		errs:    make(chan error, 16),
		cancel:  cancel,
		done:    make(chan struct{}),
		timer:   time.NewTimer(demoTimeout),
	}
	s.deadline = s.timer.C
	dec := newAvroDecoder(reg)
	go func() {
		defer close(s.done)
		if err := consume(ctx, bootstrap, prefixes(sources), dec, s.records, s.errs); err != nil {
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
// fails when a sluice exits, when the demo's deadline passes (waitingFor
// says for what) or when the consumer stops; it returns ctx's error when
// ctx is done.
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
				return fmt.Errorf("consumer of %s: %w", tableTopics(prefixes(s.sources)...), err)
			}
			fmt.Println(r.format())
			if done(r) {
				return nil
			}
		case err := <-s.errs:
			fmt.Fprintln(os.Stderr, "quickstart (retrying):", err)
		case p := <-s.exited:
			return p.exitError()
		case <-s.deadline:
			var logs []string
			for _, src := range s.sources {
				if src.proc != nil {
					logs = append(logs, fmt.Sprintf("sluice's log %s ends with:\n%s", rel(src.proc.logPath), logTail(src.proc.logPath, 20)))
				}
			}
			return fmt.Errorf("the demo's records did not arrive within %s of sluice's start (still waiting for %s); %s",
				demoTimeout, waitingFor(), strings.Join(logs, "\n"))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// demo prints the snapshots' records, makes the live changes on every
// source and prints the records of each. Then, unless once is set, it keeps
// printing until ctx is done, which is not an error.
func (s *session) demo(ctx context.Context, once bool) error {
	var topics []string
	for _, src := range s.sources {
		topics = append(topics, src.prefix()+".shop.customers", src.prefix()+".shop.orders")
	}
	say("Reading %s from the start; the snapshot comes first (op r, %d rows per source)",
		strings.Join(topics, ", "), snapshotRows)
	fmt.Println()
	reads := map[string]int{}
	complete := func() bool {
		for _, src := range s.sources {
			if reads[src.prefix()] < snapshotRows {
				return false
			}
		}
		return true
	}
	err := s.until(ctx,
		func() string {
			var parts []string
			for _, src := range s.sources {
				parts = append(parts, fmt.Sprintf("%d of %d rows from %s", reads[src.prefix()], snapshotRows, src.label()))
			}
			return "the snapshot: " + strings.Join(parts, ", ")
		},
		func(r record) bool {
			if r.Op == "r" {
				for _, src := range s.sources {
					if strings.HasPrefix(r.Topic, src.prefix()+".") {
						reads[src.prefix()]++
					}
				}
			}
			return complete()
		})
	if err != nil {
		return err
	}
	fmt.Println()
	say("The snapshots are in Kafka and sluice streams the changes now (%s). Live changes, each followed by its records:",
		streamNames(s.sources))
	for _, c := range demoChanges {
		fmt.Printf("\n-- %s\n", c.what)
		var left pending
		for _, src := range s.sources {
			sql := src.changeSQL(c)
			fmt.Printf("%-12s%s;\n", src.label()+":", sql)
			if err := src.exec(ctx, sql); err != nil {
				return fmt.Errorf("make the demo change on %s: %w", src.label(), err)
			}
			left = append(left, c.expectAt(src.prefix())...)
		}
		err := s.until(ctx,
			func() string {
				names := make([]string, len(left))
				for i, e := range left {
					names[i] = e.String()
				}
				return strings.Join(names, ", ")
			},
			func(r record) bool {
				left.see(r)
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
	var shells, admins []string
	for _, src := range s.sources {
		shells = append(shells, "        "+src.shell())
		admins = append(admins, "        curl -s http://"+src.adminAddr()+"/status   (metrics: /metrics)")
	}
	say("Demo complete. sluice keeps streaming: change the tables yourself, e.g. with\n%s\n"+
		"    and watch the records appear here. sluice's status, lag and metrics:\n%s\n"+
		"    Ctrl-C stops sluice and the servers.", strings.Join(shells, "\n"), strings.Join(admins, "\n"))
	fmt.Println()
	err = s.until(ctx, func() string { return "" }, func(record) bool { return false })
	if ctx.Err() != nil {
		fmt.Println()
		return nil
	}
	return err
}

// streamNames names the change streams of the sources.
func streamNames(sources []*source) string {
	var names []string
	for _, src := range sources {
		if src.kind == sourcePostgres {
			names = append(names, "PostgreSQL's logical replication")
		} else {
			names = append(names, "MariaDB's binlog")
		}
	}
	return strings.Join(names, " and ")
}
