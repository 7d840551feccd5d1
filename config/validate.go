package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Validate checks every setting and returns all problems found, joined, each
// naming the key and what to write instead. It looks at the values alone:
// it reads no file and connects to nothing. It makes every check of a value
// that the sink and the sources would otherwise make only once sluice runs
// (Kafka's record size and buffer limits, for one); what it leaves to them
// is what needs a server, and the contents of the TLS files, which
// [Config.CheckFiles] reads.
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
	s.validateTLS(&p)
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
	} else if msg := hostProblem(s.Host, s.Type); msg != "" {
		p.add("source.host", "%s", msg)
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

	c.Transforms.validate(&p)

	if c.Snapshot.Mode == "" {
		p.add("snapshot.mode", "required; one of %s", strings.Join(SnapshotModes, ", "))
	} else {
		p.oneOf("snapshot.mode", c.Snapshot.Mode, SnapshotModes...)
	}

	k := &c.Kafka
	if len(k.Brokers) == 0 {
		p.add("kafka.brokers", `required; list at least one broker, e.g. ["127.0.0.1:9092"]`)
	}
	for _, b := range k.Brokers {
		if strings.Contains(b, "://") {
			p.add("kafka.brokers", "%q has a scheme; give host:port only, e.g. 127.0.0.1:9092", redactURL(b))
		} else if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
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
	if k.MaxMessageBytes < minMessageBytes || k.MaxMessageBytes > maxMessageBytes {
		p.add("kafka.max_message_bytes", "%d is out of range; use %d to %d, e.g. 1000012", k.MaxMessageBytes, minMessageBytes, maxMessageBytes)
	} else if k.MaxBufferedBytes < int(k.MaxMessageBytes) {
		p.add("kafka.max_buffered_bytes", "%d is below kafka.max_message_bytes (%d); raise max_buffered_bytes so one record always fits", k.MaxBufferedBytes, k.MaxMessageBytes)
	}
	if k.DeliveryTimeout <= 0 {
		p.add("kafka.delivery_timeout", "must be positive, e.g. 2m")
	}
	p.oneOf("kafka.compression", k.Compression, "none", "gzip", "snappy", "lz4", "zstd")
	if k.Linger < 0 {
		p.add("kafka.linger", "must not be negative, e.g. 5ms")
	}
	if k.ClientID == "" {
		p.add("kafka.client_id", "required, e.g. sluice")
	}
	k.validateSecurity(&p)
	if l := c.Leadership; l.SessionTimeout < time.Second || l.SessionTimeout > 30*time.Minute {
		p.add("leadership.session_timeout", "%s is out of range; use 1s to 30m (brokers accept 6s and up by default), e.g. 10s", l.SessionTimeout)
	}
	if g := c.Leadership.Group; g != "" && len(g) > 249 {
		p.add("leadership.group", "is longer than 249 characters; use a shorter name, e.g. sluice-orders-db")
	}

	p.oneOf("format", c.Format, "avro", "json", "connect-json")
	c.SchemaRegistry.validate(&p, c.Format == "avro")
	p.oneOf("avro.unsigned_bigint", c.Avro.UnsignedBigint, "decimal", "long")
	p.oneOf("avro.mapping", c.Avro.Mapping, "v2", "v1")
	for _, pat := range c.Avro.TextColumns {
		p.pattern("avro.text_columns", pat, 3, `"shop.orders.shipped_at"`)
	}
	if len(c.Avro.TextColumns) > 0 && c.Avro.Mapping == "v1" {
		p.add("avro.text_columns", "applies to avro.mapping v2 only (v1 writes such values in a string branch of each field); remove it or set avro.mapping: v2")
	}
	if c.Format == "connect-json" && c.Avro.Mapping == "v1" {
		p.add("avro.mapping", "format connect-json is shaped by mapping v2; set avro.mapping: v2")
	}
	p.oneOf("connect_json.decimal_format", c.ConnectJSON.DecimalFormat, "base64", "numeric")
	for _, expr := range sortedKeys(c.Routing.Topics) {
		if _, err := regexp.Compile(expr); err != nil {
			p.add("routing.topics", "%q is not a regular expression: %v", expr, err)
		}
		if topic := c.Routing.Topics[expr]; topic == "" || !isTopicName(strings.NewReplacer("$", "", "{", "", "}", "").Replace(topic)) {
			p.add("routing.topics", "the topic %q of %q is not a valid topic name; use letters, digits, \".\", \"_\", \"-\" and $1… for the expression's groups", topic, expr)
		}
	}
	if len(c.Routing.Topics) > 0 && (c.Routing.KeyField == "" || !isAvroName(c.Routing.KeyField)) {
		p.add("routing.key_field", "%q is not a field name; use letters, digits and \"_\", not starting with a digit, e.g. __source_table", c.Routing.KeyField)
	}
	if tt := c.Transactions.Topic; tt != "" && !isTopicName(tt) {
		p.add("transactions.topic", "%q is not a valid topic name; use letters, digits, \".\", \"_\" and \"-\", e.g. sluice.transaction", tt)
	}
	if c.Transactions.Metadata && c.TransactionTopic() == c.Kafka.CheckpointTopic {
		p.add("transactions.topic", "%q is kafka.checkpoint_topic; give the transaction topic a name of its own", c.TransactionTopic())
	}
	p.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	p.oneOf("log.format", c.Log.Format, "text", "json")

	if l := c.Admin.Listen; l != "" {
		if _, port, err := net.SplitHostPort(l); err != nil {
			p.add("admin.listen", "%q is not host:port; use e.g. 127.0.0.1:9180, or leave it empty to serve nothing", l)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			p.add("admin.listen", "%q has no valid port; use host:port, e.g. 127.0.0.1:9180", l)
		} else if l == c.Debug.PprofListen && n != 0 {
			p.add("admin.listen", "%q is debug.pprof_listen too; give each its own port", l)
		}
	}
	if c.Admin.ReadyMaxLag <= 0 {
		p.add("admin.ready_max_lag", "%s is not a positive duration; use e.g. 1m", c.Admin.ReadyMaxLag)
	}
	if l := c.Debug.PprofListen; l != "" {
		if _, port, err := net.SplitHostPort(l); err != nil {
			p.add("debug.pprof_listen", "%q is not host:port; use e.g. 127.0.0.1:6060, or leave it empty to serve nothing", l)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			p.add("debug.pprof_listen", "%q has no valid port; use host:port, e.g. 127.0.0.1:6060", l)
		}
	}

	return errors.Join(p...)
}

// validate checks transforms: the patterns, the lengths, mask_with, the
// salt, and that no pattern is given to two transforms. Whether a column
// matched by two different patterns of two transforms exists, and whether
// a truncated column is a string, is known only once the tables are: the
// engine reports those when it first meets the table (and sluice check
// beforehand). Nothing here shows the salt.
func (x *TransformsConfig) validate(p *problems) {
	owner := map[string]string{} // pattern -> the first setting naming it
	claim := func(key, pat string) {
		if first, ok := owner[pat]; ok && first != key {
			p.add(key, "%q is named by %s too; a column takes one transform: keep the pattern in one of them", pat, first)
			return
		}
		owner[pat] = key
	}
	for _, pat := range x.Mask {
		p.pattern("transforms.mask", pat, 3, `"shop.customers.email" or "*.*.ssn"`)
		claim("transforms.mask", pat)
	}
	for _, pat := range x.Hash {
		p.pattern("transforms.hash", pat, 3, `"shop.customers.email" or "*.*.ssn"`)
		claim("transforms.hash", pat)
	}
	for _, pat := range sortedKeys(x.Truncate) {
		p.pattern("transforms.truncate", pat, 3, `"shop.customers.note"`)
		claim("transforms.truncate", pat)
		if n := x.Truncate[pat]; n < 1 {
			p.add("transforms.truncate", "%q: %d is not a length; give the most characters to keep, at least 1, e.g. %s: 64", pat, n, pat)
		}
	}
	if len(x.Mask) > 0 && x.MaskWith == "" {
		p.add("transforms.mask_with", "must not be empty when transforms.mask is set; give the text masked values become, e.g. ****")
	}
	if len(x.Hash) > 0 && x.HashSalt.IsZero() {
		p.add("transforms.hash_salt", "required when transforms.hash is set; set transforms.hash_salt_file or SLUICE_TRANSFORMS_HASH_SALT to a long random secret, e.g. the output of openssl rand -hex 32")
	}
}

// minSaltLength is the salt length below which Load warns.
const minSaltLength = 16

// saltWarning is Load's warning about a short transforms.hash_salt, or "".
// It shows the salt's length, never the salt.
func (x *TransformsConfig) saltWarning() string {
	if len(x.Hash) == 0 || x.HashSalt.IsZero() || len(x.HashSalt.Reveal()) >= minSaltLength {
		return ""
	}
	return fmt.Sprintf("transforms.hash_salt has %d characters: a short salt lets anyone who guesses it test candidate values against the hashes; use a random secret of at least %d, e.g. the output of openssl rand -hex 32",
		len(x.HashSalt.Reveal()), minSaltLength)
}

// The range Kafka's producer accepts for kafka.max_message_bytes.
const (
	minMessageBytes = 512
	maxMessageBytes = 1 << 30
)

// hostProblem says what is wrong with source.host h, a non-empty value that
// should be a host name or IP address and nothing more, or returns "". For
// a URL or a connection string it shows nothing of h, which may hold a
// password.
func hostProblem(h, sourceType string) string {
	if _, err := netip.ParseAddr(h); err == nil {
		return "" // an IP address, IPv6 ("::1", "fe80::1%eth0") included
	}
	use := "source.port, source.user, source.password (or password_file) and source.database"
	if sourceType == "mysql" {
		use = "source.port, source.user and source.password (or password_file); tables.include names the databases"
	}
	switch {
	case strings.Contains(h, "://"):
		return "holds a URL; set only the host name in source.host and use " + use
	case strings.ContainsAny(h, "@()="):
		// user:pw@tcp(db1:3306)/shop, or host=db1 port=5432 password=pw.
		return "holds a connection string; set only the host name in source.host and use " + use
	}
	if host, port, err := net.SplitHostPort(h); err == nil && port != "" && strings.Trim(port, "0123456789") == "" {
		return fmt.Sprintf("%q holds a port; set source.host: %s and source.port: %s", h, host, port)
	}
	if inner, ok := strings.CutPrefix(h, "["); ok {
		if inner, ok := strings.CutSuffix(inner, "]"); ok {
			if _, err := netip.ParseAddr(inner); err == nil {
				return fmt.Sprintf("%q is in brackets; set source.host: %s", h, inner)
			}
		}
	}
	if strings.Contains(h, ":") {
		// Not an address, not host:port; it may be user:password.
		return "is not a host name or IP address; set only the host, e.g. db1.internal, 10.0.0.5 or ::1"
	}
	return ""
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
	if !t.IsZero() && len(r.URLs) > 0 && !https {
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

// SASL mechanisms sluice offers.
var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "AWS_MSK_IAM"}

// validateSecurity checks kafka.tls and kafka.sasl.
func (k *KafkaConfig) validateSecurity(p *problems) {
	t := &k.TLS
	if !t.Enabled && !t.TLSConfig.IsZero() {
		p.add("kafka.tls", "ca_file, cert_file, key_file, server_name or insecure_skip_verify is set but kafka.tls.enabled is false; set kafka.tls.enabled: true, or remove them")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.add("kafka.tls", "cert_file and key_file go together; set both for a client certificate, or neither")
	}
	s := &k.SASL
	switch {
	case s.Mechanism == "":
		if s.Username != "" || !s.Password.IsZero() || s.TokenFile != "" {
			p.add("kafka.sasl.mechanism", "required when kafka.sasl.username, password or token_file is set; one of %s", strings.Join(saslMechanisms, ", "))
		}
		return
	case !slices.Contains(saslMechanisms, s.Mechanism):
		hint := ""
		if up := strings.ToUpper(s.Mechanism); slices.Contains(saslMechanisms, up) {
			hint = fmt.Sprintf(" (did you mean %s?)", up)
		}
		p.add("kafka.sasl.mechanism", "%q is not one of %s%s", s.Mechanism, strings.Join(saslMechanisms, ", "), hint)
		return
	}
	switch s.Mechanism {
	case "OAUTHBEARER", "AWS_MSK_IAM":
		if s.Username != "" || !s.Password.IsZero() {
			p.add("kafka.sasl", "username and password do not apply to %s; remove them", s.Mechanism)
		}
		if s.Mechanism == "OAUTHBEARER" && s.TokenFile == "" {
			p.add("kafka.sasl.token_file", "required for SASL OAUTHBEARER; name the file holding the bearer token")
		}
		if s.Mechanism == "AWS_MSK_IAM" && !k.TLS.Enabled {
			p.add("kafka.tls.enabled", "must be true for SASL AWS_MSK_IAM: MSK offers IAM authentication on its TLS listener (port 9098) only")
		}
		if s.Mechanism == "AWS_MSK_IAM" && s.TokenFile != "" {
			p.add("kafka.sasl.token_file", "applies to OAUTHBEARER only; AWS_MSK_IAM takes its credentials from the AWS chain")
		}
		return
	}
	if s.TokenFile != "" {
		p.add("kafka.sasl.token_file", "applies to OAUTHBEARER only; remove it for %s", s.Mechanism)
	}
	if s.Username == "" {
		p.add("kafka.sasl.username", "required for SASL %s; set the user sluice authenticates as", s.Mechanism)
	}
	if s.Password.IsZero() {
		p.add("kafka.sasl.password", "required for SASL %s; set kafka.sasl.password_file or SLUICE_KAFKA_SASL_PASSWORD", s.Mechanism)
	}
}

// CheckFiles reads the TLS files of kafka.tls (when enabled), source.tls
// (unless its mode is disabled) and schema_registry.tls (when format is
// avro) and returns every problem,
// joined: a file that is missing or unreadable, holds no PEM certificate,
// or a certificate without its key. engine.New calls it after Validate, so
// these too are found before any connection. It connects to nothing.
func (c *Config) CheckFiles() error {
	var errs []error
	if c.Kafka.TLS.Enabled {
		if _, err := c.Kafka.TLS.Load("kafka.tls"); err != nil {
			errs = append(errs, err)
		}
	}
	if t := c.Source.TLS; t.Mode != "disabled" && !t.TLSConfig.IsZero() {
		if _, err := t.Load("source.tls"); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Format == "avro" && !c.SchemaRegistry.TLS.IsZero() {
		if _, err := c.SchemaRegistry.TLS.Load("schema_registry.tls"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// isAvroName reports whether s is a legal Avro (and Connect) field name.
func isAvroName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// MySQL TLS modes, as the mysql client's --ssl-mode names them.
var mysqlTLSModes = []string{"disabled", "preferred", "required", "verify_ca", "verify_identity"}

// validateTLS checks source.tls against the source type.
func (s *SourceConfig) validateTLS(p *problems) {
	t := &s.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.add("source.tls", "cert_file and key_file go together; set both for a client certificate, or neither")
	}
	switch s.Type {
	case "mysql":
		p.oneOf("source.tls.mode", t.Mode, mysqlTLSModes...)
		if t.Mode == "disabled" && !t.TLSConfig.IsZero() {
			p.add("source.tls", "files or options are set but source.tls.mode is disabled; choose required, verify_ca or verify_identity, or remove them")
		}
		if t.InsecureSkipVerify && (t.Mode == "verify_ca" || t.Mode == "verify_identity") {
			p.add("source.tls.insecure_skip_verify", "contradicts source.tls.mode %s, which verifies the server's certificate; remove one", t.Mode)
		}
	case "postgresql":
		if t.Mode != "" {
			p.add("source.tls.mode", "applies to mysql only; for postgresql set source.sslmode (disable, allow, prefer, require, verify-ca, verify-full)")
		}
		if t.ServerName != "" || t.InsecureSkipVerify {
			p.add("source.tls", "server_name and insecure_skip_verify apply to mysql only; for postgresql source.sslmode says what is verified")
		}
		if t.CAFile != "" && s.SSLRootCert != "" {
			p.add("source.tls.ca_file", "and source.sslrootcert name the same file for postgresql; keep only one")
		}
	}
}
