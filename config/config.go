package config

import (
	"bytes"
	"fmt"
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
	Name     string         `yaml:"name" default:"sluice" help:"source name: the checkpoint key and source.name in every record; processes sharing a name are one active instance and its standbys"`
	Source   SourceConfig   `yaml:"source"`
	Tables   TablesConfig   `yaml:"tables"`
	Snapshot SnapshotConfig `yaml:"snapshot"`
	Kafka    KafkaConfig    `yaml:"kafka"`
	// Leadership is the lease on the name: one instance writes, others
	// wait as standbys.
	Leadership LeadershipConfig `yaml:"leadership"`
	Format     string           `yaml:"format" default:"avro" help:"record format: avro (Confluent wire format, schemas in schema_registry), json (sluice's plain JSON) or connect-json (Kafka Connect's JsonConverter with schemas.enable=true)"`
	// SchemaRegistry and Avro apply when Format is avro.
	SchemaRegistry SchemaRegistryConfig `yaml:"schema_registry"`
	Avro           AvroConfig           `yaml:"avro"`
	Transforms     TransformsConfig     `yaml:"transforms"`
	ConnectJSON    ConnectJSONConfig    `yaml:"connect_json"`
	Transactions   TransactionsConfig   `yaml:"transactions"`
	Routing        RoutingConfig        `yaml:"routing"`
	Log            LogConfig            `yaml:"log"`
	Admin          AdminConfig          `yaml:"admin"`
	Debug          DebugConfig          `yaml:"debug"`

	// warnings are the problems Load found that do not stop sluice; see
	// Warnings. Unexported, so it is no setting and is never printed as
	// one.
	warnings []string
}

// Warnings returns what Load found questionable but not wrong enough to
// stop: SLUICE_* environment variables that name no setting, each with a
// "did you mean" when a setting's variable is near, and a
// transforms.hash_salt too short to keep hashes private. The caller logs each
// one. It is nil when there is nothing to say, and always nil for a Config
// not made by Load.
func (c *Config) Warnings() []string { return c.warnings }

// SourceConfig says which database to read and how to connect to it.
type SourceConfig struct {
	Type           string          `yaml:"type" help:"source database kind: mysql (MySQL and MariaDB) or postgresql"`
	Host           string          `yaml:"host" default:"127.0.0.1" help:"database host name or IP address, without a port, user or password"`
	Port           int             `yaml:"port" help:"database port; 0 means the type's usual port, 3306 for mysql and 5432 for postgresql"`
	User           string          `yaml:"user" help:"database user; mysql: with SELECT, RELOAD, REPLICATION SLAVE and REPLICATION CLIENT; postgresql: with REPLICATION and SELECT on the tables"`
	Password       Secret          `yaml:"password" help:"database password; prefer password_file or the environment variable"`
	PasswordFile   string          `yaml:"password_file" help:"file holding the database password, read at start-up; a trailing newline is dropped"`
	ServerID       uint32          `yaml:"server_id" help:"server id of sluice's replica connection; 0 derives a stable id from name"`
	Flavor         string          `yaml:"flavor" help:"server flavor: mysql or mariadb; empty detects it"`
	ConnectTimeout time.Duration   `yaml:"connect_timeout" default:"10s" help:"time allowed to connect to the database"`
	Database       string          `yaml:"database" help:"postgresql: the database to capture; tables.include patterns then name schema.table"`
	SSLMode        string          `yaml:"sslmode" help:"postgresql: TLS to the server: disable, allow, prefer, require, verify-ca or verify-full; empty means prefer"`
	SSLRootCert    string          `yaml:"sslrootcert" help:"postgresql: PEM file of the CA certificates that sign the server's certificate (verify-ca, verify-full)"`
	Slot           string          `yaml:"slot" help:"postgresql: logical replication slot; empty derives sluice_<name>; kept across restarts, dropped only by sluice drop-slot"`
	Publication    string          `yaml:"publication" help:"postgresql: publication; empty derives sluice_<name>; created over the selected tables when absent, else checked to cover them"`
	StatusInterval time.Duration   `yaml:"status_interval" help:"postgresql: how often the acknowledged position is reported to the server, which then frees WAL; 0 means 10s"`
	Streaming      bool            `yaml:"streaming" default:"true" help:"postgresql 14 and later: have the server stream transactions larger than its logical_decoding_work_mem while they run; sluice keeps them in spool_dir until they commit; false leaves them to the server, which decodes them after the commit and spills them to its own disk"`
	SpoolDir       string          `yaml:"spool_dir" help:"postgresql: directory for streamed transactions waiting for their commit; needs room for the largest transaction; empty means the system's temporary directory"`
	TLS            SourceTLSConfig `yaml:"tls"`
}

// TablesConfig chooses the tables and columns to capture.
type TablesConfig struct {
	Include        []string            `yaml:"include" help:"db.table patterns to capture, with * and ? globs; at least one"`
	Exclude        []string            `yaml:"exclude" help:"db.table patterns to leave out of include's matches"`
	ExcludeColumns []string            `yaml:"exclude_columns" help:"db.table.column patterns of columns never read or sent"`
	Keys           map[string][]string `yaml:"keys" help:"key columns of tables without a primary key, by db.table"`
}

// TransformsConfig rewrites the values of chosen columns before they leave
// sluice, in snapshot reads and streamed changes alike. A column takes at
// most one transform; NULL stays NULL.
type TransformsConfig struct {
	Mask         []string       `yaml:"mask" help:"db.table.column patterns of columns whose values become mask_with; not for key columns"`
	MaskWith     string         `yaml:"mask_with" default:"****" help:"the text every value of a masked column becomes"`
	Hash         []string       `yaml:"hash" help:"db.table.column patterns of columns whose values become the lower-case hex SHA-256 of hash_salt followed by the value's text"`
	HashSalt     Secret         `yaml:"hash_salt" help:"secret put before every hashed value; required with hash; prefer hash_salt_file or the environment variable"`
	HashSaltFile string         `yaml:"hash_salt_file" help:"file holding hash_salt, read at start-up; a trailing newline is dropped"`
	Truncate     map[string]int `yaml:"truncate" help:"db.table.column patterns of string columns to the most characters their values keep"`
}

// Snapshot modes (snapshot.mode): when sluice copies the existing rows.
const (
	SnapshotInitial     = "initial"      // on the first start, then stream
	SnapshotNever       = "never"        // stream only, from the current position
	SnapshotWhenNeeded  = "when_needed"  // initial, and again when the checkpoint's position is gone
	SnapshotAlways      = "always"       // on every start, then stream
	SnapshotInitialOnly = "initial_only" // on the first start, then stop
)

// SnapshotModes lists the valid snapshot.mode values.
var SnapshotModes = []string{SnapshotInitial, SnapshotNever, SnapshotWhenNeeded, SnapshotAlways, SnapshotInitialOnly}

// SnapshotConfig controls the initial copy of existing rows.
type SnapshotConfig struct {
	Mode string `yaml:"mode" default:"initial" help:"initial copies existing rows on the first start, then streams; never streams only; when_needed also copies them again when the checkpoint's position is gone (purged binlog, lost slot); always copies them again on every start; initial_only copies them once and stops"`
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
	ExactlyOnce        bool              `yaml:"exactly_once" help:"write records in Kafka transactions committed together with the checkpoint that covers them: a read_committed consumer sees every streamed change once across crashes, and a standby that takes over fences the old active instance"`
	TransactionalID    string            `yaml:"transactional_id" help:"transactional id of the exactly-once producer; empty derives sluice-<name>; each source needs its own"`
	TLS                KafkaTLSConfig    `yaml:"tls"`
	SASL               KafkaSASLConfig   `yaml:"sasl"`
}

// LeadershipConfig is the lease that lets one instance per name write.
// Every `sluice run` joins a Kafka consumer group; the member holding
// the group's partition 0 of the checkpoint topic is active, the others
// are standbys that take over when it stops or dies.
type LeadershipConfig struct {
	Group          string        `yaml:"group" help:"Kafka consumer group that holds the lease on the name; empty derives sluice-<name>; instances share a name only to be standbys of each other"`
	SessionTimeout time.Duration `yaml:"session_timeout" default:"10s" help:"how long an active instance that stopped answering (kill -9, host loss) keeps the lease before a standby takes over; the brokers accept group.min.session.timeout.ms (6s) to group.max.session.timeout.ms (30m)"`
}

// LeaseGroup returns the consumer group of the lease: leadership.group,
// else sluice-<name>.
func (c *Config) LeaseGroup() string {
	if c.Leadership.Group != "" {
		return c.Leadership.Group
	}
	return "sluice-" + c.Name
}

// SchemaRegistryConfig says how to reach the Confluent-API schema registry
// that holds the Avro schemas of keys and values.
type SchemaRegistryConfig struct {
	URLs           []string      `yaml:"urls" help:"schema registry base URLs, e.g. http://127.0.0.1:8081; tried in order; required when format is avro"`
	Username       string        `yaml:"username" help:"user name for HTTP basic authentication (an API key on hosted registries)"`
	Password       Secret        `yaml:"password" help:"password for HTTP basic authentication; prefer password_file or the environment variable"`
	PasswordFile   string        `yaml:"password_file" help:"file holding the registry password, read at start-up; a trailing newline is dropped"`
	TLS            TLSConfig     `yaml:"tls"`
	RequestTimeout time.Duration `yaml:"request_timeout" default:"10s" help:"time allowed for one registry request; failed requests are retried until sluice stops"`
}

// TLSConfig is the one shape of TLS settings, for every connection that
// can use TLS: Kafka (kafka.tls), the schema registry
// (schema_registry.tls). The files are read and checked by Validate.
type TLSConfig struct {
	CAFile             string `yaml:"ca_file" help:"PEM file of the CA certificates that sign the server's certificate; empty uses the system's"`
	CertFile           string `yaml:"cert_file" help:"PEM client certificate for mutual TLS; needs key_file"`
	KeyFile            string `yaml:"key_file" help:"PEM private key of cert_file"`
	ServerName         string `yaml:"server_name" help:"name the server's certificate must carry when it differs from the host sluice connects to"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify" default:"false" help:"accept any server certificate; for tests only, never in production (logged as a warning at start)"`
}

// IsZero reports whether no TLS setting is made.
func (t TLSConfig) IsZero() bool { return t == TLSConfig{} }

// SourceTLSConfig configures TLS to the database. On mysql, mode chooses
// whether and how; on postgresql, source.sslmode does, and the files here
// give the client certificate (and the CA, like source.sslrootcert).
type SourceTLSConfig struct {
	Mode      string `yaml:"mode" help:"mysql: disabled, preferred, required, verify_ca or verify_identity, as the mysql client's --ssl-mode; empty means preferred; postgresql uses source.sslmode"`
	TLSConfig `yaml:",inline"`
}

// KafkaTLSConfig turns TLS to the brokers on and configures it.
type KafkaTLSConfig struct {
	Enabled   bool `yaml:"enabled" default:"false" help:"connect to the brokers with TLS (listeners of security protocol SSL or SASL_SSL)"`
	TLSConfig `yaml:",inline"`
}

// KafkaSASLConfig authenticates sluice to the brokers.
type KafkaSASLConfig struct {
	Mechanism    string `yaml:"mechanism" help:"SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or AWS_MSK_IAM; empty means no SASL"`
	Username     string `yaml:"username" help:"SASL user name (an API key on Confluent Cloud)"`
	Password     Secret `yaml:"password" help:"SASL password; prefer password_file or the environment variable"`
	PasswordFile string `yaml:"password_file" help:"file holding the SASL password, read at start-up; a trailing newline is dropped"`
	TokenFile    string `yaml:"token_file" help:"OAUTHBEARER: file holding the bearer token, read again at every authentication so a rotated token (a Kubernetes projected token) is used"`
}

// AvroConfig shapes the Avro schemas sluice derives from tables.
type AvroConfig struct {
	UnsignedBigint string   `yaml:"unsigned_bigint" default:"decimal" help:"Avro type of BIGINT UNSIGNED: decimal (exact, decimal(20,0)) or long (values above 2^63-1 wrap to negative)"`
	Mapping        string   `yaml:"mapping" default:"v2" help:"schema mapping: v2 (Kafka Connect and Debezium attributes, no unions with string; also shapes connect-json) or v1 (the first mapping, for topics that already hold it)"`
	TextColumns    []string `yaml:"text_columns" help:"db.table.column patterns of date, time, datetime, timestamp and decimal columns written as their text, so zero dates, infinities and NaN travel unchanged (mapping v2)"`
}

// TransactionsConfig controls transaction metadata.
type TransactionsConfig struct {
	Metadata bool   `yaml:"metadata" default:"false" help:"write a BEGIN and an END record per source transaction to the transaction topic, and a transaction block (id, total and per-table order) in each streamed event"`
	Topic    string `yaml:"topic" help:"the transaction topic; empty means <kafka.topic_prefix>.transaction"`
}

// RoutingConfig sends the records of several tables to one topic.
type RoutingConfig struct {
	Topics   map[string]string `yaml:"topics" help:"topic by table: a regular expression over db.table (matching the whole name) to the topic its tables' records go to, with $1… naming the expression's groups, e.g. {\"shard_[0-9]+\\.(orders)\": \"sluice.shards.$1\"}"`
	KeyField string            `yaml:"key_field" default:"__source_table" help:"name of the field routed tables' keys and rows gain, holding db.table, so that keys stay unique across the tables of a topic"`
}

// KafkaTransactionalID returns the transactional id of the exactly-once
// producer: kafka.transactional_id, else sluice-<name>; empty when
// kafka.exactly_once is off.
func (c *Config) KafkaTransactionalID() string {
	switch {
	case !c.Kafka.ExactlyOnce:
		return ""
	case c.Kafka.TransactionalID != "":
		return c.Kafka.TransactionalID
	}
	return "sluice-" + c.Name
}

// TransactionTopic is the topic of transaction metadata records:
// transactions.topic, or <kafka.topic_prefix>.transaction.
func (c *Config) TransactionTopic() string {
	if c.Transactions.Topic != "" {
		return c.Transactions.Topic
	}
	return c.Kafka.TopicPrefix + ".transaction"
}

// ConnectJSONConfig shapes format connect-json.
type ConnectJSONConfig struct {
	DecimalFormat string `yaml:"decimal_format" default:"base64" help:"how connect-json writes decimals: base64 (Connect's Decimal bytes, as JsonConverter's decimal.format=BASE64) or numeric (JSON numbers, decimal.format=NUMERIC)"`
}

// LogConfig controls sluice's own log.
type LogConfig struct {
	Level  string `yaml:"level" default:"info" help:"log level: debug, info, warn or error"`
	Format string `yaml:"format" default:"text" help:"log format: text or json"`
}

// AdminConfig is the admin HTTP server of `sluice run`: metrics, health,
// readiness, status, pause and resume.
type AdminConfig struct {
	Listen      string        `yaml:"listen" default:"127.0.0.1:9180" help:"host:port of the admin HTTP server (/metrics, /healthz, /readyz, /status, POST /pause and /resume); empty turns it off; keep it on loopback or a private network: /pause changes state"`
	ReadyMaxLag time.Duration `yaml:"ready_max_lag" default:"1m" help:"/readyz answers 503 once the newest position Kafka acknowledged is older than this behind the source"`
}

// DebugConfig exposes sluice's internals for diagnosis.
type DebugConfig struct {
	PprofListen string `yaml:"pprof_listen" help:"host:port serving Go's /debug/pprof endpoints, e.g. 127.0.0.1:6060; empty turns them off"`
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
