package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFreePorts(t *testing.T) {
	ports, err := freePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: want distinct positive ports", ports)
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		l.Close()
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "line %d\n\n", i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	got := tail(path, 3)
	if strings.Join(got, "|") != "line 97|line 98|line 99" {
		t.Errorf("tail = %q", got)
	}
	s := logTails(path, filepath.Join(t.TempDir(), "missing"))
	if !strings.Contains(s, "line 99") || !strings.Contains(s, path) || strings.Contains(s, "line 79") {
		t.Errorf("logTails = %q", s)
	}
	if logTails(filepath.Join(t.TempDir(), "missing")) != "" {
		t.Error("logTails of a missing file: want empty")
	}
}

func TestIsAddrInUse(t *testing.T) {
	if !isAddrInUse(errors.New("x\n[ERROR] Can't start server: Bind on TCP/IP port. Got error: 98: Address already in use")) {
		t.Error("mariadb bind error not recognised")
	}
	if !isAddrInUse(errors.New("org.apache.kafka.common.KafkaException: Socket server failed to bind to 127.0.0.1:1: Address already in use.")) {
		t.Error("kafka bind error not recognised")
	}
	if isAddrInUse(errors.New("permission denied")) || isAddrInUse(nil) {
		t.Error("unrelated error taken for a port clash")
	}
}

// alive reports whether pid names a process that is neither gone nor a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func TestProcessStop(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "out")
	p, err := startProcess(dir, log, []string{"sh", "-c", "echo started; exec sleep 60"})
	if err != nil {
		t.Fatal(err)
	}
	for len(tail(log, 1)) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	p.stop(10 * time.Second)
	if !p.exited() || alive(p.pid) {
		t.Fatal("process still running after stop")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("stop took %v for a process that obeys SIGTERM", time.Since(start))
	}
	if lines := tail(log, 5); len(lines) != 1 || lines[0] != "started" {
		t.Errorf("log = %q", lines)
	}
	p.stop(time.Second) // a second stop is a no-op
}

func TestProcessStopEscalates(t *testing.T) {
	dir := t.TempDir()
	p, err := startProcess(dir, filepath.Join(dir, "out"), []string{"sh", "-c", "trap '' TERM; sleep 60 & wait"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	p.stop(200 * time.Millisecond)
	if !p.exited() {
		t.Fatal("process ignoring SIGTERM survived stop")
	}
}

func TestStartProcessMissingBinary(t *testing.T) {
	dir := t.TempDir()
	if _, err := startProcess(dir, filepath.Join(dir, "out"), []string{filepath.Join(dir, "nope")}); err == nil {
		t.Fatal("want an error for a missing binary")
	}
}

func TestWaitReady(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "out")
	p, err := startProcess(dir, log, []string{"sh", "-c", "echo boom: Address already in use; exit 3"})
	if err != nil {
		t.Fatal(err)
	}
	err = waitReady(t.Context(), p, func(context.Context) error { return errors.New("not yet") }, log)
	if err == nil || !strings.Contains(err.Error(), "exited during start-up") || !isAddrInUse(err) {
		t.Fatalf("want an exit error quoting the log, got %v", err)
	}

	p, err = startProcess(dir, log, []string{"sleep", "60"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.kill()
	n := 0
	err = waitReady(t.Context(), p, func(context.Context) error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("want ready on the third probe, got %v after %d", err, n)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err = waitReady(ctx, p, func(context.Context) error { return errors.New("never") })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "never") {
		t.Fatalf("want a deadline error naming the last attempt, got %v", err)
	}
}

func TestRunCommand(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "out")
	if err := runCommand(t.Context(), dir, log, []string{"sh", "-c", "echo fine"}); err != nil {
		t.Fatal(err)
	}
	err := runCommand(t.Context(), dir, log, []string{"sh", "-c", "echo the cause; exit 2"})
	if err == nil || !strings.Contains(err.Error(), "the cause") {
		t.Fatalf("want an error quoting the output, got %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = runCommand(ctx, dir, log, []string{"sh", "-c", "sleep 60 & wait"})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Fatalf("want a prompt deadline error, got %v after %v", err, time.Since(start))
	}
}

// TestChildDiesWithParent starts this test binary as a parent that starts a
// child, kills the parent with SIGKILL, and checks that the child dies too.
func TestChildDiesWithParent(t *testing.T) {
	if os.Getenv("SLUICE_LOCAL_TEST_PARENT") == "1" {
		dir, _ := os.MkdirTemp("", "sluice-parent-")
		p, err := startProcess(dir, filepath.Join(dir, "out"), []string{"sleep", "60"})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(p.pid, dir)
		select {}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildDiesWithParent$")
	cmd.Env = append(os.Environ(), "SLUICE_LOCAL_TEST_PARENT=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("read child pid: %v", err)
	}
	var pid int
	var dir string
	if _, err := fmt.Sscan(line, &pid, &dir); err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("parent said %q", line)
	}
	defer os.RemoveAll(dir)
	if !alive(pid) {
		t.Fatal("child not running")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatal("child outlived its parent")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCheckPortFree(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := checkPortFree(port); err == nil {
		t.Error("port in use: want an error")
	}
	l.Close()
	if err := checkPortFree(port); err != nil {
		t.Errorf("port free again: %v", err)
	}
}
