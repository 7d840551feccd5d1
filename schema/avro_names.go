package schema

import (
	"strconv"
	"strings"
)

// avroName turns s into a legal Avro name ([A-Za-z_][A-Za-z0-9_]*): every
// other byte becomes '_', and a name that would start with a digit or be
// empty gets a leading '_'. Multi-byte UTF-8 characters become one '_' each.
func avroName(s string) string {
	ok := s != "" && !(s[0] >= '0' && s[0] <= '9')
	for i := 0; ok && i < len(s); i++ {
		ok = isAvroNameByte(s[i])
	}
	if ok {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 1)
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		b.WriteByte('_')
	}
	for _, r := range s {
		if r < 0x80 && isAvroNameByte(byte(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func isAvroNameByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// avroNamespace is the namespace of a table's records: the dot-separated
// parts of the topic prefix, then the database, then the table, each made a
// legal Avro name. Dots inside a database or table name do not split it.
func avroNamespace(prefix, database, table string) string {
	var parts []string
	if prefix != "" {
		for _, p := range strings.Split(prefix, ".") {
			parts = append(parts, avroName(p))
		}
	}
	parts = append(parts, avroName(database), avroName(table))
	return strings.Join(parts, ".")
}

// avroTopicNamespace is the namespace of the records of a routed topic:
// its dot-separated parts, each made a legal Avro name.
func avroTopicNamespace(topic string) string {
	parts := strings.Split(topic, ".")
	for i, p := range parts {
		parts[i] = avroName(p)
	}
	return strings.Join(parts, ".")
}

// avroFieldNames returns a legal, unique Avro field name for each column
// name, in order. Names that are already legal are kept as they are. A name
// that had to be changed and whose legal form is taken (by a legal name or
// an earlier changed one) gets the smallest suffix "_2", "_3", … that makes
// it unique.
func avroFieldNames(names []string) []string {
	out := make([]string, len(names))
	taken := make(map[string]bool, len(names))
	for i, n := range names {
		if avroName(n) == n {
			out[i] = n
			taken[n] = true
		}
	}
	for i, n := range names {
		if out[i] != "" {
			continue
		}
		base := avroName(n)
		name := base
		for k := 2; taken[name]; k++ {
			name = base + "_" + strconv.Itoa(k)
		}
		taken[name] = true
		out[i] = name
	}
	return out
}
