package config

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// setting is one leaf of Config: its file key, flag, environment variable,
// default and description, all read from the struct tags.
type setting struct {
	key   string // "source.host"; the flag is "--" + key
	env   string // "SLUICE_SOURCE_HOST"
	index []int  // field index path from Config
	typ   reflect.Type
	def   string
	help  string
}

const envPrefix = "SLUICE_"

// configEnv names the config file; --config names it too and wins.
const configEnv = envPrefix + "CONFIG"

var (
	boolType     = reflect.TypeFor[bool]()
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

var settings = sync.OnceValue(func() []setting {
	var out []setting
	collectSettings(reflect.TypeFor[Config](), "", nil, &out)
	return out
})

// collectSettings appends the leaf settings of struct t to out; unexported
// fields (Config's warnings) are no settings.
func collectSettings(t reflect.Type, prefix string, index []int, out *[]setting) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if isInline(f) {
			collectSettings(f.Type, prefix, append(slices.Clone(index), i), out)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			panic(fmt.Sprintf("config field %s.%s has no yaml name", t.Name(), f.Name))
		}
		key := prefix + name
		idx := append(slices.Clone(index), i)
		if isSection(f.Type) {
			collectSettings(f.Type, key+".", idx, out)
			continue
		}
		if describe(f.Type) == "" {
			panic(fmt.Sprintf("config field %s has unsupported type %s", key, f.Type))
		}
		*out = append(*out, setting{
			key:   key,
			env:   envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_")),
			index: idx,
			typ:   f.Type,
			def:   f.Tag.Get("default"),
			help:  f.Tag.Get("help"),
		})
	}
}

func isSection(t reflect.Type) bool { return t.Kind() == reflect.Struct && t != secretType }

func (s *setting) field(c *Config) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(s.index)
}

// describe names what a value of type t must look like, for errors and usage.
func describe(t reflect.Type) string {
	switch {
	case t == secretType:
		return "a string"
	case t == durationType:
		return "a duration such as 10s, 500ms or 1m30s"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int:
		return "an integer"
	case reflect.Int32:
		return "an integer from -2147483648 to 2147483647"
	case reflect.Int16:
		return "an integer from -32768 to 32767"
	case reflect.Uint32:
		return "an integer from 0 to 4294967295"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "a list of strings"
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return ""
		}
		if t.Elem().Kind() == reflect.String {
			return "a mapping of names to strings"
		}
		if t.Elem().Kind() == reflect.Int {
			return "a mapping of names to integers"
		}
		if t.Elem().Kind() == reflect.Slice && t.Elem().Elem().Kind() == reflect.String {
			return "a mapping of names to lists of strings"
		}
	}
	return ""
}

// isInteger reports whether t is one of the integer kinds settings use; a
// time.Duration is not one, it is written as a duration.
func isInteger(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int16, reflect.Int32, reflect.Uint32:
		return t != durationType
	}
	return false
}

// placeholder is the value name shown after a flag in the usage text.
func placeholder(t reflect.Type) string {
	switch {
	case t == secretType:
		return "secret"
	case t == durationType:
		return "duration"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Slice:
		return "a,b,..."
	case reflect.Map:
		switch t.Elem().Kind() {
		case reflect.Slice:
			return "db.table=col:col,..."
		case reflect.Int:
			return "key=n,..."
		}
		return "key=value,..."
	}
	return "int"
}

// parseValue reads the flag and environment form of a value of type t:
// lists are comma-separated, mappings are key=value pairs separated by
// commas, and list values inside a mapping are separated by colons. The error
// never repeats raw, so a caller decides whether raw may be shown.
func parseValue(t reflect.Type, raw string) (reflect.Value, error) {
	v := reflect.New(t).Elem()
	switch {
	case t == secretType:
		v.Set(reflect.ValueOf(Secret{raw}))
		return v, nil
	case t == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return v, errors.New("want " + describe(t))
		}
		v.SetInt(int64(d))
		return v, nil
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return v, errors.New("want " + describe(t))
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int16:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, t.Bits())
		if err != nil {
			return v, errors.New("want " + describe(t))
		}
		v.SetInt(n)
	case reflect.Uint32:
		n, err := strconv.ParseUint(strings.TrimSpace(raw), 10, 32)
		if err != nil {
			return v, errors.New("want " + describe(t))
		}
		v.SetUint(n)
	case reflect.Slice:
		v.Set(reflect.ValueOf(splitList(raw, ",")))
	case reflect.Map:
		return parseMap(t, raw)
	default:
		return v, fmt.Errorf("unsupported type %s", t)
	}
	return v, nil
}

func splitList(raw, sep string) []string {
	var out []string
	for part := range strings.SplitSeq(raw, sep) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parseMap reads "k=v,k=v" into a map[string]string, "db.t=a:b,db.u=c"
// into a map[string][]string, or "k=1,k=2" into a map[string]int. In the
// first form a part without "=" continues the previous value, so
// "cleanup.policy=compact,delete" keeps its comma.
func parseMap(t reflect.Type, raw string) (reflect.Value, error) {
	m := reflect.MakeMap(t)
	lists := t.Elem().Kind() == reflect.Slice
	ints := t.Elem().Kind() == reflect.Int
	example := "want key=value pairs separated by commas, e.g. retention.ms=-1,min.insync.replicas=2"
	switch {
	case lists:
		example = "want db.table=column:column pairs separated by commas, e.g. shop.log=id:ts,shop.tags=tag"
	case ints:
		example = "want key=integer pairs separated by commas, e.g. shop.customers.note=64,shop.orders.memo=200"
	}
	last := ""
	for part := range strings.SplitSeq(raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok && !lists && !ints && last != "":
			prev := m.MapIndex(reflect.ValueOf(last)).String()
			m.SetMapIndex(reflect.ValueOf(last), reflect.ValueOf(prev+","+part))
			continue
		case !ok || k == "":
			return m, errors.New(example)
		}
		switch {
		case lists:
			m.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(splitList(val, ":")))
		case ints:
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil {
				return m, errors.New(example)
			}
			m.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(n))
		default:
			m.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(strings.TrimSpace(val)))
		}
		last = k
	}
	return m, nil
}

// merge adds v to dst: lists append, mappings merge, anything else is
// replaced. Repeated flags use it.
func merge(dst, v reflect.Value) {
	switch dst.Kind() {
	case reflect.Slice:
		dst.Set(reflect.AppendSlice(dst, v))
	case reflect.Map:
		if dst.IsNil() {
			dst.Set(reflect.MakeMap(dst.Type()))
		}
		for it := v.MapRange(); it.Next(); {
			dst.SetMapIndex(it.Key(), it.Value())
		}
	default:
		dst.Set(v)
	}
}

// quoteRaw shows a rejected flag or environment value in an error; it is
// never called for a Secret, whose parsing cannot fail.
func quoteRaw(s string) string {
	const max = 60
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strconv.Quote(s)
}

// defaultConfig returns a Config holding every default from the tags.
func defaultConfig() *Config {
	c := new(Config)
	for _, s := range settings() {
		if s.def == "" {
			continue
		}
		v, err := parseValue(s.typ, s.def)
		if err != nil {
			panic(fmt.Sprintf("config field %s: default %q: %v", s.key, s.def, err))
		}
		s.field(c).Set(v)
	}
	return c
}

// FlagUsage writes every flag with its environment variable and default,
// in the order of the config file's keys. With sections given ("source",
// "kafka", "log", …) it lists only the settings under those keys, for a
// subcommand that uses no others.
func FlagUsage(w io.Writer, sections ...string) {
	fmt.Fprintln(w, "Every setting is a flag, an environment variable and a config file key.")
	fmt.Fprintln(w, "Precedence: flag > environment > config file > default.")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  --config path\n    \tYAML config file (env %s)\n", configEnv)
	for _, s := range settings() {
		if len(sections) > 0 && !inSections(s.key, sections) {
			continue
		}
		fmt.Fprintf(w, "  --%s %s\n    \t%s (env %s", s.key, placeholder(s.typ), s.help, s.env)
		if s.def != "" {
			fmt.Fprintf(w, "; default %s", s.def)
		}
		fmt.Fprintln(w, ")")
	}
}

// inSections reports whether key is one of sections or lies under one.
func inSections(key string, sections []string) bool {
	for _, sec := range sections {
		if key == sec || strings.HasPrefix(key, sec+".") {
			return true
		}
	}
	return false
}
