package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// aptInstall installs Debian packages with apt-get: directly as root, through
// `sudo -n` when that works without a password, and otherwise not at all, with
// an error that names the command the user must run.
//
// It blocks until apt-get has finished, serialised with other callers (in any
// process) by a lock file in the cache. When ctx is done first it returns
// early but leaves apt-get running to completion, because an interrupted dpkg
// run leaves the system needing `dpkg --configure -a`; a goroutine reaps it
// and releases the lock. installed is checked again under the lock, so a
// package another process installed meanwhile is not installed twice.
func aptInstall(ctx context.Context, installed func() bool, pkgs ...string) error {
	return aptInstallWith(ctx, installed, aptHooks{}, pkgs...)
}

// aptHooks are commands that aptInstallWith runs with apt-get's privileges
// and under its lock: before ahead of apt-get, where a failure stops the
// installation; after once apt-get has ended, whether it succeeded or not.
type aptHooks struct {
	before, after [][]string
}

// aptInstallWith is aptInstall with hooks run around apt-get; it blocks and
// returns early on ctx like aptInstall.
func aptInstallWith(ctx context.Context, installed func() bool, hooks aptHooks, pkgs ...string) error {
	hint := aptHint(pkgs)
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("install %s: apt-get not found (install these packages with your system's package manager)", strings.Join(pkgs, ", "))
	}
	useSudo := false
	if os.Geteuid() != 0 {
		if exec.CommandContext(ctx, "sudo", "-n", "true").Run() != nil {
			return fmt.Errorf("install %s: not root and sudo needs a password (run: %s)", strings.Join(pkgs, ", "), hint)
		}
		useSudo = true
	}
	cache, err := cacheDir()
	if err != nil {
		return err
	}
	unlock, err := lockFile(ctx, filepath.Join(cache, "apt.lock"))
	if err != nil {
		return fmt.Errorf("install %s: %w", strings.Join(pkgs, ", "), err)
	}
	if installed() {
		unlock()
		return nil
	}
	logPath := filepath.Join(cache, "apt.log")
	_ = os.Truncate(logPath, 0)
	done := make(chan error, 1)
	go func() {
		defer unlock()
		var err error
		for _, argv := range append(asRoot(hooks.before, useSudo), aptCommands(pkgs, useSudo)...) {
			if err = runDetached(logPath, argv); err != nil {
				err = fmt.Errorf("install %s: %w (run by hand: %s)", strings.Join(pkgs, ", "), err, hint)
				break
			}
		}
		for _, argv := range asRoot(hooks.after, useSudo) {
			if aerr := runDetached(logPath, argv); aerr != nil && err == nil {
				err = fmt.Errorf("install %s: %w", strings.Join(pkgs, ", "), aerr)
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("install %s: %w (apt-get keeps running in the background)", strings.Join(pkgs, ", "), ctx.Err())
	}
}

// aptCommands returns the commands that install pkgs.
func aptCommands(pkgs []string, useSudo bool) [][]string {
	install := append([]string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends"}, pkgs...)
	cmds := [][]string{{"apt-get", "update"}, install}
	if useSudo {
		for i, c := range cmds {
			cmds[i] = append([]string{"sudo", "-n"}, c...)
		}
	}
	return cmds
}

// asRoot returns copies of cmds prefixed with `sudo -n` when useSudo is set.
func asRoot(cmds [][]string, useSudo bool) [][]string {
	out := make([][]string, len(cmds))
	for i, c := range cmds {
		if useSudo {
			c = append([]string{"sudo", "-n"}, c...)
		}
		out[i] = c
	}
	return out
}

// aptHint is the shell command a user runs to install pkgs.
func aptHint(pkgs []string) string {
	return "sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends " + strings.Join(pkgs, " ")
}

// runDetached runs argv to completion with its output appended to logPath,
// in its own process group so that a terminal's Ctrl-C does not interrupt it.
// It blocks and is not cancellable.
func runDetached(logPath string, argv []string) error {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log for %s: %w", argv[0], err)
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("%s: %w%s", strings.Join(argv, " "), err, logTails(logPath))
		}
		return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return nil
}
