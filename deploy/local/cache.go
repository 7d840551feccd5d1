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
