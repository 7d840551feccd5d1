//go:build integration

package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestColumnTransforms: a masked, a hashed and a truncated column arrive
// transformed in the snapshot and in the stream, before- and after-images
// alike; NULL stays NULL; the salt, read from its file, shows nowhere in
// sluice's output.
func TestColumnTransforms(t *testing.T) {
	const salt = "integration-salt-7f3a9c1e5b"
	f := newFixture(t)
	f.exec("CREATE TABLE people (id INT PRIMARY KEY, email VARCHAR(100), phone VARCHAR(20), pin INT, note VARCHAR(100) CHARACTER SET utf8mb4)",
		"INSERT INTO people VALUES (1, 'ann@example.com', '+41 1', 1111, 'Zürich'), (2, 'bob@example.com', NULL, NULL, 'Genève')")
	saltFile := filepath.Join(t.TempDir(), "salt")
	if err := os.WriteFile(saltFile, []byte(salt+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := f.sluice(f.config(fmt.Sprintf(`transforms:
  mask: ["%[1]s.people.phone", "%[1]s.*.pin"]
  hash: ["%[1]s.people.email"]
  hash_salt_file: %[2]s
  truncate:
    %[1]s.people.note: 5
`, f.db, saltFile)))
	f.eventually(60*time.Second, "streaming", func() (bool, string) {
		return strings.Contains(p.output(), "snapshot complete"), "no snapshot yet"
	})
	f.exec("INSERT INTO people VALUES (3, 'cy@example.com', '+41 3', 3333, '日本語のテキスト')",
		"UPDATE people SET email = 'ann@example.org', phone = '+41 9', pin = NULL, note = 'Zug' WHERE id = 1",
		"DELETE FROM people WHERE id = 2")
	f.eventually(60*time.Second, "six records", func() (bool, string) {
		n := f.count(f.topic("people"))
		return n == 6, fmt.Sprintf("%d records", n)
	})
	p.stop()

	hash := func(s string) string {
		sum := sha256.Sum256([]byte(salt + s))
		return hex.EncodeToString(sum[:])
	}
	// row renders an image as the records should carry it.
	row := func(id int, email, phone, pin, note string) string {
		return fmt.Sprintf("id=%d email=%s phone=%s pin=%s note=%s", id, hash(email), phone, pin, note)
	}
	image := func(img map[string]json.RawMessage) string {
		if img == nil {
			return "null"
		}
		return fmt.Sprintf("id=%s email=%s phone=%s pin=%s note=%s", img["id"], jsonText(img["email"]), jsonText(img["phone"]), jsonText(img["pin"]), jsonText(img["note"]))
	}
	want := []string{
		`{"id":1} r before=null after=` + row(1, "ann@example.com", "****", "****", "Züric"),
		`{"id":2} r before=null after=` + row(2, "bob@example.com", "NULL", "NULL", "Genèv"),
		`{"id":3} c before=null after=` + row(3, "cy@example.com", "****", "****", "日本語のテ"),
		`{"id":1} u before=` + row(1, "ann@example.com", "****", "****", "Züric") + ` after=` + row(1, "ann@example.org", "****", "NULL", "Zug"),
		`{"id":2} d before=` + row(2, "bob@example.com", "NULL", "NULL", "Genèv") + ` after=null`,
		`{"id":2} tombstone`,
	}
	var got []string
	for _, r := range f.read(f.topic("people")) {
		if r.Value == nil {
			got = append(got, r.Key+" tombstone")
			continue
		}
		e := r.env(t)
		got = append(got, fmt.Sprintf("%s %s before=%s after=%s", r.Key, e.Op, image(e.Before), image(e.After)))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(p.output(), salt) {
		t.Error("the salt appears in sluice's output")
	}
}
