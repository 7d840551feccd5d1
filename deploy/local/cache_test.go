package local

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestChooseCacheDir(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		name string
		env  map[string]string
		home string
		want string
	}{
		{"sluice cache wins", map[string]string{"SLUICE_CACHE": "/c/s", "XDG_CACHE_HOME": "/x"}, "/h", "/c/s"},
		{"xdg", map[string]string{"XDG_CACHE_HOME": "/x"}, "/h", "/x/sluice"},
		{"relative xdg is ignored", map[string]string{"XDG_CACHE_HOME": "x"}, "/h", "/h/.cache/sluice"},
		{"home", nil, "/h", "/h/.cache/sluice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chooseCacheDir(env(tt.env), tt.home)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := chooseCacheDir(env(nil), ""); err == nil {
		t.Error("no SLUICE_CACHE, XDG_CACHE_HOME or HOME: want an error")
	}
	got, err := chooseCacheDir(env(map[string]string{"SLUICE_CACHE": "rel"}), "/h")
	if err != nil || !filepath.IsAbs(got) {
		t.Errorf("relative SLUICE_CACHE: got %q, %v; want an absolute path", got, err)
	}
}

func TestLockFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := lockFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := lockFile(ctx, path); err == nil {
		t.Fatal("second lock while the first is held: want an error after the context ends")
	}

	got := make(chan error, 1)
	go func() {
		u, err := lockFile(t.Context(), path)
		if err == nil {
			u()
		}
		got <- err
	}()
	time.Sleep(150 * time.Millisecond)
	select {
	case <-got:
		t.Fatal("second lock taken while the first is held")
	default:
	}
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second lock not taken after the first was released")
	}
}
