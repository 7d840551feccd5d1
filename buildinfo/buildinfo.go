package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// version is set at link time with
// -ldflags "-X github.com/sluice-cdc/sluice/buildinfo.version=…".
var version = ""

// Info describes the running build.
type Info struct {
	// Version is the link-time version, else the main module's version,
	// else "(devel)".
	Version string
	// Commit is the VCS revision the binary was built from; empty when
	// the build carries no VCS stamp (go run, tests, -buildvcs=false).
	Commit string
	// CommitTime is the commit's time; zero when unknown.
	CommitTime time.Time
	// Modified reports that the working tree had uncommitted changes.
	Modified bool
	// GoVersion is the Go release that built the binary.
	GoVersion string
}

var read = sync.OnceValue(func() Info {
	bi, ok := debug.ReadBuildInfo()
	return fromBuildInfo(bi, ok, version)
})

// fromBuildInfo extracts Info; linked is the -X version, which wins.
func fromBuildInfo(bi *debug.BuildInfo, ok bool, linked string) Info {
	info := Info{Version: linked, GoVersion: runtime.Version()}
	if !ok || bi == nil {
		if info.Version == "" {
			info.Version = "(devel)"
		}
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	if info.Version == "" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.time":
			info.CommitTime, _ = time.Parse(time.RFC3339, s.Value)
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// Read returns the running build's Info. It is cheap after the first call.
func Read() Info { return read() }

// Version returns the running build's version, as Read().Version.
func Version() string { return read().Version }

// String renders the build on one line, as `sluice version` prints it:
// "v1.2.3 commit 2027b75a1c3e (modified) 2026-12-03T11:40:41Z go1.26.0".
func (i Info) String() string {
	var b strings.Builder
	b.WriteString(i.Version)
	if i.Commit != "" {
		fmt.Fprintf(&b, " commit %s", i.Commit)
		if i.Modified {
			b.WriteString(" (modified)")
		}
	}
	if !i.CommitTime.IsZero() {
		fmt.Fprintf(&b, " committed %s", i.CommitTime.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, " %s", i.GoVersion)
	return b.String()
}
