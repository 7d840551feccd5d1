package local

import (
	"reflect"
	"strings"
	"testing"
)

func TestAptCommands(t *testing.T) {
	got := aptCommands([]string{"maven", "default-jre-headless"}, false)
	want := [][]string{
		{"apt-get", "update"},
		{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends", "maven", "default-jre-headless"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("as root:\n got %q\nwant %q", got, want)
	}
	for _, c := range aptCommands([]string{"mariadb-server"}, true) {
		if c[0] != "sudo" || c[1] != "-n" {
			t.Errorf("with sudo: %q does not start with sudo -n", c)
		}
	}
}

func TestAptHintNamesPackages(t *testing.T) {
	h := aptHint([]string{"mariadb-server", "mariadb-client"})
	for _, s := range []string{"apt-get update", "apt-get install", "mariadb-server mariadb-client"} {
		if !strings.Contains(h, s) {
			t.Errorf("hint %q lacks %q", h, s)
		}
	}
}
