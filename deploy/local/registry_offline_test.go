package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistryArgv(t *testing.T) {
	argv := registryArgv("/usr/bin/java", "/cache/reg", "/d/data", 18081, "tok")
	joined := strings.Join(argv, "\n")
	for _, want := range []string{
		"-Dquarkus.http.host=127.0.0.1",
		"-Dquarkus.http.port=18081",
		"-D%prod.quarkus.datasource.jdbc.url=jdbc:h2:file:/d/data/registry;WRITE_DELAY=0",
		`-Dquarkus.http.header."X-Sluice-Registry".value=tok`,
	} {
		if !strings.Contains(joined, "\n"+want+"\n") {
			t.Errorf("argv lacks %s:\n%s", want, joined)
		}
	}
	if argv[0] != "/usr/bin/java" || argv[len(argv)-2] != "-jar" || argv[len(argv)-1] != "/cache/reg/"+registryRunner {
		t.Errorf("argv does not run the runner jar: %q", argv)
	}
}

func TestRegistryLogCauses(t *testing.T) {
	log := filepath.Join(t.TempDir(), "registry.log")
	if got := registryLogCauses(log); got != "" {
		t.Fatalf("missing log: %q", got)
	}
	lines := []string{
		"2026-12-01 13:14:47 INFO <_> [io.quarkus] started",
		"2026-12-01 13:14:48 ERROR <_> [io.quarkus.runtime.Application] (main) Failed to start application (with profile prod)",
		"java.lang.RuntimeException: boom",
		"\tat a.b.C.d(C.java:1)",
		"Caused by: org.h2.jdbc.JdbcSQLNonTransientException: File corrupted while reading record",
		"\tat org.h2.mvstore.FileStore.readFully(FileStore.java:98)",
	}
	if err := os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := registryLogCauses(log)
	if !strings.Contains(got, "Failed to start application") || !strings.Contains(got, "Caused by: org.h2.jdbc.JdbcSQLNonTransientException") {
		t.Fatalf("causes: %q", got)
	}
	if strings.Contains(got, "FileStore.readFully") || strings.Contains(got, "INFO") {
		t.Fatalf("causes hold more than the error lines: %q", got)
	}
}
