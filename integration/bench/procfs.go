package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat. Linux
// reports them in USER_HZ, which is 100 on every architecture Go supports.
const clockTick = 10 * time.Millisecond

// procStat is what the bench reads from /proc/<pid>/stat.
type procStat struct {
	PID  int
	Comm string
	PPID int
	CPU  time.Duration // utime + stime
}

// parseProcStat parses the text of /proc/<pid>/stat. The command name sits
// in parentheses and may itself contain spaces and parentheses, so the
// fields are counted from the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	lp := bytes.IndexByte(b, '(')
	rp := bytes.LastIndexByte(b, ')')
	if lp < 0 || rp < lp {
		return procStat{}, fmt.Errorf("parse /proc stat: no command name in %q", b)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:lp])))
	if err != nil {
		return procStat{}, fmt.Errorf("parse /proc stat: pid: %w", err)
	}
	// Fields after the command: 3 state, 4 ppid, ... 14 utime, 15 stime.
	f := strings.Fields(string(b[rp+1:]))
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("parse /proc stat: %d fields after the command, want at least 13", len(f))
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseInt(f[11], 10, 64)
	stime, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, fmt.Errorf("parse /proc stat: bad ppid, utime or stime in %q", b)
	}
	return procStat{PID: pid, Comm: string(b[lp+1 : rp]), PPID: ppid, CPU: time.Duration(utime+stime) * clockTick}, nil
}

// readProcStat reads /proc/<pid>/stat.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("read cpu time of process %d: %w", pid, err)
	}
	return parseProcStat(b)
}

// parseStatusKB returns the value in bytes of a "Key:   123 kB" line of
// /proc/<pid>/status.
func parseStatusKB(status []byte, key string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != key {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("parse /proc status: unexpected %s line %q", key, line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc status: %s: %w", key, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("parse /proc status: no %s line", key)
}

// peakRSS returns the process's peak resident set size (VmHWM) in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read peak rss of process %d: %w", pid, err)
	}
	return parseStatusKB(b, "VmHWM")
}

// processes returns every process on the machine; processes that exit
// while it reads are skipped.
func processes() map[int]procStat {
	out := map[int]procStat{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil {
			out[pid] = st
		}
	}
	return out
}

// descendants returns the pids of root and every process below it.
func descendants(all map[int]procStat, root int) map[int]bool {
	children := map[int][]int{}
	for pid, st := range all {
		children[st.PPID] = append(children[st.PPID], pid)
	}
	out := map[int]bool{root: true}
	stack := []int{root}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range children[p] {
			if !out[c] {
				out[c] = true
				stack = append(stack, c)
			}
		}
	}
	return out
}

// machineBusy returns the CPU time all cores spent not idle (user, nice,
// system, irq, softirq, steal) since boot, from the first line of
// /proc/stat.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("read machine cpu time: %w", err)
	}
	return parseMachineBusy(b)
}

func parseMachineBusy(b []byte) (time.Duration, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("parse /proc/stat: unexpected first line %q", line)
	}
	var busy int64
	// user nice system idle iowait irq softirq steal
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc/stat: field %d: %w", i, err)
		}
		busy += v
	}
	return time.Duration(busy) * clockTick, nil
}

// cpuRole names what a process of the bench's tree is, for the CPU split.
func cpuRole(comm string) string {
	switch {
	case comm == "sluice":
		return "sluice"
	case strings.HasPrefix(comm, "mariadb") || strings.HasPrefix(comm, "mysqld") || strings.HasPrefix(comm, "postgres"):
		return "database"
	case comm == "java":
		return "kafka"
	default:
		return "bench"
	}
}

// cpuSample is the CPU time used so far by the machine and by the bench's
// own processes, by role.
type cpuSample struct {
	at     time.Time
	busy   time.Duration
	byRole map[string]time.Duration
}

// sampleCPU reads the machine's busy time and the CPU time of every process
// in the bench's tree (the bench itself, the servers, sluice, perf).
func sampleCPU() (cpuSample, error) {
	busy, err := machineBusy()
	if err != nil {
		return cpuSample{}, err
	}
	all := processes()
	mine := descendants(all, os.Getpid())
	s := cpuSample{at: time.Now(), busy: busy, byRole: map[string]time.Duration{}}
	for pid := range mine {
		st, ok := all[pid]
		if !ok {
			continue
		}
		s.byRole[cpuRole(st.Comm)] += st.CPU
	}
	return s, nil
}

// cpuShare is the average number of cores each party used between two
// samples. Other is the machine's busy time not spent by the bench's tree:
// other people's work on the machine.
type cpuShare struct {
	Sluice, DB, Kafka, Bench, Other float64
}

// total is the cores the whole machine used.
func (s cpuShare) total() float64 { return s.Sluice + s.DB + s.Kafka + s.Bench + s.Other }

// shareBetween computes the cores used between a and b. A process that
// started after a counts from zero; one that exited before b is missing
// from b and its time shows up under Other, so b is taken while the
// measured processes still run.
func shareBetween(a, b cpuSample) cpuShare {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return cpuShare{}
	}
	d := func(role string) float64 {
		v := (b.byRole[role] - a.byRole[role]).Seconds()
		return max(v, 0) / wall
	}
	s := cpuShare{Sluice: d("sluice"), DB: d("database"), Kafka: d("kafka"), Bench: d("bench")}
	s.Other = max((b.busy-a.busy).Seconds()/wall-s.Sluice-s.DB-s.Kafka-s.Bench, 0)
	return s
}

// foreignServers lists processes that are not the bench's own (its tree
// and the chain of its parents, such as `go run` and make) and look like
// database servers, Kafka brokers or test runs: other people's work that
// would skew the figures.
func foreignServers() []string {
	all := processes()
	mine := descendants(all, os.Getpid())
	for pid := os.Getppid(); pid > 1 && !mine[pid]; pid = all[pid].PPID {
		mine[pid] = true
	}
	var out []string
	for pid := range all {
		if mine[pid] {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil {
			continue
		}
		line := strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
		if isForeignLoad(line) {
			if len(line) > 100 {
				line = line[:100] + "…"
			}
			out = append(out, fmt.Sprintf("%d %s", pid, line))
		}
	}
	return out
}

// isForeignLoad reports whether a command line is a server or a test run
// that competes for the CPU.
func isForeignLoad(cmdline string) bool {
	f := strings.Fields(cmdline)
	if len(f) == 0 {
		return false
	}
	base := filepath.Base(f[0])
	switch {
	case base == "mariadbd" || base == "mysqld" || base == "postgres":
		return true
	case strings.Contains(cmdline, "kafka.Kafka"):
		return true
	case base == "go" && len(f) > 1 && (f[1] == "test" || f[1] == "run"):
		return true
	case strings.HasSuffix(base, ".test"):
		return true
	}
	return false
}

// loadAverage returns the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
