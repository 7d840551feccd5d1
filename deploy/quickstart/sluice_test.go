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

func TestConfigYAML(t *testing.T) {
	s := sluiceSettings{Name: "quickstart", DBPort: 41234, User: "sluice", Brokers: "127.0.0.1:9092", TopicPrefix: "quickstart"}
	var cfg struct {
		Name   string
		Source map[string]any
		Tables struct{ Include []string }
		Kafka  struct {
			Brokers         []string
			TopicPrefix     string `yaml:"topic_prefix"`
			CheckpointTopic string `yaml:"checkpoint_topic"`
		}
		Log map[string]string
	}
	text := s.configYAML()
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("config does not parse: %v\n%s", err, text)
	}
	if cfg.Name != "quickstart" || cfg.Source["port"] != 41234 || cfg.Source["user"] != "sluice" || cfg.Source["type"] != "mysql" {
		t.Errorf("top level and source: %+v %+v", cfg.Name, cfg.Source)
	}
	if _, ok := cfg.Source["password"]; ok {
		t.Error("the config holds a password")
	}
	if !slices.Equal(cfg.Tables.Include, []string{"shop.*"}) {
		t.Errorf("tables.include = %v", cfg.Tables.Include)
	}
	if !slices.Equal(cfg.Kafka.Brokers, []string{"127.0.0.1:9092"}) || cfg.Kafka.TopicPrefix != "quickstart" ||
		cfg.Kafka.CheckpointTopic != "quickstart.checkpoints" {
		t.Errorf("kafka = %+v", cfg.Kafka)
	}
}

func TestCheckpointTopicIsUnderThePrefix(t *testing.T) {
	// deleteTopics removes every topic under the prefix; the checkpoint must
	// be among them, else a new run would resume from the old database.
	s := sluiceSettings{TopicPrefix: topicPrefix}
	if !strings.HasPrefix(s.checkpointTopic(), topicPrefix+".") {
		t.Errorf("checkpoint topic %s is not under %s.", s.checkpointTopic(), topicPrefix)
	}
	if regexp.MustCompile(tableTopics(topicPrefix)).MatchString(s.checkpointTopic()) {
		t.Error("the consumer would print the checkpoint topic")
	}
	for _, topic := range []string{"quickstart.shop.customers", "quickstart.shop.orders"} {
		if !regexp.MustCompile(tableTopics(topicPrefix)).MatchString(topic) {
			t.Errorf("the consumer misses %s", topic)
		}
	}
	if regexp.MustCompile(tableTopics(topicPrefix)).MatchString("quickstartXshop.orders") {
		t.Error("the pattern's dots are not literal")
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
	p, err := startSluice(dir, bin, "cfg.yaml", logPath, sluiceEnv([]string{"PATH=" + os.Getenv("PATH")}, "pw"))
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
	p, err := startSluice(dir, bin, "cfg.yaml", logPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-p.done
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
