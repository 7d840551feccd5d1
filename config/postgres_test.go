package config

import (
	"strings"
	"testing"
	"time"
)

func TestPostgresConfigDefaults(t *testing.T) {
	c, err := Load("", []string{"--source.type=postgresql", "--source.user=sluice", "--source.database=shop",
		"--name=Orders-DB.eu", "--tables.include=public.*", "--kafka.brokers=127.0.0.1:9092", "--format=json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Source
	if s.Port != 5432 || s.Slot != "sluice_orders_db_eu" || s.Publication != "sluice_orders_db_eu" ||
		s.SSLMode != "prefer" || s.StatusInterval != 10*time.Second {
		t.Errorf("postgresql defaults: port %d slot %q publication %q sslmode %q status_interval %v",
			s.Port, s.Slot, s.Publication, s.SSLMode, s.StatusInterval)
	}
	m, err := Load("", []string{"--source.type=mysql", "--source.user=sluice",
		"--tables.include=shop.*", "--kafka.brokers=127.0.0.1:9092", "--format=json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Source.Port != 3306 || m.Source.Slot != "" {
		t.Errorf("mysql defaults: port %d slot %q", m.Source.Port, m.Source.Slot)
	}
}

func TestPostgresConfigProblems(t *testing.T) {
	base := []string{"--source.type=postgresql", "--source.user=sluice", "--tables.include=public.*",
		"--kafka.brokers=127.0.0.1:9092", "--format=json"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "source.database: required for postgresql"},
		{[]string{"--source.database=shop", "--source.slot=Bad-Slot"}, `source.slot: "Bad-Slot" is not a valid slot name`},
		{[]string{"--source.database=shop", "--source.flavor=mariadb"}, "source.flavor: applies to mysql only"},
		{[]string{"--source.database=shop", "--source.sslmode=maybe"}, `source.sslmode: "maybe" is not one of`},
		{[]string{"--source.database=shop", "--source.publication=" + strings.Repeat("p", 64)}, "is not a valid publication name"},
	} {
		_, err := Load("", append(append([]string{}, base...), c.args...), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	_, err := Load("", []string{"--source.type=mysql", "--source.user=sluice", "--source.database=shop",
		"--tables.include=shop.*", "--kafka.brokers=127.0.0.1:9092", "--format=json"}, nil)
	if err == nil || !strings.Contains(err.Error(), "apply to postgresql only") {
		t.Errorf("mysql with source.database: error %v", err)
	}
}
