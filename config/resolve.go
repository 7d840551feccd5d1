package config

import (
	"fmt"
	"hash/fnv"
	"os"
	"strings"
	"time"
)

// resolve reads the secret files (source.password_file,
// kafka.sasl.password_file, transforms.hash_salt_file,
// schema_registry.password_file) and derives source.server_id.
func (c *Config) resolve() error {
	if err := readSecretFile("source.password", c.Source.PasswordFile, &c.Source.Password); err != nil {
		return err
	}
	if err := readSecretFile("kafka.sasl.password", c.Kafka.SASL.PasswordFile, &c.Kafka.SASL.Password); err != nil {
		return err
	}
	if err := readSecretFile("transforms.hash_salt", c.Transforms.HashSaltFile, &c.Transforms.HashSalt); err != nil {
		return err
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
	if c.Source.Type == "mysql" && c.Source.TLS.Mode == "" {
		c.Source.TLS.Mode = "preferred"
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
	return readSecretFile("schema_registry.password", r.PasswordFile, &r.Password)
}

// readSecretFile sets *dst to the content of file, the file setting of the
// secret key (key + "_file"), without its trailing newline. An empty file
// name reads nothing; a secret set both ways, an unreadable file and an
// empty one are errors naming the setting and the fix, never the content.
func readSecretFile(key, file string, dst *Secret) error {
	if file == "" {
		return nil
	}
	if !dst.IsZero() {
		return fmt.Errorf("%s and %s_file are both set; keep only one", key, key)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%s_file: %w; make the file readable by the user sluice runs as", key, err)
	}
	pw := strings.TrimRight(string(data), "\r\n")
	if pw == "" {
		what := "password"
		if !strings.HasSuffix(key, "password") {
			what = "secret"
		}
		return fmt.Errorf("%s_file: %s is empty; write the %s into it", key, file, what)
	}
	*dst = Secret{pw}
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
