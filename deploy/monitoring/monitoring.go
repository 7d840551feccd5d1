package monitoring

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// UsedMetrics reads the dashboards <root>/deploy/grafana/*.json and the rule
// files <root>/deploy/prometheus/*.yaml (and *.yml) and returns every
// metric name their PromQL uses, each with the places that use it, in the
// order found: `deploy/grafana/sluice.json: panel "Lag by stage"`,
// `deploy/grafana/sluice.json: variable "instance"`,
// `deploy/prometheus/sluice-alerts.yaml: alert SluiceLagHigh`. A name is
// returned as written: a histogram read as x_bucket is x_bucket.
// A file that does not parse is an error naming it.
func UsedMetrics(root string) (map[string][]string, error) {
	used := map[string][]string{}
	add := func(place, expr string) {
		for _, name := range metricNames(expr) {
			if !slices.Contains(used[name], place) {
				used[name] = append(used[name], place)
			}
		}
	}
	rel := func(path string) string {
		if r, err := filepath.Rel(root, path); err == nil {
			return filepath.ToSlash(r)
		}
		return filepath.ToSlash(path)
	}

	dashboards, err := filepath.Glob(filepath.Join(root, "deploy", "grafana", "*.json"))
	if err != nil {
		return nil, err
	}
	for _, path := range dashboards {
		d, err := readDashboard(path)
		if err != nil {
			return nil, err
		}
		for _, q := range d.queries() {
			add(rel(path)+": "+q.place, q.expr)
		}
	}

	var rules []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(root, "deploy", "prometheus", pattern))
		if err != nil {
			return nil, err
		}
		rules = append(rules, m...)
	}
	slices.Sort(rules)
	for _, path := range rules {
		f, err := readRules(path)
		if err != nil {
			return nil, err
		}
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				add(rel(path)+": "+r.name(), r.Expr)
			}
		}
	}
	return used, nil
}

// ExposedBy returns, sorted, the names of used that names lacks: the
// metrics a dashboard or rule asks for that the process behind names does
// not serve. A histogram's series x_bucket, x_sum and x_count count as
// served when names holds x, the name its family is gathered under.
func ExposedBy(names map[string]bool, used map[string][]string) []string {
	var missing []string
	for name := range used {
		if names[name] {
			continue
		}
		if base, ok := histogramBase(name); ok && names[base] {
			continue
		}
		missing = append(missing, name)
	}
	slices.Sort(missing)
	return missing
}

// histogramBase strips a histogram series' suffix.
func histogramBase(name string) (string, bool) {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && base != "" {
			return base, true
		}
	}
	return "", false
}

// The dashboard's JSON, as far as queries go. Rows of schema versions
// before 16 hold their panels in rows[]; later ones in panels[], a
// collapsed row's inside its own panels[].
type dashboard struct {
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Rows       []panel `json:"rows"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []annotation `json:"list"`
	} `json:"annotations"`
}

type panel struct {
	ID      int      `json:"id"`
	Title   string   `json:"title"`
	Type    string   `json:"type"`
	Targets []target `json:"targets"`
	Panels  []panel  `json:"panels"`
}

type target struct {
	RefID string `json:"refId"`
	Expr  string `json:"expr"`
}

type variable struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"`
	Query json.RawMessage `json:"query"`
}

type annotation struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
}

// query is one PromQL expression of a dashboard and where it sits.
type query struct{ place, expr string }

func readDashboard(path string) (*dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &d, nil
}

// allPanels returns every panel, rows' nested ones included, parents
// first.
func (d *dashboard) allPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Rows)
	walk(d.Panels)
	return out
}

func (p panel) place() string {
	if p.Title == "" {
		return fmt.Sprintf("panel id %d", p.ID)
	}
	return "panel " + strconv.Quote(p.Title)
}

// queries lists the dashboard's PromQL: the panels' targets, the query
// variables' queries (Grafana's label_values and friends reduced to the
// PromQL inside) and the annotations' expressions.
func (d *dashboard) queries() []query {
	var out []query
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		if expr := grafanaQuery(v.query()); expr != "" {
			out = append(out, query{"variable " + strconv.Quote(v.Name), expr})
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			out = append(out, query{"annotation " + strconv.Quote(a.Name), a.Expr})
		}
	}
	for _, p := range d.allPanels() {
		for _, t := range p.Targets {
			if t.Expr != "" {
				out = append(out, query{p.place(), t.Expr})
			}
		}
	}
	return out
}

// query is the variable's query: a string, or since Grafana 9 an object
// whose query field is the string.
func (v variable) query() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	if json.Unmarshal(v.Query, &o) == nil {
		return o.Query
	}
	return ""
}

// grafanaQuery returns the PromQL inside a Prometheus template variable's
// query: label_values(selector, label) → selector; label_values(label) and
// metrics(regex) → none; label_names(selector) → selector;
// query_result(expr) → expr; anything else is PromQL already.
func grafanaQuery(q string) string {
	q = strings.TrimSpace(q)
	fn, rest, ok := strings.Cut(q, "(")
	fn = strings.TrimSpace(fn)
	if !ok || !strings.HasSuffix(rest, ")") {
		return q
	}
	args := splitArgs(strings.TrimSuffix(rest, ")"))
	switch fn {
	case "label_values":
		if len(args) < 2 {
			return ""
		}
		return strings.Join(args[:len(args)-1], ",")
	case "label_names", "query_result":
		return strings.Join(args, ",")
	case "metrics":
		return ""
	}
	return q
}

// splitArgs splits s at the commas outside parentheses, braces, brackets
// and strings.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\'', '`':
			i = skipString(s, i) - 1
		case '(', '{', '[':
			depth++
		case ')', '}', ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if last := strings.TrimSpace(s[start:]); last != "" || len(out) > 0 {
		out = append(out, last)
	}
	return out
}

// A Prometheus rule file.
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Limit    int    `yaml:"limit,omitempty"`
	Rules    []rule `yaml:"rules"`
}

type rule struct {
	Alert         string            `yaml:"alert,omitempty"`
	Record        string            `yaml:"record,omitempty"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for,omitempty"`
	KeepFiringFor string            `yaml:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels,omitempty"`
	Annotations   map[string]string `yaml:"annotations,omitempty"`
}

func (r rule) name() string {
	if r.Record != "" {
		return "record " + r.Record
	}
	return "alert " + r.Alert
}

func readRules(path string) (*ruleFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// The words of PromQL that are not metric names.
var (
	// Each may be followed by a parenthesised list of label names.
	labelListKeywords = set("by", "without", "on", "ignoring", "group_left", "group_right")
	// Binary operators, modifiers and number words; PromQL reads them
	// regardless of case.
	keywords = set("and", "or", "unless", "atan2", "bool", "offset", "inf", "nan")
	// Aggregation operators: their modifier may come before the operand,
	// as in sum by (job) (x).
	aggregations = set("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
		"bottomk", "topk", "quantile", "limitk", "limit_ratio")
	// Functions, Prometheus's and Grafana's template ones: called with
	// parentheses, so any word followed by ( is one; the list also keeps
	// a known function that lost its parentheses from being a name.
	functions = set("abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
		"avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh", "count_over_time",
		"day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg", "delta", "deriv",
		"double_exponential_smoothing", "end", "exp", "floor", "histogram_avg", "histogram_count",
		"histogram_fraction", "histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum",
		"holt_winters", "hour", "idelta", "increase", "info", "irate", "label_join", "label_replace",
		"last_over_time", "ln", "log10", "log2", "mad_over_time", "max_over_time", "min_over_time", "minute",
		"month", "pi", "predict_linear", "present_over_time", "quantile_over_time", "rad", "rate", "resets",
		"round", "scalar", "sgn", "sin", "sinh", "sort", "sort_by_label", "sort_by_label_desc", "sort_desc",
		"sqrt", "start", "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh", "time",
		"timestamp", "vector", "year",
		"label_values", "label_names", "metrics", "query_result")
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// metricNames returns the metric names a PromQL expression uses, each
// once, in order of first use. It tokenizes rather than parses: a name is
// an identifier ([a-zA-Z_:][a-zA-Z0-9_:]*) that is no keyword, aggregation
// or function (a word followed by "(" is a function), outside label
// matchers {...}, label lists (by, without, on, ignoring, group_left,
// group_right), strings, brackets ([5m], [1h:1m], [$__rate_interval]),
// numbers and durations, comments and Grafana variables ($var, ${var}).
// Inside matchers, {__name__="x"} and Prometheus 3's {"x"} name x.
func metricNames(expr string) []string {
	var out []string
	add := func(name string) {
		if name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	s := expr
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '#':
			if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(s)
			}
		case isQuote(c):
			i = skipString(s, i)
		case c == '{':
			i = matchers(s, i, add)
		case c == '[':
			if j := strings.IndexByte(s[i:], ']'); j >= 0 {
				i += j + 1
			} else {
				i = len(s)
			}
		case c == '$':
			i = skipVariable(s, i)
		case isDigit(c) || c == '.' && i+1 < len(s) && isDigit(s[i+1]):
			i = skipNumber(s, i)
		case isIdentStart(c):
			j := identEnd(s, i)
			word := s[i:j]
			lower := strings.ToLower(word)
			i = j
			k := skipSpace(s, i)
			open := k < len(s) && s[k] == '('
			switch {
			case labelListKeywords[lower]:
				if open {
					i = skipParens(s, k)
				}
			case keywords[lower], aggregations[lower], functions[word], open:
			default:
				add(word)
			}
		default:
			i++
		}
	}
	return out
}

// matchers reads the label matchers from s[i] == '{' to the closing '}'
// and returns the index after it. Label names and values are no metric
// names, except the value of __name__="x" and a lone quoted string.
func matchers(s string, i int, add func(string)) int {
	var elem []string // one matcher: label, operator, value
	flush := func() {
		switch {
		case len(elem) == 1 && isQuote(elem[0][0]):
			add(unquote(elem[0]))
		case len(elem) == 3 && elem[0] == "__name__" && elem[1] == "=" && isQuote(elem[2][0]):
			add(unquote(elem[2]))
		}
		elem = elem[:0]
	}
	for i++; i < len(s); {
		c := s[i]
		switch {
		case c == '}':
			flush()
			return i + 1
		case c == ',':
			flush()
			i++
		case isQuote(c):
			j := skipString(s, i)
			elem = append(elem, s[i:j])
			i = j
		case c == '=' || c == '!':
			j := i + 1
			if j < len(s) && (s[j] == '=' || s[j] == '~') {
				j++
			}
			elem = append(elem, s[i:j])
			i = j
		case isIdentStart(c):
			j := identEnd(s, i)
			elem = append(elem, s[i:j])
			i = j
		case c == '$':
			j := skipVariable(s, i)
			elem = append(elem, s[i:j])
			i = j
		default:
			i++
		}
	}
	return i
}

func isQuote(c byte) bool { return c == '"' || c == '\'' || c == '`' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':'
}

func identEnd(s string, i int) int {
	for i++; i < len(s) && (isIdentStart(s[i]) || isDigit(s[i])); i++ {
	}
	return i
}

func skipSpace(s string, i int) int {
	for i < len(s) && strings.IndexByte(" \t\r\n", s[i]) >= 0 {
		i++
	}
	return i
}

// skipString returns the index after the string literal at s[i]; `...`
// has no escapes.
func skipString(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1
		}
	}
	return len(s)
}

func unquote(lit string) string {
	if len(lit) >= 2 && lit[0] == '\'' {
		body := strings.ReplaceAll(lit[1:len(lit)-1], `\'`, `'`)
		lit = `"` + strings.ReplaceAll(body, `"`, `\"`) + `"`
	}
	if u, err := strconv.Unquote(lit); err == nil {
		return u
	}
	return strings.Trim(lit, "\"'`")
}

// skipParens returns the index after the parenthesis closing the one at
// s[i]: a label list, which holds no nested parentheses.
func skipParens(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch {
		case isQuote(s[j]):
			j = skipString(s, j) - 1
		case s[j] == ')':
			return j + 1
		}
	}
	return len(s)
}

// skipVariable returns the index after the Grafana variable at s[i] == '$':
// $name or ${name...}.
func skipVariable(s string, i int) int {
	if i+1 < len(s) && s[i+1] == '{' {
		if j := strings.IndexByte(s[i:], '}'); j >= 0 {
			return i + j + 1
		}
		return len(s)
	}
	for i++; i < len(s) && (isIdentStart(s[i]) && s[i] != ':' || isDigit(s[i])); i++ {
	}
	return i
}

// skipNumber returns the index after the number or duration at s[i]:
// 42, 0.5, 1e-3, 0x1f, 5m, 1h30m.
func skipNumber(s string, i int) int {
	j := i
	for j < len(s) {
		c := s[j]
		switch {
		case isDigit(c) || c == '.' || c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			j++
		case (c == '+' || c == '-') && j > i && (s[j-1] == 'e' || s[j-1] == 'E') && !strings.HasPrefix(s[i:], "0x"):
			j++
		default:
			return j
		}
	}
	return j
}
