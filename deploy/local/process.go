package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// defaultStartTimeout bounds installation and start-up when the caller's
	// context has no deadline.
	defaultStartTimeout = 2 * time.Minute
	// installTimeout bounds an installation when the caller's context has
	// no deadline.
	installTimeout = 10 * time.Minute
	// stopTimeout is how long a server may take to shut down after SIGTERM
	// before it is killed.
	stopTimeout = 30 * time.Second
	// tailLines is how many lines of a log an error quotes.
	tailLines = 20
)

// process is one child started by this package. It runs in its own process
// group and dies with SIGKILL when the goroutine that started it ends, which
// happens only after the child has exited or when this process dies.
type process struct {
	name string
	pid  int
	done chan struct{} // closed once the child has exited and been reaped
	err  error         // the child's exit status, valid once done is closed
}

// startProcess starts argv in dir with stdout and stderr appended to logPath.
// It spawns a goroutine that keeps its OS thread locked and waits for the
// child, so that the parent-death signal fires only when this process dies.
func startProcess(dir, logPath string, argv []string) (*process, error) {
	return startProcessAs(dir, logPath, argv, nil)
}

// startProcessAs is startProcess with the child running under cred; nil
// means as this process's user.
func startProcessAs(dir, logPath string, argv []string, cred *syscall.Credential) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log for %s: %w", filepath.Base(argv[0]), err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	p := &process{name: filepath.Base(argv[0]), done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig is sent when the thread that forked the child exits,
		// so this goroutine holds its thread until the child is gone.
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
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", p.name, err)
	}
	return p, nil
}

// exited reports whether the child has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the child's process group and waits up to timeout
// for it to exit, then sends SIGKILL and waits for it. It blocks until the
// child is gone.
func (p *process) stop(timeout time.Duration) {
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.kill()
	}
}

// stopLeader sends sig to the child alone, not its process group, and waits
// up to timeout for it to exit, then kills it with killTree. It suits a
// server that shuts its own children down on sig. It blocks until the child
// is gone.
func (p *process) stopLeader(sig syscall.Signal, timeout time.Duration) {
	if p.exited() {
		return
	}
	_ = syscall.Kill(p.pid, sig)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.killTree()
	}
}

// killTree is kill for a child whose own children leave its process group
// (PostgreSQL's postmaster puts each in a session of its own). It stops the
// child so that it forks no more, sends SIGKILL to its children, found by
// parent pid, and then to the child's group, and blocks until the child is
// reaped and its children are gone (at most ten seconds for those).
func (p *process) killTree() {
	if p.exited() {
		return
	}
	_ = syscall.Kill(p.pid, syscall.SIGSTOP)
	kids := childPIDs(p.pid)
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
	p.kill()
	deadline := time.Now().Add(10 * time.Second)
	for _, k := range kids {
		for running(k) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// childPIDs returns the pids of the running processes whose parent is pid.
func childPIDs(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var kids []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, ok := procStat(n); ok && ppid == pid {
			kids = append(kids, n)
		}
	}
	return kids
}

// running reports whether pid names a process that has not exited; a
// zombie has.
func running(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != 'Z' && state != 'X'
}

// procStat reads the state and parent pid of process pid from /proc.
func procStat(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], ppid, true
}

// kill sends SIGKILL to the child's process group and waits for the child to
// exit.
func (p *process) kill() {
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	<-p.done
}

// runCommand runs argv to completion in dir with stdout and stderr appended
// to logPath, and returns an error quoting the log's tail when it fails. It
// blocks; when ctx is done the child's process group is killed. The child
// dies with this process, like the servers.
func runCommand(ctx context.Context, dir, logPath string, argv []string) error {
	return runCommandAs(ctx, dir, logPath, argv, nil)
}

// runCommandAs is runCommand with the child running under cred; nil means
// as this process's user.
func runCommandAs(ctx context.Context, dir, logPath string, argv []string, cred *syscall.Credential) error {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log for %s: %w", filepath.Base(argv[0]), err)
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("run %s: %w", filepath.Base(argv[0]), ctx.Err())
		}
		return fmt.Errorf("run %s: %w%s", filepath.Base(argv[0]), err, logTails(logPath))
	}
	return nil
}

// waitReady calls probe until it succeeds, the process exits, or ctx is done.
// It blocks, retrying every 200 ms; each probe gets at most five seconds. The
// error quotes the tails of logs.
func waitReady(ctx context.Context, p *process, probe func(context.Context) error, logs ...string) error {
	var last error
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = probe(pctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during start-up (%v)%s", p.name, p.err, logTails(logs...))
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready: %w (last attempt: %v)%s", p.name, ctx.Err(), last, logTails(logs...))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// withStartTimeout gives ctx the default start-up deadline when it has none.
func withStartTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return withDefaultTimeout(ctx, defaultStartTimeout)
}

// withDefaultTimeout gives ctx a deadline d from now when it has none.
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a moment
// ago. Another process may take one before the caller binds it; callers
// retry a start that fails with "Address already in use".
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// checkPortFree returns an error naming the fix when port is taken on
// 127.0.0.1.
func checkPortFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port %d on 127.0.0.1 is taken (choose another port, or 0 for a free one): %w", port, err)
	}
	return l.Close()
}

// isAddrInUse reports whether err says a server could not bind its port.
func isAddrInUse(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "Address already in use") || strings.Contains(s, "BindException")
}

// logTails returns the last lines of each non-empty log, each under a header
// naming the file, for appending to an error message. It returns "" when
// every log is empty or missing.
func logTails(paths ...string) string {
	var b strings.Builder
	for _, path := range paths {
		lines := tail(path, tailLines)
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n--- last %d lines of %s ---", len(lines), path)
		for _, l := range lines {
			b.WriteString("\n")
			b.WriteString(l)
		}
	}
	return b.String()
}

// tail returns up to n last non-empty lines of the file at path, reading at
// most its last 64 KiB.
func tail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	const window = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > window {
		if _, err := f.Seek(-window, io.SeekEnd); err != nil {
			return nil
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil
	}
	var lines []string
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, string(bytes.TrimRight(l, "\r")))
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// prepareDir makes dir (a new temporary directory named after pattern when
// dir is empty) and returns its absolute path and whether it was created.
func prepareDir(dir, pattern string) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", pattern)
		if err != nil {
			return "", fmt.Errorf("create server directory: %w", err)
		}
		return d, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve server directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("create server directory: %w", err)
	}
	return abs, nil
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// errNotFound is returned by findBinary when no candidate exists.
var errNotFound = errors.New("not found")

// findBinary returns the first of name (looked up in PATH) or the fallback
// paths that is an executable file.
func findBinary(name string, fallbacks ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, p := range fallbacks {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("find %s: %w", name, errNotFound)
}
