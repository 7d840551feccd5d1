package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// parsedConfig is the part of sluice's configuration the tests check.
type parsedConfig struct {
	Name   string
	Source map[string]any
	Tables struct{ Include []string }
	Kafka  struct {
		Brokers         []string
		TopicPrefix     string `yaml:"topic_prefix"`
		CheckpointTopic string `yaml:"checkpoint_topic"`
	}
	Format         string
	SchemaRegistry struct{ URLs []string } `yaml:"schema_registry"`
	Log            map[string]string
}

func parseConfig(t *testing.T, s sluiceSettings) parsedConfig {
	t.Helper()
	var cfg parsedConfig
	text := s.configYAML()
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("config does not parse: %v\n%s", err, text)
	}
	if _, ok := cfg.Source["password"]; ok {
		t.Error("the config holds a password")
	}
	return cfg
}

func TestConfigYAMLMySQL(t *testing.T) {
	src := &source{kind: sourceMySQL}
	s := src.settings("127.0.0.1:9092", "http://127.0.0.1:8081/apis/ccompat/v7")
	s.DBPort = 41234
	cfg := parseConfig(t, s)
	if cfg.Name != "quickstart-mysql" || cfg.Source["port"] != 41234 || cfg.Source["user"] != "sluice" || cfg.Source["type"] != "mysql" {
		t.Errorf("top level and source: %+v %+v", cfg.Name, cfg.Source)
	}
	if _, ok := cfg.Source["database"]; ok {
		t.Error("a mysql source names a database")
	}
	if !slices.Equal(cfg.Tables.Include, []string{"shop.*"}) {
		t.Errorf("tables.include = %v", cfg.Tables.Include)
	}
	if !slices.Equal(cfg.Kafka.Brokers, []string{"127.0.0.1:9092"}) || cfg.Kafka.TopicPrefix != "quickstart.mysql" ||
		cfg.Kafka.CheckpointTopic != "quickstart.mysql.checkpoints" {
		t.Errorf("kafka = %+v", cfg.Kafka)
	}
	if cfg.Format != "avro" || !slices.Equal(cfg.SchemaRegistry.URLs, []string{"http://127.0.0.1:8081/apis/ccompat/v7"}) {
		t.Errorf("format %q, registry %v", cfg.Format, cfg.SchemaRegistry.URLs)
	}
}

func TestConfigYAMLPostgres(t *testing.T) {
	src := &source{kind: sourcePostgres}
	s := src.settings("127.0.0.1:9092", "http://127.0.0.1:8081/apis/ccompat/v7")
	s.DBPort = 5433
	cfg := parseConfig(t, s)
	if cfg.Name != "quickstart-pg" || cfg.Source["type"] != "postgresql" || cfg.Source["port"] != 5433 ||
		cfg.Source["database"] != "shop" || cfg.Source["publication"] != pgPublication {
		t.Errorf("top level and source: %+v %+v", cfg.Name, cfg.Source)
	}
	if cfg.Kafka.TopicPrefix != "quickstart.pg" || cfg.Kafka.CheckpointTopic != "quickstart.pg.checkpoints" || cfg.Format != "avro" {
		t.Errorf("kafka = %+v, format %q", cfg.Kafka, cfg.Format)
	}
	if !slices.Equal(cfg.Tables.Include, []string{"shop.*"}) {
		t.Errorf("tables.include = %v", cfg.Tables.Include)
	}
}

func TestConfigYAMLWithoutRegistryIsJSON(t *testing.T) {
	if cfg := parseConfig(t, sluiceSettings{Type: sourceMySQL, Name: "x", TopicPrefix: "p"}); cfg.Format != "json" || cfg.SchemaRegistry.URLs != nil {
		t.Errorf("format %q, registry %v", cfg.Format, cfg.SchemaRegistry.URLs)
	}
}

func TestCheckpointTopicIsUnderThePrefix(t *testing.T) {
	// deleteTopics removes every topic under a source's prefix; the
	// checkpoint must be among them, else a new run would resume from the
	// old database. The sources' prefixes must not cover each other, so
	// that a run of one source leaves the other's topics alone.
	var all []string
	for _, kind := range []string{sourceMySQL, sourcePostgres} {
		src := &source{kind: kind}
		s := src.settings("", "")
		all = append(all, src.prefix())
		if !strings.HasPrefix(s.checkpointTopic(), src.prefix()+".") {
			t.Errorf("checkpoint topic %s is not under %s.", s.checkpointTopic(), src.prefix())
		}
		if regexp.MustCompile(tableTopics(src.prefix())).MatchString(s.checkpointTopic()) {
			t.Error("the consumer would print the checkpoint topic")
		}
	}
	if strings.HasPrefix(all[0]+".", all[1]+".") || strings.HasPrefix(all[1]+".", all[0]+".") {
		t.Errorf("prefixes %v overlap", all)
	}
	pattern := regexp.MustCompile(tableTopics(all...))
	for _, topic := range []string{"quickstart.mysql.shop.customers", "quickstart.pg.shop.orders"} {
		if !pattern.MatchString(topic) {
			t.Errorf("the consumer misses %s", topic)
		}
	}
	for _, topic := range []string{"quickstart.mysqlXshop.orders", "quickstart.pg.checkpoints", "quickstart.shop.orders"} {
		if pattern.MatchString(topic) {
			t.Errorf("the consumer would read %s", topic)
		}
	}
}

func TestSourceKinds(t *testing.T) {
	for flag, want := range map[string][]string{
		"": {"mysql", "postgresql"}, "both": {"mysql", "postgresql"}, "mysql": {"mysql"}, "MariaDB": {"mysql"},
		"postgresql": {"postgresql"}, "pg": {"postgresql"},
	} {
		got, err := sourceKinds(flag)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("sourceKinds(%q) = %v, %v; want %v", flag, got, err, want)
		}
	}
	if _, err := sourceKinds("oracle"); err == nil {
		t.Error("sourceKinds accepts oracle")
	}
}

func TestSluiceEnv(t *testing.T) {
	got := sluiceEnv([]string{"PATH=/bin", "SLUICE_KAFKA_BROKERS=elsewhere:9092", "SLUICE_SOURCE_PASSWORD=old", "HOME=/root"}, "secret")
	want := []string{"PATH=/bin", "HOME=/root", "SLUICE_SOURCE_PASSWORD=secret"}
	if !slices.Equal(got, want) {
		t.Errorf("sluiceEnv = %v, want %v", got, want)
	}
}

func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var lines []string
	for i := range 30 {
		lines = append(lines, strings.Repeat("x", i))
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(logTail(path, 3), "\n")
	want := []string{"    " + lines[27], "    " + lines[28], "    " + lines[29]}
	if !slices.Equal(got, want) {
		t.Errorf("logTail = %q, want %q", got, want)
	}
	if got := logTail(filepath.Join(t.TempDir(), "missing"), 3); !strings.Contains(got, "no such file") {
		t.Errorf("logTail of a missing file = %q", got)
	}
}

func TestRootFrom(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{root, deep} {
		got, err := rootFrom(dir)
		if err != nil || got != root {
			t.Errorf("rootFrom(%s) = %s, %v; want %s", dir, got, err, root)
		}
	}
}

// fakeSluice writes a shell script that stands in for sluice.
func fakeSluice(t *testing.T, script string) (dir, bin string) {
	t.Helper()
	dir = t.TempDir()
	bin = filepath.Join(dir, "sluice")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, bin
}

func TestSluiceProcessStopsOnSIGTERM(t *testing.T) {
	dir, bin := fakeSluice(t, `echo "args: $*"; echo "password: $SLUICE_SOURCE_PASSWORD"; trap 'echo stopping; exit 0' TERM; while :; do sleep 0.1; done`)
	logPath := filepath.Join(dir, "sluice.log")
	p, err := startSluice(dir, bin, "cfg.yaml", logPath, sluiceEnv([]string{"PATH=" + os.Getenv("PATH")}, "pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logTail(logPath, 5), "password"); {
		if time.Now().After(deadline) {
			t.Fatalf("fake sluice did not start; log:\n%s", logTail(logPath, 5))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !p.running() {
		t.Fatal("not running")
	}
	if err := p.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if p.running() {
		t.Error("still running after stop")
	}
	got := logTail(logPath, 5)
	for _, want := range []string{"args: run --config cfg.yaml\n", "password: pw\n", "stopping"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	if err := p.stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

func TestSluiceProcessExitOnItsOwn(t *testing.T) {
	dir, bin := fakeSluice(t, `echo "sluice: cannot connect"; exit 3`)
	logPath := filepath.Join(dir, "sluice.log")
	exited := make(chan *sluiceProcess, 1)
	p, err := startSluice(dir, bin, "cfg.yaml", logPath, nil, exited)
	if err != nil {
		t.Fatal(err)
	}
	if got := <-exited; got != p || p.running() {
		t.Fatalf("exited sent %p (running %v), want %p", got, p.running(), p)
	}
	// Not yet described: stop reports it.
	if err := p.stop(); err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "cannot connect") {
		t.Errorf("stop = %v", err)
	}
	// Described once: stop stays quiet.
	if err := p.exitError(); !strings.Contains(err.Error(), "cannot connect") {
		t.Errorf("exitError = %v", err)
	}
	if err := p.stop(); err != nil {
		t.Errorf("stop after exitError = %v", err)
	}
}
