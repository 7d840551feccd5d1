package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/admin"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/engine"
	"github.com/sluice-cdc/sluice/sink"
)

// statusTimeout bounds the request to a running instance.
const statusTimeout = 3 * time.Second

// statusOutput is what `sluice status --json` prints: the running
// instance's status, or, when none answers, the stored checkpoint (null
// when there is none).
type statusOutput struct {
	Running    bool              `json:"running"`
	Status     *admin.StatusJSON `json:"status,omitempty"`
	Admin      string            `json:"admin,omitempty"`
	Checkpoint *sink.Checkpoint  `json:"checkpoint"`
	Unreached  string            `json:"unreached,omitempty"`
}

// status is `sluice status`: it asks the instance at admin.listen for
// /status; when nothing answers there, it reads the checkpoint of name
// from the checkpoint topic.
func status(ctx context.Context, cfg *config.Config, asJSON bool, out io.Writer) error {
	var why string
	if addr := cfg.Admin.Listen; addr != "" {
		url := "http://" + dialable(addr) + "/status"
		st, err := fetchStatus(ctx, url)
		if err == nil {
			if asJSON {
				return writeJSON(out, statusOutput{Running: true, Status: st, Admin: url, Checkpoint: nil})
			}
			printStatus(out, st)
			return nil
		}
		why = fmt.Sprintf("no sluice instance answers at %s (%v)", url, err)
	} else {
		why = "admin.listen is empty, so no running instance can be asked"
	}
	cp, found, err := engine.StoredCheckpoint(ctx, *cfg)
	if err != nil {
		return fmt.Errorf("%s, and the stored checkpoint could not be read: %w", why, err)
	}
	if asJSON {
		o := statusOutput{Unreached: why}
		if found {
			o.Checkpoint = &cp
		}
		return writeJSON(out, o)
	}
	fmt.Fprintf(out, "%s.\n", why)
	if !found {
		fmt.Fprintf(out, "source %s has no checkpoint in topic %s: its next start takes a snapshot (snapshot.mode initial)\n", cfg.Name, cfg.Kafka.CheckpointTopic)
		return nil
	}
	fmt.Fprintf(out, "stored checkpoint of source %s (topic %s):\n", cfg.Name, cfg.Kafka.CheckpointTopic)
	fmt.Fprintf(out, "  phase        %s\n", cp.Phase)
	fmt.Fprintf(out, "  position     %s\n", admin.FormatPosition(&cp.Position))
	if cp.Phase == sink.PhaseSnapshot {
		fmt.Fprintf(out, "  snapshot     began at %s and did not finish: the next start takes it again\n", admin.FormatPosition(&cp.SnapshotStart))
	}
	if !cp.CommitTime.IsZero() {
		fmt.Fprintf(out, "  source time  %s (%s ago)\n", cp.CommitTime.UTC().Format(time.RFC3339), time.Since(cp.CommitTime).Round(time.Second))
	}
	fmt.Fprintf(out, "  written      %s (%s ago)\n", cp.UpdatedAt.UTC().Format(time.RFC3339), time.Since(cp.UpdatedAt).Round(time.Second))
	return nil
}

// dialable turns a listen address into one to connect to: an unspecified
// host (0.0.0.0, ::, empty) becomes loopback.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func fetchStatus(ctx context.Context, url string) (*admin.StatusJSON, error) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return nil, op.Err
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	var st admin.StatusJSON
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("read its status: %w", err)
	}
	return &st, nil
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printStatus prints a running instance's status for people.
func printStatus(out io.Writer, st *admin.StatusJSON) {
	state := st.Phase
	if st.Role != "" && st.Role != st.Phase {
		state = st.Role + ", " + state
	}
	if st.Paused {
		state += ", paused"
	}
	ready := "ready"
	if !st.Ready {
		ready = "not ready: " + st.ReadyReason
	}
	fmt.Fprintf(out, "sluice %s (%s): %s; %s\n", st.Name, st.SourceType, state, ready)
	fmt.Fprintf(out, "  version       %s, config sha256 %s\n", st.Version, short(st.ConfigDigest))
	if st.StartedAt != nil {
		fmt.Fprintf(out, "  started       %s (up %s)\n", st.StartedAt.Format(time.RFC3339), time.Since(*st.StartedAt).Round(time.Second))
	}
	if s := st.Snapshot; s != nil {
		var rows, est int64
		done := 0
		for _, t := range s.Tables {
			rows += t.Rows
			est += max(t.EstimatedRows, t.Rows)
			if t.Done {
				done++
			}
		}
		what := "running"
		switch {
		case s.FinishedAt != nil:
			what = "complete in " + s.FinishedAt.Sub(s.StartedAt).Round(time.Second).String()
		case !s.Running:
			what = "stopped before the end"
		}
		if s.Resumed {
			what += " (retaken)"
		}
		fmt.Fprintf(out, "  snapshot      %s: %d of %d tables, %d of ~%d rows\n", what, done, len(s.Tables), rows, est)
		if s.Running {
			for _, t := range s.Tables {
				mark := ""
				if t.Done {
					mark = " done"
				}
				fmt.Fprintf(out, "    %-30s %d / ~%d%s\n", t.Table, t.Rows, max(t.EstimatedRows, t.Rows), mark)
			}
		}
	}
	fmt.Fprintf(out, "  read          %s\n", admin.FormatPosition(st.Positions.Read))
	fmt.Fprintf(out, "  acknowledged  %s\n", admin.FormatPosition(st.Positions.Acknowledged))
	committed := admin.FormatPosition(st.Positions.Committed)
	if st.Positions.CommittedAt != nil {
		committed += fmt.Sprintf(" (written %s ago)", time.Since(*st.Positions.CommittedAt).Round(time.Second))
	}
	fmt.Fprintf(out, "  committed     %s\n", committed)
	behind := "unknown"
	if st.BehindBytes != nil {
		behind = fmt.Sprintf("%d bytes", *st.BehindBytes)
	}
	fmt.Fprintf(out, "  lag           read %.1fs, acknowledged %.1fs; source log ahead: %s\n", st.Lag.ReadSeconds, st.Lag.AcknowledgedSeconds, behind)
	last := ""
	if st.LastEventTime != nil {
		last = ", the last committed at " + st.LastEventTime.Format(time.RFC3339)
	}
	fmt.Fprintf(out, "  events        %d streamed%s\n", st.Events, last)
	if len(st.Stalls) == 0 {
		fmt.Fprintln(out, "  stalls        none")
	}
	for _, s := range st.Stalls {
		line := fmt.Sprintf("  stalled       %s for %.0fs", s.Target, s.Seconds)
		if s.LastError != "" {
			line += ": " + s.LastError
		}
		fmt.Fprintln(out, line)
	}
	if st.LastError != "" {
		fmt.Fprintf(out, "  error         %s\n", st.LastError)
	}
}

func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return strings.TrimSpace(digest)
}
