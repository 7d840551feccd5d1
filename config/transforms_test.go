package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestTransformsSettings loads every transform setting from each source:
// the file, the environment and flags, the salt from its file.
func TestTransformsSettings(t *testing.T) {
	dir := t.TempDir()
	saltFile := filepath.Join(dir, "salt")
	if err := os.WriteFile(saltFile, []byte("0123456789abcdef-salt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, "sluice.yaml", `transforms:
  mask: ["shop.customers.phone", "*.*.ssn"]
  mask_with: "XXX"
  hash: ["shop.customers.email"]
  hash_salt_file: `+saltFile+`
  truncate:
    shop.customers.note: 64
    shop.orders.memo: 200
`)
	c, err := Load(file, nil, minimalEnv)
	if err != nil {
		t.Fatal(err)
	}
	x := c.Transforms
	if fmt.Sprint(x.Mask) != "[shop.customers.phone *.*.ssn]" || x.MaskWith != "XXX" || fmt.Sprint(x.Hash) != "[shop.customers.email]" ||
		x.HashSalt.Reveal() != "0123456789abcdef-salt" || len(x.Truncate) != 2 || x.Truncate["shop.customers.note"] != 64 || x.Truncate["shop.orders.memo"] != 200 {
		t.Errorf("from the file: %+v", x)
	}
	if len(c.Warnings()) != 0 {
		t.Errorf("warnings %q", c.Warnings())
	}

	env := append(slicesClone(minimalEnv), "SLUICE_TRANSFORMS_HASH=shop.a.b,shop.a.c", "SLUICE_TRANSFORMS_HASH_SALT=a-salt-of-sixteen-or-more",
		"SLUICE_TRANSFORMS_TRUNCATE=shop.a.d=10, shop.a.e = 20")
	c, err = Load("", []string{"--transforms.truncate=shop.a.f=30", "--transforms.truncate", "shop.a.g=40", "--transforms.mask=shop.a.h"}, env)
	if err != nil {
		t.Fatal(err)
	}
	x = c.Transforms
	if fmt.Sprint(x.Hash) != "[shop.a.b shop.a.c]" || x.HashSalt.Reveal() != "a-salt-of-sixteen-or-more" || x.MaskWith != "****" ||
		fmt.Sprint(x.Truncate) != "map[shop.a.f:30 shop.a.g:40]" || fmt.Sprint(x.Mask) != "[shop.a.h]" {
		t.Errorf("from flags and the environment: %+v", x)
	}
	c, err = Load("", nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(c.Transforms.Truncate) != "map[shop.a.d:10 shop.a.e:20]" {
		t.Errorf("truncate from the environment: %v", c.Transforms.Truncate)
	}
}

// TestTransformsErrors: every wrong transform setting is reported, naming
// the setting and the fix, and the salt never shows.
func TestTransformsErrors(t *testing.T) {
	const salt = "s3cret-Salt-Qx7"
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file string
		env  []string
		args []string
		want []string
	}{
		{name: "hash without salt", args: []string{"--transforms.hash=shop.c.email"},
			want: []string{"transforms.hash_salt: required when transforms.hash is set; set transforms.hash_salt_file or SLUICE_TRANSFORMS_HASH_SALT"}},
		{name: "bad patterns", args: []string{"--transforms.mask=shop.c", "--transforms.hash=shop.[.x", "--transforms.truncate=shop.c=5", "--transforms.hash_salt=" + salt},
			want: []string{
				`transforms.mask: "shop.c" is not of the form db.table.column`,
				`transforms.hash: "shop.[.x" is not a valid pattern`,
				`transforms.truncate: "shop.c" is not of the form db.table.column`,
			}},
		{name: "lengths", file: "transforms:\n  truncate: {shop.c.a: 0, shop.c.b: -3}\n",
			want: []string{
				`transforms.truncate: "shop.c.a": 0 is not a length; give the most characters to keep, at least 1, e.g. shop.c.a: 64`,
				`transforms.truncate: "shop.c.b": -3 is not a length`,
			}},
		{name: "not integers in the file", file: "transforms:\n  truncate:\n    shop.c.a: 3.5\n    shop.c.b: abc\n    shop.c.c: [1]\n    shop.c.d: \"64\"\n",
			want: []string{
				`line 3: transforms.truncate: "shop.c.a": want an integer, got "3.5"`,
				`line 4: transforms.truncate: "shop.c.b": want an integer, got "abc"`,
				`line 5: transforms.truncate: "shop.c.c": want an integer, got a list`,
				`line 6: transforms.truncate: "shop.c.d": want an integer, got "64"`,
			}},
		{name: "truncate not a mapping", file: "transforms:\n  truncate: [shop.c.a]\n",
			want: []string{"transforms.truncate: want a mapping of names to integers, got a list"}},
		{name: "not integers in the environment", env: []string{"SLUICE_TRANSFORMS_TRUNCATE=shop.c.a=ten"},
			want: []string{`SLUICE_TRANSFORMS_TRUNCATE: want key=integer pairs separated by commas, e.g. shop.customers.note=64`}},
		{name: "not integers as a flag", args: []string{"--transforms.truncate=shop.c.a"},
			want: []string{`--transforms.truncate: want key=integer pairs separated by commas`}},
		{name: "one pattern, two transforms",
			args: []string{"--transforms.mask=shop.c.email", "--transforms.hash=shop.c.email", "--transforms.truncate=shop.c.email=5", "--transforms.hash_salt=" + salt},
			want: []string{
				`transforms.hash: "shop.c.email" is named by transforms.mask too; a column takes one transform: keep the pattern in one of them`,
				`transforms.truncate: "shop.c.email" is named by transforms.mask too`,
			}},
		{name: "empty mask_with", args: []string{"--transforms.mask=shop.c.email"}, env: []string{"SLUICE_TRANSFORMS_MASK_WITH="},
			file: "transforms:\n  mask_with: \"\"\n",
			want: []string{"transforms.mask_with: must not be empty when transforms.mask is set"}},
		{name: "salt twice", args: []string{"--transforms.hash=shop.c.email", "--transforms.hash_salt=" + salt, "--transforms.hash_salt_file=" + empty},
			want: []string{"transforms.hash_salt and transforms.hash_salt_file are both set; keep only one"}},
		{name: "empty salt file", args: []string{"--transforms.hash=shop.c.email", "--transforms.hash_salt_file=" + empty},
			want: []string{"transforms.hash_salt_file: " + empty + " is empty; write the secret into it"}},
		{name: "missing salt file", args: []string{"--transforms.hash=shop.c.email", "--transforms.hash_salt_file=/nonexistent/salt"},
			want: []string{"transforms.hash_salt_file: open /nonexistent/salt: no such file or directory; make the file readable"}},
		{name: "salt with another error", file: "transforms:\n  hash_salt: " + salt + "\n  hash: [shop.c]\n",
			want: []string{`transforms.hash: "shop.c" is not of the form db.table.column`}},
		{name: "salt of the wrong form", file: "transforms:\n  hash_salt: [" + salt + "]\n",
			want: []string{"transforms.hash_salt: want a string, got a list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, "sluice.yaml", tt.file)
			}
			_, err := Load(path, tt.args, append(slicesClone(minimalEnv), tt.env...))
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), salt) {
				t.Errorf("salt in error: %v", err)
			}
		})
	}
}

// TestHashSaltNeverShown: the salt is a Secret; a loaded config printed
// every way shows it nowhere, and a short salt draws a warning that gives
// its length only.
func TestHashSaltNeverShown(t *testing.T) {
	const salt = "pepper-9"
	c, err := Load("", []string{"--transforms.hash=shop.c.email"}, append(slicesClone(minimalEnv), "SLUICE_TRANSFORMS_HASH_SALT="+salt))
	if err != nil {
		t.Fatal(err)
	}
	var outputs []string
	for _, v := range []any{c, *c, c.Transforms, c.Transforms.HashSalt} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		y, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(j), string(y))
	}
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("start", "config", c, "transforms", c.Transforms)
	outputs = append(outputs, b.String(), c.Redacted())
	outputs = append(outputs, c.Warnings()...)
	for _, out := range outputs {
		if strings.Contains(out, salt) || strings.Contains(out, fmt.Sprintf("%x", salt)) {
			t.Fatalf("salt shown in %q", out)
		}
	}
	if !strings.Contains(c.Redacted(), "hash_salt: '[redacted]'") {
		t.Errorf("Redacted() does not mark the salt:\n%s", c.Redacted())
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "transforms.hash_salt has 8 characters: a short salt") {
		t.Errorf("warnings %q, want one about the short salt", w)
	}
}
