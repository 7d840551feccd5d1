package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// fileProblem is one problem in the config file, at a line.
type fileProblem struct {
	path string
	line int // 0 when unknown
	msg  string
	err  error
}

func (e *fileProblem) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("config %s: line %d: %s", e.path, e.line, e.msg)
	}
	return fmt.Sprintf("config %s: %s", e.path, e.msg)
}

func (e *fileProblem) Unwrap() error { return e.err }

// loadFile reads the YAML config file at name into c. Keys the file leaves
// out keep their value in c.
func loadFile(name string, c *Config) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("read config: %w; check the --config path", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return syntaxProblem(name, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return &fileProblem{path: name, line: extra.Line, msg: "a second YAML document starts here; keep all settings in one document"}
	} else if !errors.Is(err, io.EOF) {
		return syntaxProblem(name, data, err)
	}

	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = root.Content[0]
	}
	root = unalias(root)
	if isNull(root) {
		return nil
	}
	fl := &fileLoader{path: name}
	if root.Kind != yaml.MappingNode {
		fl.add(root.Line, "want a mapping of settings such as \"source:\" at the top, got %s", nodeKind(root))
	} else {
		fl.mapping(root, reflect.ValueOf(c).Elem(), "")
	}
	if len(fl.problems) == 0 {
		return nil
	}
	sort.SliceStable(fl.problems, func(i, j int) bool { return fl.problems[i].line < fl.problems[j].line })
	errs := make([]error, len(fl.problems))
	for i, p := range fl.problems {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// syntaxProblem turns a YAML parse error ("yaml: line 3: …") into a
// fileProblem naming the file.
func syntaxProblem(name string, data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, after
			}
		}
	}
	hint := "; check the indentation and quoting"
	if bytes.Contains(data, []byte("\n\t")) || bytes.HasPrefix(data, []byte("\t")) {
		hint = "; indent with spaces, YAML does not allow tabs"
	}
	return &fileProblem{path: name, line: line, msg: msg + hint, err: err}
}

type fileLoader struct {
	path     string
	problems []*fileProblem
}

func (l *fileLoader) add(line int, format string, args ...any) {
	l.problems = append(l.problems, &fileProblem{path: l.path, line: line, msg: fmt.Sprintf(format, args...)})
}

// mapping reads the YAML mapping n into the struct v whose keys start with
// prefix. Merge keys ("<<: *base") apply first, so explicit keys win.
func (l *fileLoader) mapping(n *yaml.Node, v reflect.Value, prefix string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Tag == "!!merge" {
			l.merge(unalias(n.Content[i+1]), v, prefix)
		}
	}
	t := v.Type()
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], unalias(n.Content[i+1])
		if k.Tag == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			l.add(k.Line, "keys must be plain names, got %s", nodeKind(k))
			continue
		}
		if k.Value == "" {
			l.add(k.Line, "a key is empty; name a setting or remove it")
			continue
		}
		key := prefix + k.Value
		if first, dup := seen[k.Value]; dup {
			l.add(k.Line, "%s is set twice (first at line %d); keep one", key, first)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := fieldByYAMLName(t, k.Value)
		if !ok {
			l.add(k.Line, "unknown key %s%s", key, suggestKey(t, prefix, k.Value))
			continue
		}
		if isNull(val) {
			continue
		}
		fv := v.FieldByIndex(f.Index)
		if isSection(f.Type) {
			if val.Kind != yaml.MappingNode {
				l.add(val.Line, "%s: want a mapping of settings, got %s", key, nodeKind(val))
				continue
			}
			l.mapping(val, fv, key+".")
			continue
		}
		l.leaf(val, fv, key)
	}
}

func (l *fileLoader) merge(n *yaml.Node, v reflect.Value, prefix string) {
	switch n.Kind {
	case yaml.MappingNode:
		l.mapping(n, v, prefix)
	case yaml.SequenceNode:
		for _, m := range n.Content {
			if m = unalias(m); m.Kind == yaml.MappingNode {
				l.mapping(m, v, prefix)
			} else {
				l.add(m.Line, "<< merges mappings, got %s", nodeKind(m))
			}
		}
	default:
		l.add(n.Line, "<< merges mappings, got %s", nodeKind(n))
	}
}

// leaf decodes one setting's value; a value that does not fit names the key,
// the expected form and, except for the password, what was found. A float
// (3.5, 3306.0, 1e3) for an integer setting does not fit: yaml.v3 would
// truncate it.
func (l *fileLoader) leaf(n *yaml.Node, fv reflect.Value, key string) {
	if t := fv.Type(); t.Kind() == reflect.Map && isInteger(t.Elem()) && n.Kind == yaml.MappingNode && !l.integers(n, key) {
		return
	}
	tmp := reflect.New(fv.Type())
	float := n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" && isInteger(fv.Type())
	if err := n.Decode(tmp.Interface()); err != nil || float {
		got := nodeKind(n)
		if n.Kind == yaml.ScalarNode && fv.Type() != secretType {
			got = quoteRaw(n.Value)
		}
		l.add(n.Line, "%s: want %s, got %s", key, describe(fv.Type()), got)
		return
	}
	fv.Set(tmp.Elem())
}

// integers checks that every value of mapping n, the value of a mapping of
// integers, is an integer, and reports each one that is not with its name:
// yaml.v3 would truncate a float (3.5) and its error would not say which
// entry is wrong.
func (l *fileLoader) integers(n *yaml.Node, key string) bool {
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], unalias(n.Content[i+1])
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!int" {
			continue
		}
		got := nodeKind(v)
		if v.Kind == yaml.ScalarNode {
			got = quoteRaw(v.Value)
		}
		l.add(v.Line, "%s: %s: want an integer, got %s", key, quoteRaw(k.Value), got)
		ok = false
	}
	return ok
}

// fieldByYAMLName finds the exported field of struct t, or of a struct it
// inlines, whose yaml name is name; its Index leads there from t.
func fieldByYAMLName(t reflect.Type, name string) (reflect.StructField, bool) {
	for _, f := range yamlFields(t) {
		if yamlName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// yamlFields lists the exported fields of struct t that have keys of their
// own, with the fields of inlined structs (yaml:",inline") in their place
// and their Index leading there from t.
func yamlFields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if isInline(f) {
			for _, sub := range yamlFields(f.Type) {
				sub.Index = append([]int{i}, sub.Index...)
				out = append(out, sub)
			}
			continue
		}
		out = append(out, f)
	}
	return out
}

// yamlName is the key of field f.
func yamlName(f reflect.StructField) string {
	n, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return n
}

// isInline reports whether f is a struct whose keys sit in its parent's
// mapping (yaml:",inline"), as a shared group of settings does.
func isInline(f reflect.StructField) bool {
	_, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return f.Type.Kind() == reflect.Struct && slices.Contains(strings.Split(opts, ","), "inline")
}

func unalias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "something else"
}
