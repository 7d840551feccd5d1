package main

import (
	"bufio"
	"encoding/json"
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

// sluiceStopTimeout is how long sluice may take to stop after SIGTERM (it
// waits up to 30 s for Kafka's acknowledgements) before it is killed.
const sluiceStopTimeout = 45 * time.Second

// sluiceConfig is one sluice process's configuration file.
type sluiceConfig struct {
	Name string
	// Type is the source type: "mysql" (the zero value) or "postgresql".
	Type   string
	DBPort int
	// Database, Slot and Publication are PostgreSQL's source.database,
	// source.slot and source.publication.
	Database, Slot, Publication string
	// Format is "json" (the zero value) or "avro"; RegistryURL is the
	// schema registry Avro needs.
	Format      string
	RegistryURL string
	// password goes to SLUICE_SOURCE_PASSWORD, never into the file.
	password        string
	Include         []string
	Brokers         string
	TopicPrefix     string
	CheckpointTopic string
	// TopicConfig is kafka.topic_config, in the order given.
	TopicConfig [][2]string
	// TLSMode is MariaDB's source.tls.mode, "" meaning disabled (the
	// phases measure plain text unless they say otherwise); CAFile its
	// source.tls.ca_file.
	TLSMode, CAFile string
	// AvroMapping is avro.mapping with format avro, "" for the default.
	AvroMapping string
	// AdminListen is admin.listen, always written so that no run falls
	// back on the default port 9180: "" (the zero value, every phase but
	// the admin phase's "on" runs) turns the admin server off; the "on"
	// runs use "127.0.0.1:0" and read the port from sluice's log.
	AdminListen string
	// ExactlyOnce is kafka.exactly_once, always written: false (the zero
	// value, every phase but the eos phase's "on" runs) writes records at
	// least once; true writes them in Kafka transactions committed with
	// their checkpoint.
	ExactlyOnce bool
}

// yaml renders the configuration (docs/configuration.md). The password is
// not in it: sluice reads SLUICE_SOURCE_PASSWORD.
func (c sluiceConfig) yaml() string {
	q := strconv.Quote
	var inc []string
	for _, p := range c.Include {
		inc = append(inc, q(p))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\n", q(c.Name))
	typ, user := "mysql", "root"
	if c.Type == "postgresql" {
		typ, user = "postgresql", "postgres"
	}
	fmt.Fprintf(&b, "source:\n  type: %s\n  host: 127.0.0.1\n  port: %d\n  user: %s\n", typ, c.DBPort, user)
	if c.Type == "postgresql" {
		fmt.Fprintf(&b, "  database: %s\n  slot: %s\n  publication: %s\n  sslmode: disable\n", q(c.Database), q(c.Slot), q(c.Publication))
	} else {
		mode := c.TLSMode
		if mode == "" {
			mode = "disabled"
		}
		fmt.Fprintf(&b, "  tls:\n    mode: %s\n", mode)
		if c.CAFile != "" {
			fmt.Fprintf(&b, "    ca_file: %s\n", q(c.CAFile))
		}
	}
	fmt.Fprintf(&b, "tables:\n  include: [%s]\n", strings.Join(inc, ", "))
	fmt.Fprintf(&b, "kafka:\n  brokers: [%s]\n  topic_prefix: %s\n  checkpoint_topic: %s\n  exactly_once: %t\n",
		q(c.Brokers), q(c.TopicPrefix), q(c.CheckpointTopic), c.ExactlyOnce)
	if len(c.TopicConfig) > 0 {
		b.WriteString("  topic_config:\n")
		for _, kv := range c.TopicConfig {
			fmt.Fprintf(&b, "    %s: %s\n", kv[0], q(kv[1]))
		}
	}
	if c.Format == "avro" {
		fmt.Fprintf(&b, "format: avro\nschema_registry:\n  urls: [%s]\n", q(c.RegistryURL))
		if c.AvroMapping != "" {
			fmt.Fprintf(&b, "avro:\n  mapping: %s\n", c.AvroMapping)
		}
	} else {
		b.WriteString("format: json\n")
	}
	fmt.Fprintf(&b, "admin:\n  listen: %s\n", q(c.AdminListen))
	b.WriteString("log:\n  level: info\n  format: json\n")
	return b.String()
}

// sluiceEnv returns env without any SLUICE_ variable (they would override
// the generated file) and with SLUICE_SOURCE_PASSWORD set.
func sluiceEnv(env []string, password string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "SLUICE_") {
			out = append(out, kv)
		}
	}
	return append(out, "SLUICE_SOURCE_PASSWORD="+password)
}

// sluiceProcess is a running `sluice run`.
type sluiceProcess struct {
	pid     int
	started time.Time
	logPath string
	done    chan struct{} // closed once sluice has exited and been reaped
	err     error         // exit status, valid once done is closed
}

// startSluice starts `bin run --config config extra...` with env, its
// output written to logPath. It spawns a goroutine that waits for the child
// and holds its OS thread meanwhile, so that the parent-death signal
// (SIGKILL) reaches sluice only when the bench itself dies. sluice runs in
// its own process group, so a Ctrl-C reaches the bench, which then stops
// sluice.
func startSluice(bin, config, logPath string, extra, env []string) (*sluiceProcess, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start sluice: open log: %w", err)
	}
	cmd := exec.Command(bin, append([]string{"run", "--config", config}, extra...)...)
	cmd.Env = env
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &sluiceProcess{logPath: logPath, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		p.started = time.Now()
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
	status := "exit status 0"
	if p.err != nil {
		status = p.err.Error()
	}
	return fmt.Errorf("sluice stopped on its own (%s); its log %s ends with:\n%s", status, p.logPath, logTail(p.logPath, 15))
}

// stop sends SIGTERM to sluice and blocks until it has exited, at most
// sluiceStopTimeout, after which it sends SIGKILL. It fails when sluice does
// not exit cleanly, and is safe to call more than once.
func (p *sluiceProcess) stop() error {
	if !p.running() {
		if p.err == nil {
			return nil
		}
		return p.exitError()
	}
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	t := time.NewTimer(sluiceStopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("stop sluice: no exit %s after SIGTERM, killed it; see %s", sluiceStopTimeout, p.logPath)
	}
	if p.err != nil {
		return fmt.Errorf("stop sluice: %w; its log %s ends with:\n%s", p.err, p.logPath, logTail(p.logPath, 15))
	}
	return nil
}

// kill sends SIGKILL to sluice and waits for it; for cleanup after an
// error.
func (p *sluiceProcess) kill() {
	if p.running() {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.done
	}
}

// logLine is one entry of sluice's JSON log, as far as the bench reads it.
type logLine struct {
	Level string          `json:"level"`
	Msg   string          `json:"msg"`
	Table string          `json:"table"`
	Rows  int64           `json:"rows"`
	Took  json.RawMessage `json:"took"`
	Addr  string          `json:"addr"`
}

// adminLogMsg begins the message sluice logs once its admin server
// listens, with the address in "addr".
const adminLogMsg = "serving admin endpoints"

// adminAddr returns the address of sluice's admin server from the JSON log
// at path, "" while sluice has not logged it yet.
func adminAddr(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read sluice log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && strings.HasPrefix(l.Msg, adminLogMsg) && l.Addr != "" {
			return l.Addr, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read sluice log: %w", err)
	}
	return "", nil
}

// snapshotTook returns the "took" of each "snapshot: table done" line of
// the JSON log at path, by table.
func snapshotTook(path string) (map[string]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read sluice log: %w", err)
	}
	defer f.Close()
	out := map[string]time.Duration{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Msg != "snapshot: table done" {
			continue
		}
		d, err := parseLogDuration(l.Took)
		if err != nil {
			return nil, fmt.Errorf("read sluice log: table %s: %w", l.Table, err)
		}
		out[l.Table] = d
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read sluice log: %w", err)
	}
	return out, nil
}

// parseLogDuration reads a duration as slog writes it: JSON numbers are
// nanoseconds, strings are in Go's form ("1.5s").
func parseLogDuration(raw json.RawMessage) (time.Duration, error) {
	var ns int64
	if err := json.Unmarshal(raw, &ns); err == nil {
		return time.Duration(ns), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("duration %s: neither nanoseconds nor a string", raw)
	}
	return time.ParseDuration(s)
}

// warnings returns the WARN and ERROR messages of the JSON log at path,
// each once.
func warnings(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil || (l.Level != "WARN" && l.Level != "ERROR") {
			continue
		}
		if !seen[l.Msg] {
			seen[l.Msg] = true
			out = append(out, l.Level+": "+l.Msg)
		}
	}
	return out
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
