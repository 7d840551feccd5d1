package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"gopkg.in/yaml.v3"
)

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
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.shown()) }

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
