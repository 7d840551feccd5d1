package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// cacheDir returns the directory downloads are cached in and creates it.
func cacheDir() (string, error) {
	home, _ := os.UserHomeDir()
	dir, err := chooseCacheDir(os.Getenv, home)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create cache directory: %w (set SLUICE_CACHE to a writable directory)", err)
	}
	return dir, nil
}

// chooseCacheDir picks the cache directory: $SLUICE_CACHE, else
// $XDG_CACHE_HOME/sluice, else HOME/.cache/sluice.
func chooseCacheDir(getenv func(string) string, home string) (string, error) {
	if dir := getenv("SLUICE_CACHE"); dir != "" {
		return filepath.Abs(dir)
	}
	if xdg := getenv("XDG_CACHE_HOME"); xdg != "" && filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "sluice"), nil
	}
	if home == "" {
		return "", errors.New("choose cache directory: neither SLUICE_CACHE, XDG_CACHE_HOME nor HOME is set (set SLUICE_CACHE to a writable directory)")
	}
	return filepath.Join(home, ".cache", "sluice"), nil
}

// lockFile takes an exclusive flock on path, creating the file if needed. It
// blocks, polling, until the lock is free or ctx is done. The returned
// function releases the lock.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("wait for lock %s held by another process: %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// mavenInstall is the installation pattern the Maven-built servers share:
// an installation is the directory cache/name, complete when installed
// says so. When it is missing, mavenInstall installs Java and Maven, takes
// the cache's lock for name (serialising with installers in this process
// and others), removes what an interrupted run left, and calls build with
// the path of mvn and a fresh temporary directory in the cache; once build
// succeeded and installed accepts the directory it is renamed into place.
// what names the server in errors ("kafka connect").
func mavenInstall(ctx context.Context, what, name string, installed func(dir string) bool,
	build func(ctx context.Context, mvn, tmp string) error) (home string, err error) {
	fail := func(err error) (string, error) { return "", fmt.Errorf("install %s: %w", what, err) }
	cache, err := cacheDir()
	if err != nil {
		return fail(err)
	}
	home = filepath.Join(cache, name)
	if installed(home) {
		return home, nil
	}
	if err := installJavaAndMaven(ctx); err != nil {
		return fail(err)
	}
	mvn, err := findBinary("mvn")
	if err != nil {
		return fail(err)
	}
	unlock, err := lockFile(ctx, home+".lock")
	if err != nil {
		return fail(err)
	}
	defer unlock()
	if installed(home) {
		return home, nil
	}
	// Under the lock nobody else writes: whatever is left is from an
	// interrupted run.
	stale, _ := filepath.Glob(filepath.Join(cache, "."+name+".tmp-*"))
	for _, p := range append(stale, home) {
		if err := os.RemoveAll(p); err != nil {
			return fail(fmt.Errorf("remove an incomplete installation: %w", err))
		}
	}
	tmp, err := os.MkdirTemp(cache, "."+name+".tmp-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	if err := build(ctx, mvn, tmp); err != nil {
		return fail(err)
	}
	if !installed(tmp) {
		return fail(fmt.Errorf("mvn finished but the installation in %s is incomplete (remove it and try again)", tmp))
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, home); err != nil {
		return fail(err)
	}
	return home, nil
}

// mavenHint is what a failed mvn run needs most often.
const mavenHint = "Maven needs Maven Central, or a mirror in ~/.m2/settings.xml"
