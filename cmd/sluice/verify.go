package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/engine"
)

// verifyFlags are `sluice verify`'s own flags, taken out of the arguments
// before the configuration's.
type verifyFlags struct {
	opts   engine.VerifyOptions
	asJSON bool
}

const verifyFlagsLine = " [--tables PATTERN,…] [--wait DURATION] [--rechecks N] [--keys-per-pass N] [--examples N] [--json]"

const verifyUsage = `
Verify's flags:
  --tables         compare only the selected tables matching these patterns (database.table, schema.table; * and ?); default all
  --wait           how long to wait for the stored checkpoint to cover the point the tables were read at (default 2m)
  --rechecks       how often a difference is checked again from new reads before it counts (default 3; 0 checks once)
  --keys-per-pass  memory bound: keys held at once; more rows are compared in several passes (default 1000000)
  --examples       differing keys shown per topic (default 5)
  --json           print the report as JSON
Exit status: 0 when every topic equals its tables, 1 when some key differs, 2 when the comparison could not be made.
`

// exitError carries a process exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// takeVerifyFlags removes verify's flags from args.
func takeVerifyFlags(args []string) ([]string, verifyFlags, error) {
	var f verifyFlags
	f.opts.Rechecks = 3
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			out = append(out, a)
			continue
		}
		if name == "json" && !hasValue {
			f.asJSON = true
			continue
		}
		switch name {
		case "tables", "wait", "rechecks", "keys-per-pass", "examples":
		default:
			out = append(out, a)
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, f, fmt.Errorf("verify: --%s needs a value", name)
			}
			i++
			value = args[i]
		}
		var err error
		switch name {
		case "tables":
			for _, p := range strings.Split(value, ",") {
				if p = strings.TrimSpace(p); p != "" {
					f.opts.Tables = append(f.opts.Tables, p)
				}
			}
		case "wait":
			f.opts.Wait, err = time.ParseDuration(value)
			if err == nil && f.opts.Wait <= 0 {
				err = errors.New("must be positive")
			}
		case "rechecks":
			f.opts.Rechecks, err = strconv.Atoi(value)
			if err == nil && f.opts.Rechecks < 0 {
				err = errors.New("must be 0 or more")
			}
			if f.opts.Rechecks == 0 {
				f.opts.Rechecks = -1 // engine: check once
			}
		case "keys-per-pass":
			f.opts.KeysPerPass, err = strconv.Atoi(value)
			if err == nil && f.opts.KeysPerPass < 1000 {
				err = errors.New("must be at least 1000")
			}
		case "examples":
			f.opts.Examples, err = strconv.Atoi(value)
			if err == nil && f.opts.Examples < 1 {
				err = errors.New("must be at least 1")
			}
		}
		if err != nil {
			return nil, f, fmt.Errorf("verify: --%s %q: %v", name, value, err)
		}
	}
	return out, f, nil
}

// verify is `sluice verify`: it prints the report and fails (exit status
// 1, the report said why) when a key differs, with exit status 2 when the
// comparison could not be made.
func verify(ctx context.Context, e *engine.Engine, f verifyFlags, out, progress io.Writer) error {
	f.opts.Progress = func(format string, args ...any) {
		fmt.Fprintf(progress, "verify: "+format+"\n", args...)
	}
	r, err := e.Verify(ctx, f.opts)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if f.asJSON {
		if err := writeJSON(out, r); err != nil {
			return &exitError{code: 2, err: err}
		}
	} else {
		printVerify(out, r)
	}
	if r.Differences() > 0 {
		return errReported
	}
	return nil
}

func printVerify(out io.Writer, r *engine.VerifyReport) {
	fmt.Fprintf(out, "%-40s %10s %10s %8s %8s %10s\n", "TOPIC", "ROWS", "KEYS", "MISSING", "EXTRA", "DIFFERENT")
	for _, t := range r.Topics {
		if t.Skipped != "" {
			fmt.Fprintf(out, "%-40s skipped: %s\n", t.Topic, t.Skipped)
			continue
		}
		fmt.Fprintf(out, "%-40s %10d %10d %8d %8d %10d\n", t.Topic, t.Rows, t.Keys, t.Missing, t.Extra, t.Different)
	}
	for _, t := range r.Topics {
		for _, ex := range t.Examples {
			fmt.Fprintf(out, "%s: %s key %s", t.Topic, ex.Kind, ex.Key)
			if len(ex.Columns) > 0 {
				fmt.Fprintf(out, " columns %s", strings.Join(ex.Columns, ", "))
			}
			fmt.Fprintln(out)
			names := make([]string, 0, len(ex.Table)+len(ex.Topic))
			seen := map[string]bool{}
			for _, m := range []map[string]string{ex.Table, ex.Topic} {
				for c := range m {
					if !seen[c] {
						seen[c] = true
						names = append(names, c)
					}
				}
			}
			sort.Strings(names)
			for _, c := range names {
				tv, ok1 := ex.Table[c]
				pv, ok2 := ex.Topic[c]
				if !ok1 {
					tv = "(none)"
				}
				if !ok2 {
					pv = "(none)"
				}
				fmt.Fprintf(out, "    %s: table %s, topic %s\n", c, tv, pv)
			}
		}
	}
	if n := r.Differences(); n > 0 {
		fmt.Fprintf(out, "DIFFERENT: %d keys differ (checked %d passes; differences seen in every recheck)\n", n, r.Passes)
		return
	}
	fmt.Fprintf(out, "OK: every compared topic equals its tables (%d passes)\n", r.Passes)
}
