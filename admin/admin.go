package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/engine"
)

// Engine is what the server shows and controls; *engine.Engine implements
// it.
type Engine interface {
	Status() engine.Status
	Ready() (bool, string)
	Healthy() (bool, string)
	Pause() (bool, error)
	Resume() (bool, error)
}

// Handler returns the admin endpoints for e, with /metrics served from g.
func Handler(e Engine, g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := e.Healthy()
		plain(w, ok, why)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := e.Ready()
		plain(w, ok, why)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		ready, why := e.Ready()
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(NewStatusJSON(e.Status(), ready, why, time.Now()))
	})
	mux.HandleFunc("POST /pause", func(w http.ResponseWriter, r *http.Request) {
		changed, err := e.Pause()
		control(w, changed, err, "paused", "already paused")
	})
	mux.HandleFunc("POST /resume", func(w http.ResponseWriter, r *http.Request) {
		changed, err := e.Resume()
		control(w, changed, err, "resumed", "not paused")
	})
	return mux
}

func plain(w http.ResponseWriter, ok bool, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, msg)
}

func control(w http.ResponseWriter, changed bool, err error, done, already string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch {
	case errors.Is(err, engine.ErrNotRunning):
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintln(w, err)
	case err != nil:
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, err)
	case changed:
		fmt.Fprintln(w, done)
	default:
		fmt.Fprintln(w, already)
	}
}

// Server is a running admin server.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Start listens on addr and serves Handler(e, g) from a goroutine of its
// own until Close. A port of 0 picks a free one; Addr tells which.
func Start(addr string, e Engine, g prometheus.Gatherer, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin.listen %s: %w: pick a free host:port, or set admin.listen empty to serve no admin endpoints", addr, err)
	}
	s := &Server{
		srv:  &http.Server{Handler: Handler(e, g), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("admin server stopped", "error", err)
		}
	}()
	log.Info("serving admin endpoints: /metrics /healthz /readyz /status, POST /pause /resume", "addr", ln.Addr().String())
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server, waiting up to 5 s for requests in flight.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

// StatusJSON is the body of GET /status and of `sluice status --json`.
type StatusJSON struct {
	Name       string `json:"name"`
	SourceType string `json:"source_type"`
	Phase      string `json:"phase"`
	// Role is active (holds the lease on the name and writes), standby
	// (waits for it) or empty before the engine asked; Terms counts the
	// times this process became active.
	Role         string        `json:"role"`
	RoleSince    *time.Time    `json:"role_since,omitempty"`
	Terms        int           `json:"terms"`
	Paused       bool          `json:"paused"`
	Ready        bool          `json:"ready"`
	ReadyReason  string        `json:"ready_reason"`
	Version      string        `json:"version"`
	ConfigDigest string        `json:"config_digest"`
	StartedAt    *time.Time    `json:"started_at,omitempty"`
	Snapshot     *SnapshotJSON `json:"snapshot,omitempty"`
	Positions    PositionsJSON `json:"positions"`
	Lag          LagJSON       `json:"lag"`
	// BehindBytes is the source's log ahead of sluice; null while unknown.
	BehindBytes   *int64      `json:"behind_bytes"`
	Events        int64       `json:"events"`
	LastEventTime *time.Time  `json:"last_event_time,omitempty"`
	Stalls        []StallJSON `json:"stalls"`
	LastError     string      `json:"last_error,omitempty"`
}

// SnapshotJSON is a snapshot's progress.
type SnapshotJSON struct {
	Running    bool        `json:"running"`
	Resumed    bool        `json:"resumed"`
	StartedAt  time.Time   `json:"started_at"`
	FinishedAt *time.Time  `json:"finished_at,omitempty"`
	Tables     []TableJSON `json:"tables"`
}

// TableJSON is one table's part of a snapshot.
type TableJSON struct {
	Table         string `json:"table"`
	Rows          int64  `json:"rows"`
	EstimatedRows int64  `json:"estimated_rows"`
	Done          bool   `json:"done"`
}

// PositionsJSON are the three positions of a pipeline: read from the
// source, acknowledged by Kafka, committed to the checkpoint topic.
type PositionsJSON struct {
	Read         *sluice.Position `json:"read"`
	Acknowledged *sluice.Position `json:"acknowledged"`
	Committed    *sluice.Position `json:"committed"`
	CommittedAt  *time.Time       `json:"committed_at,omitempty"`
}

// LagJSON is how far behind the source sluice is, in seconds.
type LagJSON struct {
	ReadSeconds         float64 `json:"read_seconds"`
	AcknowledgedSeconds float64 `json:"acknowledged_seconds"`
}

// StallJSON is something not answering.
type StallJSON struct {
	Target    string    `json:"target"`
	Since     time.Time `json:"since"`
	Seconds   float64   `json:"seconds"`
	LastError string    `json:"last_error,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func posPtr(p sluice.Position) *sluice.Position {
	if p == (sluice.Position{}) {
		return nil
	}
	return &p
}

// NewStatusJSON renders st.
func NewStatusJSON(st engine.Status, ready bool, readyReason string, now time.Time) StatusJSON {
	out := StatusJSON{
		Name: st.Name, SourceType: st.SourceType, Phase: string(st.Phase), Paused: st.Paused,
		Role: string(st.Role), RoleSince: timePtr(st.RoleSince), Terms: st.Terms,
		Ready: ready, ReadyReason: readyReason, Version: st.Version, ConfigDigest: st.ConfigDigest,
		StartedAt: timePtr(st.Started),
		Positions: PositionsJSON{Read: posPtr(st.Read), Acknowledged: posPtr(st.Acknowledged),
			Committed: posPtr(st.Committed), CommittedAt: timePtr(st.CommittedAt)},
		Lag:           LagJSON{ReadSeconds: st.ReadLag.Seconds(), AcknowledgedSeconds: st.AcknowledgedLag.Seconds()},
		Events:        st.Events,
		LastEventTime: timePtr(st.LastEventTime),
		Stalls:        []StallJSON{},
	}
	if st.Behind >= 0 {
		n := st.Behind
		out.BehindBytes = &n
	}
	if !st.Snapshot.Started.IsZero() {
		s := &SnapshotJSON{Running: st.Snapshot.Running, Resumed: st.Snapshot.Resumed,
			StartedAt: st.Snapshot.Started.UTC(), FinishedAt: timePtr(st.Snapshot.Finished), Tables: []TableJSON{}}
		for _, t := range st.Snapshot.Tables {
			s.Tables = append(s.Tables, TableJSON{Table: t.Table, Rows: t.Rows, EstimatedRows: t.EstimatedRows, Done: t.Done})
		}
		out.Snapshot = s
	}
	for _, s := range st.Stalls {
		out.Stalls = append(out.Stalls, StallJSON{Target: s.Target, Since: s.Since.UTC(),
			Seconds: now.Sub(s.Since).Seconds(), LastError: s.LastError})
	}
	if st.Err != nil {
		out.LastError = st.Err.Error()
	}
	return out
}

// FormatPosition renders a position for people: file:offset (and the
// GTID set) on MySQL/MariaDB, the LSN on PostgreSQL.
func FormatPosition(p *sluice.Position) string {
	switch {
	case p == nil:
		return "-"
	case p.File != "":
		s := p.File + ":" + strconv.FormatUint(p.Offset, 10)
		if p.GTIDSet != "" {
			s += " gtid_set=" + p.GTIDSet
		}
		return s
	}
	return fmt.Sprintf("%X/%X", uint32(p.LSN>>32), uint32(p.LSN))
}
