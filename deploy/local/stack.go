package local

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// StartMariaDBAndKafka starts MariaDB (with dbOpt, its Dir and Keep set
// here) and Kafka side by side in dir/mariadb and dir/kafka, keeping their
// data on Stop when keep is set. It blocks until both serve clients; on
// error neither is left running.
func StartMariaDBAndKafka(ctx context.Context, dir string, keep bool, dbOpt MariaDBOptions) (*MariaDB, *Kafka, error) {
	dbOpt.Dir, dbOpt.Keep = filepath.Join(dir, "mariadb"), keep
	type started struct {
		db  *MariaDB
		err error
	}
	dbc := make(chan started, 1)
	go func() {
		db, err := StartMariaDB(ctx, dbOpt)
		dbc <- started{db, err}
	}()
	kafka, kerr := StartKafka(ctx, KafkaOptions{Dir: filepath.Join(dir, "kafka"), Keep: keep})
	d := <-dbc
	if d.err != nil || kerr != nil {
		if d.db != nil {
			_ = d.db.Stop()
		}
		if kafka != nil {
			_ = kafka.Stop()
		}
		return nil, nil, errors.Join(d.err, kerr)
	}
	return d.db, kafka, nil
}

// StopMariaDBAndKafka stops both servers side by side and blocks until both
// have exited.
func StopMariaDBAndKafka(db *MariaDB, kafka *Kafka) error {
	dbErr := make(chan error, 1)
	go func() { dbErr <- db.Stop() }()
	kerr := kafka.Stop()
	return errors.Join(<-dbErr, kerr)
}

// BuildSluice compiles ./cmd/sluice of the repository at root into out,
// without the race detector. It blocks until the go command is done; the
// compiler's messages are in the error.
func BuildSluice(ctx context.Context, root, out string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", out, "./cmd/sluice")
	cmd.Dir = root
	msg, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("build sluice: %w\n%s\nfix the errors above (go build ./cmd/sluice shows them too) and try again",
			err, strings.TrimSpace(string(msg)))
	}
	return nil
}
