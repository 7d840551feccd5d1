package engine

import (
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/sink"
)

// sinkConfig is the Kafka side of cfg for package sink: the producer's
// settings, TLS (its files read) and the SASL mechanism.
func sinkConfig(cfg *config.Config) (sink.Config, error) {
	k := cfg.Kafka
	sc := sink.Config{
		Brokers: k.Brokers, ClientID: k.ClientID, TopicPartitions: k.Partitions, ReplicationFactor: k.ReplicationFactor,
		TopicConfigs: k.TopicConfig, CheckpointTopic: k.CheckpointTopic, CheckpointInterval: k.CheckpointInterval,
		MaxBufferedRecords: k.MaxBufferedRecords, MaxBufferedBytes: k.MaxBufferedBytes, MaxMessageBytes: k.MaxMessageBytes,
		DeliveryTimeout: k.DeliveryTimeout, ProducerLinger: k.Linger, Compression: k.Compression,
		TransactionalID: cfg.KafkaTransactionalID(),
	}
	if k.TLS.Enabled {
		t, err := k.TLS.Load("kafka.tls")
		if err != nil {
			return sc, err
		}
		sc.TLS = t
	}
	m, err := saslMechanism(k.SASL)
	if err != nil {
		return sc, err
	}
	sc.SASL = m
	return sc, nil
}

// saslMechanism builds the franz-go mechanism kafka.sasl names; nil when
// no SASL is configured. For AWS_MSK_IAM it loads the AWS configuration
// (environment, shared files; no request is made until a broker asks).
func saslMechanism(s config.KafkaSASLConfig) (sasl.Mechanism, error) {
	user, pass := s.Username, s.Password.Reveal()
	switch s.Mechanism {
	case "":
		return nil, nil
	case "OAUTHBEARER":
		return oauth.Oauth(tokenFromFile(s.TokenFile)), nil
	case "AWS_MSK_IAM":
		return mskIAM()
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", s.Mechanism)
}

// warnSecurity logs the settings that weaken a connection's security,
// once at start.
func warnSecurity(cfg *config.Config, log *slog.Logger) {
	if cfg.Kafka.TLS.Enabled && cfg.Kafka.TLS.InsecureSkipVerify {
		log.Warn("kafka.tls.insecure_skip_verify is set: the brokers' certificates are not verified, so anyone on the path can impersonate them; use it for tests only and set kafka.tls.ca_file instead")
	}
	if cfg.Kafka.SASL.Mechanism == "PLAIN" && !cfg.Kafka.TLS.Enabled {
		log.Warn("kafka.sasl.mechanism PLAIN without kafka.tls.enabled sends the password in plain text; enable TLS (a SASL_SSL listener) or use SCRAM")
	}
	if cfg.Format == "avro" && cfg.SchemaRegistry.TLS.InsecureSkipVerify {
		log.Warn("schema_registry.tls.insecure_skip_verify is set: the registry's certificate is not verified; use it for tests only and set schema_registry.tls.ca_file instead")
	}
}
