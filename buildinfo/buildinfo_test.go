package buildinfo

import (
	"runtime/debug"
	"testing"
	"time"
)

func TestFromBuildInfo(t *testing.T) {
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/sluice-cdc/sluice", Version: "v0.0.0-20261203114041-2027b75a1c3e+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "2027b75a1c3e0000000000000000000000000000"},
			{Key: "vcs.time", Value: "2026-12-03T11:40:41Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	got := fromBuildInfo(stamped, true, "")
	want := Info{Version: "v0.0.0-20261203114041-2027b75a1c3e+dirty", Commit: "2027b75a1c3e0000000000000000000000000000",
		CommitTime: time.Date(2026, 12, 3, 11, 40, 41, 0, time.UTC), Modified: true, GoVersion: "go1.26.0"}
	if got != want {
		t.Errorf("stamped build:\n got %+v\nwant %+v", got, want)
	}
	if s := got.String(); s != "v0.0.0-20261203114041-2027b75a1c3e+dirty commit 2027b75a1c3e0000000000000000000000000000 (modified) committed 2026-12-03T11:40:41Z go1.26.0" {
		t.Errorf("String() = %q", s)
	}

	if got := fromBuildInfo(stamped, true, "v1.2.3"); got.Version != "v1.2.3" || got.Commit == "" {
		t.Errorf("link-time version must win and keep the commit: %+v", got)
	}
	if got := fromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.0"}, true, ""); got.Version != "(devel)" || got.String() != "(devel) go1.26.0" {
		t.Errorf("unstamped build: %+v %q", got, got.String())
	}
	if got := fromBuildInfo(nil, false, ""); got.Version != "(devel)" || got.GoVersion == "" {
		t.Errorf("no build info: %+v", got)
	}
}
