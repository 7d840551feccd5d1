package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// perfFrequency is the sampling rate of perf record, per CPU. At 499 Hz
// the cost to the sampled process is well under 1%.
const perfFrequency = 499

// perfRecording is a running `perf record` attached to one process.
type perfRecording struct {
	path string
	done chan struct{}
	err  error
	pid  int
	out  *limitedBuffer
}

// perfAvailable reports whether perf can sample processes here, and why
// not.
func perfAvailable(ctx context.Context) (bool, string) {
	if _, err := exec.LookPath("perf"); err != nil {
		return false, "perf is not installed (Debian: apt-get install linux-perf)"
	}
	cmd := exec.CommandContext(ctx, "perf", "record", "-q", "-e", "cpu-clock", "-o", "/dev/null", "--", "true")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return false, fmt.Sprintf("perf record does not work here (%v: %s); as root, or with kernel.perf_event_paranoid <= 1, it does",
			err, strings.TrimSpace(string(msg)))
	}
	return true, ""
}

// startPerf attaches `perf record` (cpu-clock, frame-pointer call graphs)
// to pid, writing to path. It spawns a goroutine that waits for perf,
// holding its OS thread so that perf dies with the bench. Stop it with
// stop.
func startPerf(pid int, path string) (*perfRecording, error) {
	r := &perfRecording{path: path, done: make(chan struct{}), out: &limitedBuffer{max: 4096}}
	cmd := exec.Command("perf", "record", "-q", "-e", "cpu-clock", "-F", strconv.Itoa(perfFrequency),
		"--call-graph", "fp", "-p", strconv.Itoa(pid), "-o", path)
	cmd.Stdout, cmd.Stderr = r.out, r.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		r.pid = cmd.Process.Pid
		started <- nil
		r.err = cmd.Wait()
		close(r.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start perf record: %w", err)
	}
	return r, nil
}

// stop sends SIGINT to perf, which makes it write its data and exit, and
// blocks until it has, at most 30 s.
func (r *perfRecording) stop() error {
	select {
	case <-r.done:
	default:
		_ = syscall.Kill(r.pid, syscall.SIGINT)
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(r.pid, syscall.SIGKILL)
			<-r.done
			return fmt.Errorf("perf record did not stop within 30 s of SIGINT")
		}
	}
	// perf exits with the status of SIGINT's handling; a data file is what
	// counts, and perf report says if it is broken.
	return nil
}

// perfEntry is one symbol of a perf report: the share of samples in which
// it was on the stack (Children) and on top of it (Self), in percent.
type perfEntry struct {
	Children, Self float64
	Kernel         bool
	Symbol         string
}

// profile is one process's CPU profile over a phase.
type profile struct {
	Samples int
	// Approx is set when Samples is rounded (perf prints "2K").
	Approx  bool
	Entries []perfEntry
}

// readProfile runs perf report on the data at path. It blocks until perf
// is done.
func readProfile(ctx context.Context, path string) (*profile, error) {
	cmd := exec.CommandContext(ctx, "perf", "report", "-i", path, "--stdio", "--children",
		"--sort", "sym", "-g", "none", "--percent-limit", "0.1")
	var stderr limitedBuffer
	stderr.max = 4096
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("perf report %s: %w: %s", path, err, stderr.String())
	}
	return parsePerfReport(out)
}

var (
	perfLine    = regexp.MustCompile(`^\s*([0-9.]+)%\s+([0-9.]+)%\s+\[(.)\]\s+(.+?)\s*$`)
	perfSamples = regexp.MustCompile(`^# Samples: (\d+)([KMG]?) `)
)

// parsePerfReport reads the output of `perf report --stdio --children
// --sort sym -g none`.
func parsePerfReport(out []byte) (*profile, error) {
	p := &profile{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if m := perfSamples.FindStringSubmatch(line); m != nil {
			// perf abbreviates large counts: "2K", "1M".
			p.Samples, _ = strconv.Atoi(m[1])
			p.Samples *= map[string]int{"": 1, "K": 1000, "M": 1000_000, "G": 1000_000_000}[m[2]]
			p.Approx = m[2] != ""
			continue
		}
		m := perfLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		children, _ := strconv.ParseFloat(m[1], 64)
		self, _ := strconv.ParseFloat(m[2], 64)
		p.Entries = append(p.Entries, perfEntry{Children: children, Self: self, Kernel: m[3] == "k", Symbol: m[4]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read perf report: %w", err)
	}
	if len(p.Entries) == 0 {
		return nil, fmt.Errorf("read perf report: no samples")
	}
	return p, nil
}

// symbolPackage returns the Go package a symbol belongs to, "[kernel]" for
// kernel symbols and "?" for addresses perf could not name.
func symbolPackage(e perfEntry) string {
	if e.Kernel {
		return "[kernel]"
	}
	s := e.Symbol
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "[") {
		return "?"
	}
	s = strings.TrimPrefix(s, "type:.eq.")
	slash := strings.LastIndexByte(s, '/')
	dot := strings.IndexByte(s[slash+1:], '.')
	if dot < 0 {
		// Assembly helpers such as gcWriteBarrier and memeqbody.
		return "runtime"
	}
	return s[:slash+1+dot]
}

// shortName drops the well-known module prefixes from a symbol or package
// name.
func shortName(s string) string {
	for _, p := range [][2]string{
		{"github.com/sluice-cdc/sluice/", "sluice/"},
		{"github.com/go-mysql-org/go-mysql/", "go-mysql/"},
		{"github.com/twmb/franz-go/pkg/", "franz-go/"},
		{"github.com/pierrec/lz4/v4/", "lz4/"},
		{"github.com/klauspost/compress/", "compress/"},
		{"github.com/shopspring/decimal", "decimal"},
	} {
		if strings.HasPrefix(s, p[0]) {
			return p[1] + s[len(p[0]):]
		}
	}
	return s
}

// share is a named percentage.
type share struct {
	Name    string
	Percent float64
}

// selfByPackage sums the self time of each package, largest first.
func (p *profile) selfByPackage() []share {
	sums := map[string]float64{}
	for _, e := range p.Entries {
		sums[symbolPackage(e)] += e.Self
	}
	out := make([]share, 0, len(sums))
	for k, v := range sums {
		out = append(out, share{Name: shortName(k), Percent: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Percent != out[j].Percent {
			return out[i].Percent > out[j].Percent
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// self returns the n symbols with the largest self share.
func (p *profile) self(n int) []perfEntry {
	out := append([]perfEntry(nil), p.Entries...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Self > out[j].Self })
	return out[:min(n, len(out))]
}

// inclusiveOf returns the inclusive share of the first of symbols the
// profile holds, and whether it holds any.
func (p *profile) inclusiveOf(symbols ...string) (float64, bool) {
	for _, s := range symbols {
		for _, e := range p.Entries {
			if e.Symbol == s {
				return e.Children, true
			}
		}
	}
	return 0, false
}

// readPprofTop reads a Go CPU profile written by runtime/pprof through
// `go tool pprof -top`, into the same form as a perf report: flat is self,
// cum is inclusive. Go profiles carry their own symbols, so this works
// where perf cannot name the functions of a stripped binary (go run
// strips the bench). It blocks until pprof is done.
func readPprofTop(ctx context.Context, path string) (*profile, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.CommandContext(ctx, goCmd, "tool", "pprof", "-top", "-nodecount=1000", path)
	var stderr limitedBuffer
	stderr.max = 4096
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof %s: %w: %s", path, err, stderr.String())
	}
	return parsePprofTop(out)
}

var (
	pprofLine  = regexp.MustCompile(`^\s*\S+\s+([0-9.]+)%\s+[0-9.]+%\s+\S+\s+([0-9.]+)%\s+(.+?)\s*$`)
	pprofTotal = regexp.MustCompile(`Total samples = (\S+)`)
)

// parsePprofTop reads the output of `go tool pprof -top`.
func parsePprofTop(out []byte) (*profile, error) {
	p := &profile{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if m := pprofTotal.FindStringSubmatch(line); m != nil {
			// runtime/pprof samples at 100 Hz: one sample per 10 ms.
			if d, err := time.ParseDuration(m[1]); err == nil {
				p.Samples = int(d / (10 * time.Millisecond))
			}
			continue
		}
		m := pprofLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		self, _ := strconv.ParseFloat(m[1], 64)
		cum, _ := strconv.ParseFloat(m[2], 64)
		p.Entries = append(p.Entries, perfEntry{Children: cum, Self: self, Symbol: strings.TrimSuffix(m[3], " (inline)")})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read pprof output: %w", err)
	}
	if len(p.Entries) == 0 {
		return nil, fmt.Errorf("read pprof output: no samples")
	}
	sort.SliceStable(p.Entries, func(i, j int) bool { return p.Entries[i].Children > p.Entries[j].Children })
	return p, nil
}
