package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// flagValue checks a flag's value when it is parsed and records it, so flags
// can be applied after the config file and the environment.
type flagValue struct {
	s      *setting
	parsed *[]parsedFlag
}

type parsedFlag struct {
	s *setting
	v reflect.Value
}

func (f flagValue) String() string { return "" }

// IsBoolFlag lets a true-or-false setting be given as a bare flag
// (--schema_registry.tls.insecure_skip_verify).
func (f flagValue) IsBoolFlag() bool { return f.s.typ == boolType }

func (f flagValue) Set(raw string) error {
	v, err := parseValue(f.s.typ, raw)
	if err != nil {
		return fmt.Errorf("%w, got %s", err, quoteRaw(raw))
	}
	*f.parsed = append(*f.parsed, parsedFlag{f.s, v})
	return nil
}

// Load builds the configuration from, in rising precedence, the
// defaults, the YAML config file, the SLUICE_* variables in env ("KEY=value"
// entries, as from os.Environ) and the flags in args (the arguments after the
// subcommand). The file is --config if given, else $SLUICE_CONFIG, else path;
// when all are empty no file is read. It reads the config file and
// source.password_file, derives source.server_id when it is 0, and runs
// [Config.Validate].
//
// Errors in the file name the file, the line and the key; flag and
// environment errors name the flag or variable. All problems found are
// returned together. -h or --help returns an error wrapping [flag.ErrHelp];
// print [FlagUsage] then. Empty environment variables count as unset.
//
// A SLUICE_* variable that names no setting is ignored with a warning
// ([Config.Warnings]) that suggests the nearest setting's variable; when
// Load fails, the warnings follow the problems in its error, since a
// misspelt variable is often the cause of a missing setting. The variables
// Kubernetes injects for a Service named sluice (SLUICE_SERVICE_HOST,
// SLUICE_PORT_8080_TCP, …) and SLUICE_CACHE, which sluice's test and
// quickstart harness reads, draw no warning.
//
// Load never connects to anything: every check it runs is on the values
// alone.
func Load(path string, args []string, env []string) (*Config, error) {
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	warnings := envWarnings(vars)
	fail := func(err error) (*Config, error) {
		if len(warnings) == 0 || errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		errs := []error{err}
		for _, w := range warnings {
			errs = append(errs, errors.New(w))
		}
		return nil, errors.Join(errs...)
	}

	fs := flag.NewFlagSet("sluice", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var parsed []parsedFlag
	all := settings()
	for i := range all {
		fs.Var(flagValue{&all[i], &parsed}, all[i].key, all[i].help)
	}
	configFlag := fs.String("config", "", "YAML config file")
	if err := fs.Parse(args); err != nil {
		return fail(flagError(err))
	}
	if fs.NArg() > 0 {
		// After "--source.password= x" the stray argument may be the
		// password, so it is shown only when no password flag was given.
		shown := quoteRaw(fs.Arg(0)) + " "
		for _, p := range parsed {
			if p.s.typ == secretType {
				shown = ""
			}
		}
		return fail(fmt.Errorf("unexpected argument %s(argument %d); settings are flags such as --source.host=db1, see --help", shown, len(args)-fs.NArg()+1))
	}

	switch {
	case *configFlag != "":
		path = *configFlag
	case vars[configEnv] != "":
		path = vars[configEnv]
	}

	c := defaultConfig()
	if path != "" {
		if err := loadFile(path, c); err != nil {
			return fail(err)
		}
	}

	var problems []error
	for i := range all {
		s := &all[i]
		raw := vars[s.env]
		if raw == "" {
			continue
		}
		v, err := parseValue(s.typ, raw)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w, got %s", s.env, err, quoteRaw(raw)))
			continue
		}
		s.field(c).Set(v)
	}
	if len(problems) > 0 {
		return fail(errors.Join(problems...))
	}

	seen := map[*setting]bool{}
	for _, p := range parsed {
		if seen[p.s] {
			merge(p.s.field(c), p.v)
		} else {
			p.s.field(c).Set(p.v)
			seen[p.s] = true
		}
	}

	if err := c.resolve(); err != nil {
		return fail(err)
	}
	if err := c.Validate(); err != nil {
		return fail(err)
	}
	if w := c.Transforms.saltWarning(); w != "" {
		warnings = append(warnings, w)
	}
	c.warnings = warnings
	return c, nil
}

// kubernetesVar matches, after the SLUICE_ prefix, the variables Kubernetes
// injects into every pod of the namespace for a Service named sluice
// (unless the pod sets enableServiceLinks: false). SLUICE_PORT itself is
// matched by value, in envWarnings, since a person may well write it
// meaning source.port.
var kubernetesVar = regexp.MustCompile(`^(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT_[0-9]+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)$`)

// otherTools are SLUICE_* variables that belong to tools other than the
// daemon: SLUICE_CACHE is read by sluice's test and quickstart harness.
var otherTools = []string{envPrefix + "CACHE"}

// envWarnings returns, sorted by name, a warning for each non-empty SLUICE_*
// variable in vars that names no setting, is not SLUICE_CONFIG and is not
// one a platform or tool sets.
func envWarnings(vars map[string]string) []string {
	known := map[string]bool{configEnv: true}
	var names []string // the known variables without the prefix
	for _, s := range settings() {
		known[s.env] = true
		names = append(names, strings.TrimPrefix(s.env, envPrefix))
	}
	names = append(names, strings.TrimPrefix(configEnv, envPrefix))
	var out []string
	for _, k := range sortedKeys(vars) {
		rest, ok := strings.CutPrefix(k, envPrefix)
		if !ok || vars[k] == "" || known[k] || slices.Contains(otherTools, k) || kubernetesVar.MatchString(rest) {
			continue
		}
		if v := vars[k]; rest == "PORT" && (strings.HasPrefix(v, "tcp://") || strings.HasPrefix(v, "udp://") || strings.HasPrefix(v, "sctp://")) {
			continue
		}
		hint := ""
		if m := closestEnv(rest, names); m != "" {
			hint = fmt.Sprintf(" (did you mean %s%s?)", envPrefix, m)
		}
		out = append(out, fmt.Sprintf("%s names no setting%s; it is ignored", k, hint))
	}
	return out
}

// flagError rewrites the flag package's errors into ones that name the fix.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		keys := []string{"config"}
		for _, s := range settings() {
			keys = append(keys, s.key)
		}
		hint := "; see --help for the list"
		if m := closest(name, keys); m != "" {
			hint = fmt.Sprintf(" (did you mean --%s?)", m)
		}
		return fmt.Errorf("unknown flag --%s%s", name, hint)
	}
	if strings.HasPrefix(msg, "bad flag syntax: ") {
		return errors.New("bad flag syntax; write flags as --source.host=db1 or --source.host db1")
	}
	// "invalid value "x" for flag -k: reason" → "--k: reason".
	if _, rest, ok := strings.Cut(msg, " for flag -"); ok && strings.HasPrefix(msg, "invalid value ") {
		if name, reason, ok := strings.Cut(rest, ": "); ok {
			return fmt.Errorf("--%s: %s", name, reason)
		}
	}
	return fmt.Errorf("parse flags: %w", err)
}
