package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestUnknownEnvironmentVariablesWarn(t *testing.T) {
	env := append(slicesClone(minimalEnv),
		"SLUICE_SOURCE_HOTS=db2",           // a typo
		"SLUICE_HOST=db3",                  // the last part of a setting's variable
		"SLUICE_PORT=3307",                 // not Kubernetes': its SLUICE_PORT is a URL
		"SLUICE_source_host=db4",           // the wrong case
		"SLUICE_SOURCE_PASSWORT=hunter2-x", // the value is never shown
		"SLUICE_ZZZZZZ=1",                  // nothing near
		"SLUICE_EMPTY=",                    // empty counts as unset
		"SLUICE_CONFIG=",                   // the config file's variable
		"OTHER_HOTS=1",                     // not SLUICE_*
	)
	c, err := Load("", nil, env)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"SLUICE_HOST names no setting (did you mean SLUICE_SOURCE_HOST?); it is ignored",
		"SLUICE_PORT names no setting (did you mean SLUICE_SOURCE_PORT?); it is ignored",
		"SLUICE_SOURCE_HOTS names no setting (did you mean SLUICE_SOURCE_HOST?); it is ignored",
		"SLUICE_SOURCE_PASSWORT names no setting (did you mean SLUICE_SOURCE_PASSWORD?); it is ignored",
		"SLUICE_ZZZZZZ names no setting; it is ignored",
		"SLUICE_source_host names no setting (did you mean SLUICE_SOURCE_HOST?); it is ignored",
	}
	if got := c.Warnings(); !reflect.DeepEqual(got, want) {
		t.Errorf("warnings\n got: %q\nwant: %q", got, want)
	}
	if c.Source.Host != "127.0.0.1" || c.Source.Port != 3306 || !c.Source.Password.IsZero() {
		t.Errorf("an unknown variable was applied: host %q port %d", c.Source.Host, c.Source.Port)
	}

	// The warnings are no setting: no printer shows them as one.
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{c.Redacted(), string(j)} {
		if strings.Contains(out, "warnings") || strings.Contains(out, "names no setting") {
			t.Errorf("warnings printed with the settings:\n%s", out)
		}
	}
	if strings.Contains(fmt.Sprint(c.Warnings()), "hunter2") {
		t.Error("a warning shows a value")
	}
}

// TestKubernetesServiceVariablesDrawNoWarning: a Service named sluice makes
// Kubernetes inject these into every pod of its namespace.
func TestKubernetesServiceVariablesDrawNoWarning(t *testing.T) {
	env := append(slicesClone(minimalEnv),
		"SLUICE_SERVICE_HOST=10.0.0.11",
		"SLUICE_SERVICE_PORT=8080",
		"SLUICE_SERVICE_PORT_METRICS=8080",
		"SLUICE_SERVICE_PORT_PPROF_HTTP=6060",
		"SLUICE_PORT=tcp://10.0.0.11:8080",
		"SLUICE_PORT_8080_TCP=tcp://10.0.0.11:8080",
		"SLUICE_PORT_8080_TCP_PROTO=tcp",
		"SLUICE_PORT_8080_TCP_PORT=8080",
		"SLUICE_PORT_8080_TCP_ADDR=10.0.0.11",
		"SLUICE_PORT_53_UDP=udp://10.0.0.11:53",
		"SLUICE_PORT_53_UDP_PROTO=udp",
		"SLUICE_PORT_53_UDP_PORT=53",
		"SLUICE_PORT_53_UDP_ADDR=10.0.0.11",
		"SLUICE_PORT_9_SCTP=sctp://10.0.0.11:9",
		"SLUICE_PORT_9_SCTP_PROTO=sctp",
		"SLUICE_PORT_9_SCTP_PORT=9",
		"SLUICE_PORT_9_SCTP_ADDR=10.0.0.11",
		"SLUICE_CACHE=/var/cache/sluice", // read by the test and quickstart harness
	)
	c, err := Load("", nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); w != nil {
		t.Errorf("warnings %q, want none", w)
	}
	for _, name := range []string{"SLUICE_PORT_8080_HTTP", "SLUICE_PORT_X_TCP", "SLUICE_SERVICE_HOSTS", "SLUICE_PORT_8080_TCP_HOST"} {
		c, err := Load("", nil, append(slicesClone(minimalEnv), name+"=1"))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Warnings()) != 1 || !strings.HasPrefix(c.Warnings()[0], name+" names no setting") {
			t.Errorf("%s: warnings %q, want one about it", name, c.Warnings())
		}
	}
}

// TestFailedLoadCarriesWarnings: a misspelt variable is often why a setting
// is missing, so the warning comes with the error.
func TestFailedLoadCarriesWarnings(t *testing.T) {
	env := []string{"SLUICE_SOURCE_TYPE=mysql", "SLUICE_SOURCE_USR=sluice", "SLUICE_TABLES_INCLUDE=shop.*",
		"SLUICE_KAFKA_BROKERS=127.0.0.1:9092", "SLUICE_FORMAT=json"}
	_, err := Load("", nil, env)
	want := "source.user: required; set the database user sluice connects as\n" +
		"SLUICE_SOURCE_USR names no setting (did you mean SLUICE_SOURCE_USER?); it is ignored"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}

	_, err = Load("", []string{"--nope"}, env)
	want = "unknown flag --nope; see --help for the list\n" +
		"SLUICE_SOURCE_USR names no setting (did you mean SLUICE_SOURCE_USER?); it is ignored"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}

	if _, err := Load("", []string{"--help"}, env); err != flag.ErrHelp {
		t.Errorf("--help: error %v, want flag.ErrHelp itself", err)
	}
	if _, err := Load("nope.yaml", nil, env); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: error %v does not wrap the cause", err)
	}
}
