package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is everything `sluice run` needs to know. Each leaf setting has a
// key in the config file ("source.host"), a flag ("--source.host") and an
// environment variable ("SLUICE_SOURCE_HOST"), all derived from the yaml
// tags; the default and the one-line description come from the default and
// help tags. Precedence: flag > environment > config file > default.
//
// Config prints safely: the password is a [Secret], which every printer
// (fmt, slog, JSON, YAML) shows as "[redacted]".
type Config struct {
	Name     string         `yaml:"name" default:"sluice" help:"source name: the checkpoint key and source.name in every record; each sluice process needs its own"`
	Source   SourceConfig   `yaml:"source"`
	Tables   TablesConfig   `yaml:"tables"`
	Snapshot SnapshotConfig `yaml:"snapshot"`
	Kafka    KafkaConfig    `yaml:"kafka"`
	Format   string         `yaml:"format" default:"avro" help:"record format: avro (Confluent wire format, schemas in schema_registry) or json"`
	// SchemaRegistry and Avro apply when Format is avro.
	SchemaRegistry SchemaRegistryConfig `yaml:"schema_registry"`
	Avro           AvroConfig           `yaml:"avro"`
	Log            LogConfig            `yaml:"log"`
	Debug          DebugConfig          `yaml:"debug"`
}

// SourceConfig says which database to read and how to connect to it.
type SourceConfig struct {
	Type           string        `yaml:"type" help:"source database kind: mysql (MySQL and MariaDB) or postgresql"`
	Host           string        `yaml:"host" default:"127.0.0.1" help:"database host name or address"`
	Port           int           `yaml:"port" help:"database port; 0 means the type's usual port, 3306 for mysql and 5432 for postgresql"`
	User           string        `yaml:"user" help:"database user; mysql: with SELECT, RELOAD, REPLICATION SLAVE and REPLICATION CLIENT; postgresql: with REPLICATION and SELECT on the tables"`
	Password       Secret        `yaml:"password" help:"database password; prefer password_file or the environment variable"`
	PasswordFile   string        `yaml:"password_file" help:"file holding the database password, read at start-up; a trailing newline is dropped"`
	ServerID       uint32        `yaml:"server_id" help:"server id of sluice's replica connection; 0 derives a stable id from name"`
	Flavor         string        `yaml:"flavor" help:"server flavor: mysql or mariadb; empty detects it"`
	ConnectTimeout time.Duration `yaml:"connect_timeout" default:"10s" help:"time allowed to connect to the database"`
	Database       string        `yaml:"database" help:"postgresql: the database to capture; tables.include patterns then name schema.table"`
	SSLMode        string        `yaml:"sslmode" help:"postgresql: TLS to the server: disable, allow, prefer, require, verify-ca or verify-full; empty means prefer"`
	SSLRootCert    string        `yaml:"sslrootcert" help:"postgresql: PEM file of the CA certificates that sign the server's certificate (verify-ca, verify-full)"`
	Slot           string        `yaml:"slot" help:"postgresql: logical replication slot; empty derives sluice_<name>; kept across restarts, dropped only by sluice drop-slot"`
	Publication    string        `yaml:"publication" help:"postgresql: publication; empty derives sluice_<name>; created over the selected tables when absent, else checked to cover them"`
	StatusInterval time.Duration `yaml:"status_interval" help:"postgresql: how often the acknowledged position is reported to the server, which then frees WAL; 0 means 10s"`
	Streaming      bool          `yaml:"streaming" default:"true" help:"postgresql 14 and later: have the server stream transactions larger than its logical_decoding_work_mem while they run; sluice keeps them in spool_dir until they commit; false leaves them to the server, which decodes them after the commit and spills them to its own disk"`
	SpoolDir       string        `yaml:"spool_dir" help:"postgresql: directory for streamed transactions waiting for their commit; needs room for the largest transaction; empty means the system's temporary directory"`
}

// TablesConfig chooses the tables and columns to capture.
type TablesConfig struct {
	Include        []string            `yaml:"include" help:"db.table patterns to capture, with * and ? globs; at least one"`
	Exclude        []string            `yaml:"exclude" help:"db.table patterns to leave out of include's matches"`
	ExcludeColumns []string            `yaml:"exclude_columns" help:"db.table.column patterns of columns never read or sent"`
	Keys           map[string][]string `yaml:"keys" help:"key columns of tables without a primary key, by db.table"`
}

// SnapshotConfig controls the initial copy of existing rows.
type SnapshotConfig struct {
	Mode string `yaml:"mode" default:"initial" help:"initial copies existing rows before streaming; never streams only"`
}

// KafkaConfig says where records go and how they are produced.
type KafkaConfig struct {
	Brokers            []string          `yaml:"brokers" help:"Kafka bootstrap brokers as host:port; at least one"`
	TopicPrefix        string            `yaml:"topic_prefix" default:"sluice" help:"topic name prefix; a table's topic is <prefix>.<db>.<table>"`
	Partitions         int32             `yaml:"partitions" default:"1" help:"partitions of topics sluice creates"`
	ReplicationFactor  int16             `yaml:"replication_factor" default:"-1" help:"replication factor of topics sluice creates; -1 uses the broker default"`
	TopicConfig        map[string]string `yaml:"topic_config" help:"extra topic configs for topics sluice creates"`
	CheckpointTopic    string            `yaml:"checkpoint_topic" default:"sluice.checkpoints" help:"compacted topic holding source positions"`
	CheckpointInterval time.Duration     `yaml:"checkpoint_interval" default:"1s" help:"how often the acknowledged position is written"`
	MaxBufferedRecords int               `yaml:"max_buffered_records" default:"10000" help:"records produced but not yet acknowledged; bounds memory"`
	MaxBufferedBytes   int               `yaml:"max_buffered_bytes" default:"67108864" help:"bytes of records produced but not yet acknowledged; bounds memory; at least max_message_bytes"`
	MaxMessageBytes    int32             `yaml:"max_message_bytes" default:"1000012" help:"largest record batch sluice sends; topics sluice creates get the same max.message.bytes"`
	DeliveryTimeout    time.Duration     `yaml:"delivery_timeout" default:"2m" help:"how long a record may be retried before sluice stops with an error"`
	Compression        string            `yaml:"compression" default:"lz4" help:"record batch compression: none, gzip, snappy, lz4 or zstd"`
	Linger             time.Duration     `yaml:"linger" default:"5ms" help:"time a batch waits for more records before it is sent"`
	ClientID           string            `yaml:"client_id" default:"sluice" help:"Kafka client id"`
}

// SchemaRegistryConfig says how to reach the Confluent-API schema registry
// that holds the Avro schemas of keys and values.
type SchemaRegistryConfig struct {
	URLs           []string          `yaml:"urls" help:"schema registry base URLs, e.g. http://127.0.0.1:8081; tried in order; required when format is avro"`
	Username       string            `yaml:"username" help:"user name for HTTP basic authentication (an API key on hosted registries)"`
	Password       Secret            `yaml:"password" help:"password for HTTP basic authentication; prefer password_file or the environment variable"`
	PasswordFile   string            `yaml:"password_file" help:"file holding the registry password, read at start-up; a trailing newline is dropped"`
	TLS            RegistryTLSConfig `yaml:"tls"`
	RequestTimeout time.Duration     `yaml:"request_timeout" default:"10s" help:"time allowed for one registry request; failed requests are retried until sluice stops"`
}

// RegistryTLSConfig configures TLS for https:// registry URLs.
type RegistryTLSConfig struct {
	CAFile             string `yaml:"ca_file" help:"PEM file of the CA certificates that sign the registry's certificate; empty uses the system's"`
	CertFile           string `yaml:"cert_file" help:"PEM client certificate for mutual TLS; needs key_file"`
	KeyFile            string `yaml:"key_file" help:"PEM private key of cert_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify" default:"false" help:"accept any registry certificate; for tests only, never in production"`
}

// AvroConfig shapes the Avro schemas sluice derives from tables.
type AvroConfig struct {
	UnsignedBigint string `yaml:"unsigned_bigint" default:"decimal" help:"Avro type of BIGINT UNSIGNED: decimal (exact, decimal(20,0)) or long (values above 2^63-1 wrap to negative)"`
}

// LogConfig controls sluice's own log.
type LogConfig struct {
	Level  string `yaml:"level" default:"info" help:"log level: debug, info, warn or error"`
	Format string `yaml:"format" default:"text" help:"log format: text or json"`
}

// DebugConfig exposes sluice's internals for diagnosis.
type DebugConfig struct {
	PprofListen string `yaml:"pprof_listen" help:"host:port serving Go's /debug/pprof endpoints, e.g. 127.0.0.1:6060; empty turns them off"`
}

// Secret holds a password. Every way of printing it (all fmt verbs, slog,
// JSON, YAML, text marshalling) shows "[redacted]", or "" when it is empty;
// only Reveal returns the value.
type Secret struct{ value string }

const redacted = "[redacted]"

// NewSecret wraps a password.
func NewSecret(value string) Secret { return Secret{value} }

// Reveal returns the password, for the one place that hands it to a driver.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether no password is set.
func (s Secret) IsZero() bool { return s.value == "" }

func (s Secret) shown() string {
	if s.value == "" {
		return ""
	}
	return redacted
}

// String returns "[redacted]", or "" when no password is set.
func (s Secret) String() string { return s.shown() }

// GoString hides the password from %#v.
func (s Secret) GoString() string { return fmt.Sprintf("main.Secret(%q)", s.shown()) }

// Format hides the password from every fmt verb.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, s.GoString())
		return
	}
	io.WriteString(f, s.shown())
}

// LogValue hides the password from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }

// MarshalJSON hides the password from JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.shown()) }

// MarshalYAML hides the password from YAML.
func (s Secret) MarshalYAML() (any, error) { return s.shown(), nil }

// MarshalText hides the password from text encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// UnmarshalYAML reads a password from a YAML scalar.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a string, got %s", n.Line, nodeKind(n))}}
	}
	var v string
	if err := n.Decode(&v); err != nil {
		return err
	}
	s.value = v
	return nil
}

// Redacted returns the configuration as YAML, the password shown as
// "[redacted]".
func (c *Config) Redacted() string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return fmt.Sprintf("encode configuration: %v", err)
	}
	enc.Close()
	return b.String()
}

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

func collectSettings(t reflect.Type, prefix string, index []int, out *[]setting) {
	for i := range t.NumField() {
		f := t.Field(i)
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
		if t.Elem().Kind() == reflect.Slice && t.Elem().Elem().Kind() == reflect.String {
			return "a mapping of names to lists of strings"
		}
	}
	return ""
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
		if t.Elem().Kind() == reflect.Slice {
			return "db.table=col:col,..."
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

// parseMap reads "k=v,k=v" into a map[string]string, or "db.t=a:b,db.u=c"
// into a map[string][]string. In the first form a part without "=" continues
// the previous value, so "cleanup.policy=compact,delete" keeps its comma.
func parseMap(t reflect.Type, raw string) (reflect.Value, error) {
	m := reflect.MakeMap(t)
	lists := t.Elem().Kind() == reflect.Slice
	example := "want key=value pairs separated by commas, e.g. retention.ms=-1,min.insync.replicas=2"
	if lists {
		example = "want db.table=column:column pairs separated by commas, e.g. shop.log=id:ts,shop.tags=tag"
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
		case !ok && !lists && last != "":
			prev := m.MapIndex(reflect.ValueOf(last)).String()
			m.SetMapIndex(reflect.ValueOf(last), reflect.ValueOf(prev+","+part))
			continue
		case !ok || k == "":
			return m, errors.New(example)
		}
		if lists {
			m.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(splitList(val, ":")))
		} else {
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

// LoadConfig builds the configuration from, in rising precedence, the
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
// print [FlagUsage] then. Empty environment variables count as unset, and
// SLUICE_* variables that name no setting are ignored, so that variables a
// platform injects (such as Kubernetes service variables) do no harm.
func LoadConfig(path string, args []string, env []string) (*Config, error) {
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
		return nil, flagError(err)
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
		return nil, fmt.Errorf("unexpected argument %s(argument %d); settings are flags such as --source.host=db1, see --help", shown, len(args)-fs.NArg()+1)
	}

	vars := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
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
			return nil, err
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
		return nil, errors.Join(problems...)
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
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
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

// resolve reads source.password_file and derives source.server_id.
func (c *Config) resolve() error {
	if f := c.Source.PasswordFile; f != "" {
		if !c.Source.Password.IsZero() {
			return errors.New("source.password and source.password_file are both set; keep only one")
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("source.password_file: %w; make the file readable by the user sluice runs as", err)
		}
		pw := strings.TrimRight(string(data), "\r\n")
		if pw == "" {
			return fmt.Errorf("source.password_file: %s is empty; write the password into it", f)
		}
		c.Source.Password = Secret{pw}
	}
	if c.Source.ServerID == 0 {
		c.Source.ServerID = deriveServerID(c.Name)
	}
	if c.Source.Port == 0 {
		switch c.Source.Type {
		case "mysql":
			c.Source.Port = 3306
		case "postgresql":
			c.Source.Port = 5432
		}
	}
	if c.Source.Type == "postgresql" {
		if c.Source.Slot == "" {
			c.Source.Slot = derivePostgresName(c.Name)
		}
		if c.Source.Publication == "" {
			c.Source.Publication = derivePostgresName(c.Name)
		}
		if c.Source.SSLMode == "" {
			c.Source.SSLMode = "prefer"
		}
		if c.Source.StatusInterval == 0 {
			c.Source.StatusInterval = 10 * time.Second
		}
	}
	return c.SchemaRegistry.resolve()
}

// resolve reads schema_registry.password_file.
func (r *SchemaRegistryConfig) resolve() error {
	f := r.PasswordFile
	if f == "" {
		return nil
	}
	if !r.Password.IsZero() {
		return errors.New("schema_registry.password and schema_registry.password_file are both set; keep only one")
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return fmt.Errorf("schema_registry.password_file: %w; make the file readable by the user sluice runs as", err)
	}
	pw := strings.TrimRight(string(data), "\r\n")
	if pw == "" {
		return fmt.Errorf("schema_registry.password_file: %s is empty; write the password into it", f)
	}
	r.Password = Secret{pw}
	return nil
}

// derivePostgresName derives the slot and publication name from the source
// name: "sluice_" and the name with every character other than a lower-case
// letter, digit or "_" replaced by "_" (slot names allow only those), cut
// to PostgreSQL's 63-byte identifier limit.
func derivePostgresName(name string) string {
	b := []byte("sluice_" + strings.ToLower(name))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 63 {
		b = b[:63]
	}
	return string(b)
}

// deriveServerID maps a source name to a replica server id in
// [1000, 2^31): the same name always gets the same id, and ids below 1000,
// which servers are usually given by hand, are left alone.
func deriveServerID(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return 1000 + h.Sum32()%(1<<31-1000)
}

// Validate checks every setting and returns all problems found, joined, each
// naming the key and what to write instead.
func (c *Config) Validate() error {
	var p problems

	if c.Name == "" {
		p.add("name", "required; name this source, e.g. orders-db")
	} else if !isTopicName(c.Name) {
		p.add("name", "%q may hold only letters, digits, \".\", \"_\" and \"-\", e.g. orders-db", c.Name)
	}

	s := &c.Source
	if s.Type == "" {
		p.add("source.type", "required; set it to mysql (for MySQL and MariaDB) or postgresql")
	} else {
		p.oneOf("source.type", s.Type, "mysql", "postgresql")
	}
	if s.Type == "postgresql" {
		if s.Database == "" {
			p.add("source.database", "required for postgresql; name the database to capture, e.g. shop")
		}
		if s.Flavor != "" {
			p.add("source.flavor", "applies to mysql only; remove it for postgresql")
		}
		p.oneOf("source.sslmode", s.SSLMode, "disable", "allow", "prefer", "require", "verify-ca", "verify-full")
		if !isSlotName(s.Slot) {
			p.add("source.slot", "%q is not a valid slot name; use lower-case letters, digits and \"_\", at most 63, e.g. sluice_shop", s.Slot)
		}
		if s.Publication == "" || len(s.Publication) > 63 {
			p.add("source.publication", "%q is not a valid publication name; use at most 63 characters, e.g. sluice_shop", s.Publication)
		}
		if s.StatusInterval <= 0 {
			p.add("source.status_interval", "must be positive, e.g. 10s")
		}
	} else if s.Database != "" || s.Slot != "" || s.Publication != "" {
		p.add("source.database", "source.database, source.slot and source.publication apply to postgresql only; remove them for %s", s.Type)
	}
	if s.Host == "" {
		p.add("source.host", "required; set the database host, e.g. 127.0.0.1")
	}
	if s.Port < 1 || s.Port > 65535 {
		p.add("source.port", "%d is not a port; use 1 to 65535, e.g. 3306", s.Port)
	}
	if s.User == "" {
		p.add("source.user", "required; set the database user sluice connects as")
	}
	if s.Flavor != "" {
		p.oneOf("source.flavor", s.Flavor, "mysql", "mariadb")
	}
	if s.ConnectTimeout <= 0 {
		p.add("source.connect_timeout", "must be positive, e.g. 10s")
	}

	t := &c.Tables
	if len(t.Include) == 0 {
		p.add("tables.include", `at least one pattern is required, e.g. ["shop.*"]`)
	}
	for _, pat := range t.Include {
		p.pattern("tables.include", pat, 2, `"shop.orders" or "shop.*"`)
	}
	for _, pat := range t.Exclude {
		p.pattern("tables.exclude", pat, 2, `"shop.audit_*"`)
	}
	for _, pat := range t.ExcludeColumns {
		p.pattern("tables.exclude_columns", pat, 3, `"shop.customers.ssn" or "*.*.password"`)
	}
	for _, table := range sortedKeys(t.Keys) {
		p.pattern("tables.keys", table, 2, `"shop.log"`)
		cols := t.Keys[table]
		if len(cols) == 0 || slices.Contains(cols, "") {
			p.add("tables.keys", "%q needs a list of key column names, e.g. %s: [id]", table, table)
		}
	}

	if c.Snapshot.Mode == "" {
		p.add("snapshot.mode", "required; one of initial, never")
	} else {
		p.oneOf("snapshot.mode", c.Snapshot.Mode, "initial", "never")
	}

	k := &c.Kafka
	if len(k.Brokers) == 0 {
		p.add("kafka.brokers", `required; list at least one broker, e.g. ["127.0.0.1:9092"]`)
	}
	for _, b := range k.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			p.add("kafka.brokers", "%q is not host:port, e.g. 127.0.0.1:9092", b)
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			p.add("kafka.brokers", "%q has no valid port; use host:port, e.g. 127.0.0.1:9092", b)
		}
	}
	if !isTopicName(k.TopicPrefix) {
		p.add("kafka.topic_prefix", "%q is not a valid topic name prefix; use letters, digits, \".\", \"_\" and \"-\", e.g. sluice", k.TopicPrefix)
	}
	if k.Partitions < 1 {
		p.add("kafka.partitions", "must be at least 1")
	}
	if k.ReplicationFactor != -1 && k.ReplicationFactor < 1 {
		p.add("kafka.replication_factor", "must be -1 (broker default) or at least 1")
	}
	for _, name := range sortedKeys(k.TopicConfig) {
		if name == "" {
			p.add("kafka.topic_config", "a config name is empty; write name=value, e.g. retention.ms=-1")
		}
		if name == "cleanup.policy" && !strings.Contains(k.TopicConfig[name], "compact") {
			p.add("kafka.topic_config", "cleanup.policy %q would drop rows that compaction keeps; remove it (sluice creates compacted topics)", k.TopicConfig[name])
		}
	}
	if k.CheckpointTopic == "" || !isTopicName(k.CheckpointTopic) {
		p.add("kafka.checkpoint_topic", "%q is not a valid topic name; use letters, digits, \".\", \"_\" and \"-\", e.g. sluice.checkpoints", k.CheckpointTopic)
	}
	if k.CheckpointInterval <= 0 {
		p.add("kafka.checkpoint_interval", "must be positive, e.g. 1s")
	}
	if k.MaxBufferedRecords < 1 {
		p.add("kafka.max_buffered_records", "must be at least 1, e.g. 10000")
	}
	p.oneOf("kafka.compression", k.Compression, "none", "gzip", "snappy", "lz4", "zstd")
	if k.Linger < 0 {
		p.add("kafka.linger", "must not be negative, e.g. 5ms")
	}
	if k.ClientID == "" {
		p.add("kafka.client_id", "required, e.g. sluice")
	}

	p.oneOf("format", c.Format, "avro", "json")
	c.SchemaRegistry.validate(&p, c.Format == "avro")
	p.oneOf("avro.unsigned_bigint", c.Avro.UnsignedBigint, "decimal", "long")
	p.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	p.oneOf("log.format", c.Log.Format, "text", "json")

	return errors.Join(p...)
}

// validate checks the registry settings; the URLs are required only when
// the format needs a registry.
func (r *SchemaRegistryConfig) validate(p *problems, required bool) {
	if required && len(r.URLs) == 0 {
		p.add("schema_registry.urls", `required when format is avro; set the registry's address, e.g. ["http://127.0.0.1:8081"], or choose format: json`)
	}
	https := false
	for _, raw := range r.URLs {
		u, err := url.Parse(raw)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			p.add("schema_registry.urls", "%q is not an http:// or https:// URL, e.g. http://127.0.0.1:8081", redactURL(raw))
		case u.User != nil:
			p.add("schema_registry.urls", "%q holds credentials; set schema_registry.username and schema_registry.password instead", redactURL(raw))
		case u.RawQuery != "" || u.Fragment != "":
			p.add("schema_registry.urls", "%q has a query or fragment; give the registry's base URL, e.g. http://127.0.0.1:8081", redactURL(raw))
		case u.Scheme == "https":
			https = true
		}
	}
	if r.Username == "" && !r.Password.IsZero() {
		p.add("schema_registry.username", "required when schema_registry.password is set; set both for basic authentication")
	}
	if r.Username != "" && r.Password.IsZero() {
		p.add("schema_registry.password", "required when schema_registry.username is set; set it or schema_registry.password_file")
	}
	t := &r.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.add("schema_registry.tls", "cert_file and key_file go together; set both for a client certificate, or neither")
	}
	if (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.InsecureSkipVerify) && len(r.URLs) > 0 && !https {
		p.add("schema_registry.tls", "is set but no URL in schema_registry.urls is https://; use https:// URLs or remove the tls settings")
	}
	if r.RequestTimeout <= 0 {
		p.add("schema_registry.request_timeout", "must be positive, e.g. 10s")
	}
}

// redactURL shows a URL in an error with any password in it replaced.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(raw, "@"); err != nil && i >= 0 {
			return "[redacted]" + raw[i:]
		}
		return raw
	}
	return u.Redacted()
}

type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (p *problems) oneOf(key, v string, valid ...string) {
	if !slices.Contains(valid, v) {
		p.add(key, "%q is not one of %s", v, strings.Join(valid, ", "))
	}
}

// pattern checks a glob over dot-separated names that has at least parts
// parts ("db.table" has 2).
func (p *problems) pattern(key, pat string, parts int, example string) {
	form := "db.table"
	if parts == 3 {
		form = "db.table.column"
	}
	if _, err := path.Match(pat, ""); err != nil {
		p.add(key, "%q is not a valid pattern (%v); use * and ? globs, e.g. %s", pat, err, example)
		return
	}
	if strings.Count(pat, ".") < parts-1 || strings.HasPrefix(pat, ".") || strings.HasSuffix(pat, ".") {
		p.add(key, "%q is not of the form %s, e.g. %s", pat, form, example)
	}
}

func isSlotName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func isTopicName(s string) bool {
	if s == "" || len(s) > 249 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FlagUsage writes every flag with its environment variable and default,
// in the order of the config file's keys.
func FlagUsage(w io.Writer) {
	fmt.Fprintln(w, "Every setting is a flag, an environment variable and a config file key.")
	fmt.Fprintln(w, "Precedence: flag > environment > config file > default.")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  --config path\n    \tYAML config file (env %s)\n", configEnv)
	for _, s := range settings() {
		fmt.Fprintf(w, "  --%s %s\n    \t%s (env %s", s.key, placeholder(s.typ), s.help, s.env)
		if s.def != "" {
			fmt.Fprintf(w, "; default %s", s.def)
		}
		fmt.Fprintln(w, ")")
	}
}

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
// the expected form and, except for the password, what was found.
func (l *fileLoader) leaf(n *yaml.Node, fv reflect.Value, key string) {
	tmp := reflect.New(fv.Type())
	if err := n.Decode(tmp.Interface()); err != nil {
		got := nodeKind(n)
		if n.Kind == yaml.ScalarNode && fv.Type() != secretType {
			got = quoteRaw(n.Value)
		}
		l.add(n.Line, "%s: want %s, got %s", key, describe(fv.Type()), got)
		return
	}
	fv.Set(tmp.Elem())
}

func fieldByYAMLName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if n, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); n == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// suggestKey proposes a near spelling among the keys of struct t, or the
// same name in another section.
func suggestKey(t reflect.Type, prefix, name string) string {
	var names []string
	for i := range t.NumField() {
		n, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		names = append(names, n)
	}
	if m := closest(name, names); m != "" {
		return fmt.Sprintf(" (did you mean %s%s?)", prefix, m)
	}
	for _, s := range settings() {
		if last := s.key[strings.LastIndex(s.key, ".")+1:]; last == name {
			return fmt.Sprintf(" (did you mean %s?)", s.key)
		}
	}
	return ""
}

// closest returns the candidate nearest to word in edit distance, or ""
// when none is near enough to be a likely typo. A candidate whose last
// dot-separated part is word also matches, so "host" finds "source.host".
func closest(word string, candidates []string) string {
	w := strings.ToLower(word)
	best, bestD := "", 3
	if len(w) <= 4 {
		bestD = 2
	}
	for _, c := range candidates {
		d := editDistance(w, strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best
	}
	for _, c := range candidates {
		if strings.HasSuffix(c, "."+word) {
			return c
		}
	}
	return ""
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
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
