package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// server is a long-running child together with what it takes to start it
// again and to clean up after it. Its methods are safe for concurrent use.
type server struct {
	dir       string   // working directory of the child
	removeDir bool     // remove dir on close
	remove    []string // further paths to remove on close
	argv      []string
	outLog    string                      // receives the child's stdout and stderr
	logs      []string                    // logs whose tails explain a failed start
	probe     func(context.Context) error // succeeds once the server serves clients
	cred      *syscall.Credential         // the child's user; nil means this process's
	// stopSignal, when set, is sent to the child alone to shut it down;
	// otherwise SIGTERM goes to the child's process group.
	stopSignal syscall.Signal
	// killTree makes kill find and kill the child's own children too, for
	// a child that puts them in process groups of their own.
	killTree bool

	mu     sync.Mutex
	proc   *process
	closed bool
}

// start starts the child and blocks until probe succeeds, the child exits,
// or ctx is done. A child that does not become ready is killed.
func (s *server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("start server: already stopped for good")
	}
	if s.proc != nil && !s.proc.exited() {
		return fmt.Errorf("start %s: already running", s.proc.name)
	}
	p, err := startProcessAs(s.dir, s.outLog, s.argv, s.cred)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, p, s.probe, s.logs...); err != nil {
		if s.killTree {
			p.killTree()
		} else {
			p.kill()
		}
		return err
	}
	s.proc = p
	return nil
}

// stop shuts the child down gracefully (SIGTERM to its process group, or
// stopSignal to the child alone; after stopTimeout SIGKILL, to the group or,
// with stopSignal, as killTree sends it) and blocks until it has exited.
func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.proc == nil:
	case s.stopSignal != 0:
		s.proc.stopLeader(s.stopSignal, stopTimeout)
	default:
		s.proc.stop(stopTimeout)
	}
}

// kill sends SIGKILL to the child (and, with killTree, to its children) and
// blocks until it has exited.
func (s *server) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.proc == nil:
	case s.killTree:
		s.proc.killTree()
	default:
		s.proc.kill()
	}
}

// restart stops the child gracefully, then starts it again like start.
func (s *server) restart(ctx context.Context) error {
	s.stop()
	return s.start(ctx)
}

// close stops the child and removes what the owner asked to remove. It is
// safe to call more than once.
func (s *server) close() error {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	paths := s.remove
	if s.removeDir {
		paths = append(paths, s.dir)
	}
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("remove server directory: %w", err))
		}
	}
	return errors.Join(errs...)
}
