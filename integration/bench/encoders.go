package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// encoderCommand is the go test run whose figures the report quotes (the
// report prints it quoted for a shell; keep the two in step).
var encoderCommand = []string{"test", "-run", "^$", "-bench", "Avro|JSON", "-benchmem", "./schema/"}

// encoderBench is one line of `go test -bench` output.
type encoderBench struct {
	Name        string // without the "Benchmark" prefix and the -GOMAXPROCS suffix
	NsPerOp     float64
	BytesPerOp  int64 // -1 when not reported
	AllocsPerOp int64 // -1 when not reported
	MBPerSec    float64
}

// runEncoderBenchmarks runs the schema package's encoder micro-benchmarks
// and parses their figures. It blocks until go test is done.
func runEncoderBenchmarks(ctx context.Context, root string) ([]encoderBench, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.CommandContext(ctx, goCmd, encoderCommand...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("encoder benchmarks (go %s): %w:\n%s", strings.Join(encoderCommand, " "), err, out)
	}
	res, err := parseBenchOutput(out)
	if err != nil {
		return nil, fmt.Errorf("encoder benchmarks: %w", err)
	}
	for _, r := range res {
		say("  %s: %.0f ns/op, %d B/op, %d allocs/op", r.Name, r.NsPerOp, r.BytesPerOp, r.AllocsPerOp)
	}
	return res, nil
}

// parseBenchOutput reads the result lines of `go test -bench` output,
// such as "BenchmarkAvroValue-2  1000000  1234 ns/op  12.3 MB/s  0 B/op  0 allocs/op".
func parseBenchOutput(out []byte) ([]encoderBench, error) {
	var res []encoderBench
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		b := encoderBench{Name: name, BytesPerOp: -1, AllocsPerOp: -1}
		ok := false
		for i := 2; i+1 < len(f); i += 2 {
			v, unit := f[i], f[i+1]
			switch unit {
			case "ns/op":
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return nil, fmt.Errorf("line %q: %w", sc.Text(), err)
				}
				b.NsPerOp, ok = n, true
			case "MB/s":
				b.MBPerSec, _ = strconv.ParseFloat(v, 64)
			case "B/op":
				b.BytesPerOp, _ = strconv.ParseInt(v, 10, 64)
			case "allocs/op":
				b.AllocsPerOp, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		if ok {
			res = append(res, b)
		}
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("no benchmark results in the output:\n%s", out)
	}
	return res, nil
}
