package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func run(t *testing.T, args []string, env ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = dispatch(context.Background(), args, env, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestVersion(t *testing.T) {
	out, _, err := run(t, []string{"version"})
	if err != nil {
		t.Fatal(err)
	}
	// A test binary carries no VCS stamp; the build's Go version is there.
	if !strings.HasPrefix(out, "sluice ") || !strings.Contains(out, " go1.") {
		t.Errorf("version output %q", out)
	}
}

// TestVersionFromGitCheckout: a binary built from the git checkout (as
// make build does, whatever GOFLAGS says about VCS stamping) reports the
// commit's pseudo-version and the commit, not "(devel)".
func TestVersionFromGitCheckout(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed to build from the checkout: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "sluice")
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^sluice v0\.0\.0-\d{14}-[0-9a-f]{12}(\+dirty)? commit [0-9a-f]{40}( \(modified\))? committed \d{4}-\d\d-\d\dT[0-9:]{8}Z go1\.\d+`)
	if !re.Match(out) {
		t.Errorf("version output %q does not name the pseudo-version, commit and commit time", out)
	}
}

// TestHelpShowsTheCommandsSettings: each subcommand's --help lists the
// settings it uses and no others.
func TestHelpShowsTheCommandsSettings(t *testing.T) {
	out, _, err := run(t, []string{"drop-slot", "--help"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--source.slot", "--source.host", "--name", "--log.level", "--config"} {
		if !strings.Contains(out, want+" ") {
			t.Errorf("drop-slot --help lacks %s", want)
		}
	}
	for _, unwanted := range []string{"--kafka.", "--schema_registry.", "--avro.", "--snapshot.", "--tables."} {
		if strings.Contains(out, unwanted) {
			t.Errorf("drop-slot --help lists %s settings", unwanted)
		}
	}
	out, _, err = run(t, []string{"run", "--help"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--kafka.brokers", "--source.host", "--schema_registry.urls", "--tables.include"} {
		if !strings.Contains(out, want+" ") {
			t.Errorf("run --help lacks %s", want)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	_, errOut, err := run(t, []string{"sync"})
	if !errors.Is(err, errUsage) || !strings.Contains(errOut, `unknown command "sync"`) {
		t.Errorf("err %v, stderr %q", err, errOut)
	}
}

// TestBadConfigFailsBeforeConnecting: a configuration error is reported
// without any connection: the source and the broker point at a port where
// nothing listens, and the error is the setting's, not a connection's.
func TestBadConfigFailsBeforeConnecting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	host, port, _ := net.SplitHostPort(addr)
	for _, cmd := range []string{"run", "check", "drop-slot"} {
		_, _, err := run(t, []string{cmd, "--source.type=mysql", "--source.host=" + host, "--source.port=" + port,
			"--source.user=sluice", "--tables.include=shop.*", "--kafka.brokers=" + addr, "--format=json",
			"--kafka.max_message_bytes=2000", "--kafka.max_buffered_bytes=1000"})
		if err == nil || !strings.Contains(err.Error(), "kafka.max_buffered_bytes") || strings.Contains(err.Error(), "connect") {
			t.Errorf("%s: %v, want the max_buffered_bytes error and no connection attempt", cmd, err)
		}
	}
}

// TestDropSlotNeedsPostgres: drop-slot on a MySQL source says so.
func TestDropSlotNeedsPostgres(t *testing.T) {
	_, _, err := run(t, []string{"drop-slot", "--source.type=mysql", "--source.user=sluice", "--tables.include=shop.*",
		"--kafka.brokers=127.0.0.1:9", "--format=json"})
	if err == nil || err.Error() != "drop-slot applies to source.type postgresql, this source is mysql" {
		t.Errorf("drop-slot on mysql: %v", err)
	}
}

// TestUnknownEnvironmentVariableWarns: a SLUICE_* variable that names no
// setting is logged as a warning before anything else happens.
func TestUnknownEnvironmentVariableWarns(t *testing.T) {
	_, errOut, _ := run(t, []string{"drop-slot", "--source.type=mysql", "--source.user=sluice", "--tables.include=shop.*",
		"--kafka.brokers=127.0.0.1:9", "--format=json"}, "SLUICE_SOURCE_HOTS=db1")
	if !strings.Contains(errOut, "SLUICE_SOURCE_HOTS") || !strings.Contains(errOut, "SLUICE_SOURCE_HOST") || !strings.Contains(errOut, "level=WARN") {
		t.Errorf("stderr %q: want a warning naming SLUICE_SOURCE_HOTS and SLUICE_SOURCE_HOST", errOut)
	}
}

// TestCheckNeverPrintsSecrets: sluice check, failing to reach the source
// and Kafka, prints no password of any setting.
func TestCheckNeverPrintsSecrets(t *testing.T) {
	const dbPW, saslPW = "db-Secret-91", "sasl-Secret-92"
	out, errOut, err := run(t, []string{"check", "--source.type=mysql", "--source.port=9", "--source.user=sluice",
		"--source.tls.mode=disabled", "--tables.include=shop.*", "--kafka.brokers=127.0.0.1:9", "--format=json",
		"--kafka.sasl.mechanism=SCRAM-SHA-512", "--kafka.sasl.username=sluice", "--kafka.sasl.password=" + saslPW},
		"SLUICE_SOURCE_PASSWORD="+dbPW)
	if !errors.Is(err, errReported) || !strings.Contains(out, "ERROR") {
		t.Fatalf("check: %v\n%s", err, out)
	}
	for _, pw := range []string{dbPW, saslPW} {
		if strings.Contains(out+errOut, pw) {
			t.Errorf("a password is printed:\n%s\n%s", out, errOut)
		}
	}
}
