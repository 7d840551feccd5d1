package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sluiceStopTimeout is how long sluice may take to stop after SIGTERM
// (it waits up to 30 s for Kafka's acknowledgements) before it is killed.
const sluiceStopTimeout = 45 * time.Second

// sluiceSettings is what the generated configuration file says.
type sluiceSettings struct {
	Type        string // mysql or postgresql
	Name        string
	DBPort      int
	User        string
	Database    string // postgresql: the database
	Publication string // postgresql: the publication the tables' owner made
	Brokers     string
	TopicPrefix string
	RegistryURL string // the schema registry; empty writes JSON instead of Avro
	AdminListen string // the admin server (metrics, status); empty turns it off
}

// checkpointTopic is where the quickstart's sluice keeps its position; it
// shares the topic prefix so that one prefix covers every topic of a run.
func (s sluiceSettings) checkpointTopic() string { return s.TopicPrefix + ".checkpoints" }

// configYAML renders sluice's configuration file (docs/configuration.md).
// The password is not in it: sluice reads SLUICE_SOURCE_PASSWORD.
func (s sluiceSettings) configYAML() string {
	q := strconv.Quote
	patterns := "database.table"
	if s.Type == sourcePostgres {
		patterns = "schema.table (inside source.database)"
	}
	var b strings.Builder
	b.WriteString(`# Written by the quickstart (deploy/quickstart) on every run.
name: ` + q(s.Name) + `

source:
  type: ` + s.Type + `
  host: 127.0.0.1
  port: ` + strconv.Itoa(s.DBPort) + `
  user: ` + q(s.User) + `
  # The password comes from the environment variable SLUICE_SOURCE_PASSWORD.
`)
	if s.Type == sourcePostgres {
		b.WriteString(`  database: ` + q(s.Database) + `
  # Created by the tables' owner; sluice's user may only read the tables.
  publication: ` + q(s.Publication) + `
`)
	}
	b.WriteString(`
tables:
  # ` + patterns + ` patterns
  include: ["shop.*"]

kafka:
  brokers: [` + q(s.Brokers) + `]
  topic_prefix: ` + q(s.TopicPrefix) + `
  checkpoint_topic: ` + q(s.checkpointTopic()) + `
`)
	if s.RegistryURL == "" {
		b.WriteString(`
format: json
`)
	} else {
		b.WriteString(`
# Avro in Confluent's wire format; schemas go to the registry.
format: avro
schema_registry:
  urls: [` + q(s.RegistryURL) + `]
`)
	}
	if s.AdminListen != "" {
		b.WriteString(`
# Metrics, health, status, pause/resume: docs/operations.md.
admin:
  listen: ` + q(s.AdminListen) + `
`)
	}
	b.WriteString(`
log:
  level: info
  format: text
`)
	return b.String()
}

// sluiceEnv returns env without any SLUICE_ variable (they would override
// the generated file) and with SLUICE_SOURCE_PASSWORD set to password.
func sluiceEnv(env []string, password string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "SLUICE_") {
			out = append(out, kv)
		}
	}
	return append(out, "SLUICE_SOURCE_PASSWORD="+password)
}

// sluiceProcess is the running `sluice run`.
type sluiceProcess struct {
	pid     int
	logPath string
	done    chan struct{} // closed once sluice has exited and been reaped
	err     error         // its exit status, valid once done is closed
	// reported is set once exitError has described an exit of sluice's own.
	reported bool
}

// startSluice starts `bin run --config config` in dir with env, its output
// written to logPath. It spawns a goroutine that waits for the child and
// holds its OS thread meanwhile; once the child has exited it sends the
// process on exited, when exited is not nil, which must have room for it, so that the parent-death signal (SIGKILL)
// reaches sluice only when the quickstart itself dies. sluice runs in its
// own process group: a Ctrl-C in the terminal reaches the quickstart, which
// then stops sluice first.
func startSluice(dir, bin, config, logPath string, env []string, exited chan<- *sluiceProcess) (*sluiceProcess, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start sluice: open log: %w", err)
	}
	cmd := exec.Command(bin, "run", "--config", config)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &sluiceProcess{logPath: logPath, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		_ = logf.Close()
		if err != nil {
			started <- err
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
		if exited != nil {
			exited <- p
		}
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start sluice: %w", err)
	}
	return p, nil
}

// running reports whether sluice has not exited yet.
func (p *sluiceProcess) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// exitError describes an exit sluice made on its own.
func (p *sluiceProcess) exitError() error {
	p.reported = true
	status := "exited"
	if p.err != nil {
		status = p.err.Error()
	}
	return fmt.Errorf("sluice stopped on its own (%s); its log %s ends with:\n%s", status, rel(p.logPath), logTail(p.logPath, 20))
}

// stop sends SIGTERM to sluice and blocks until it has exited, at most
// sluiceStopTimeout, after which it sends SIGKILL. It fails when sluice does
// not exit cleanly. It is safe to call after sluice exited on its own; an
// exit exitError described is not reported again.
func (p *sluiceProcess) stop() error {
	if !p.running() {
		if p.err == nil || p.reported {
			return nil
		}
		return fmt.Errorf("sluice exited on its own (%w); its log %s ends with:\n%s", p.err, rel(p.logPath), logTail(p.logPath, 20))
	}
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	t := time.NewTimer(sluiceStopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("stop sluice: no exit %s after SIGTERM, killed it; see %s", sluiceStopTimeout, rel(p.logPath))
	}
	if p.err != nil {
		return fmt.Errorf("stop sluice: %w; its log %s ends with:\n%s", p.err, rel(p.logPath), logTail(p.logPath, 20))
	}
	return nil
}

// logTail returns the last n lines of the file at path, indented, or a note
// saying why it cannot.
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "    (" + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		lines = append(lines, "(read log: "+err.Error()+")")
	}
	if len(lines) == 0 {
		return "    (empty)"
	}
	return "    " + strings.Join(lines, "\n    ")
}
