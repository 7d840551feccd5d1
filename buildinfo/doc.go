// Package buildinfo says which build of sluice is running: the version
// (set at link time, else the module version the go command stamped), the
// VCS commit and its time, whether the tree had local changes, and the Go
// version. It reads [runtime/debug.ReadBuildInfo] once.
//
// Where it sits: below everything that reports the build — the engine's
// start-up log, the records' source.version field, the schema registry's
// user agent, and `sluice version`. It imports nothing of sluice's.
//
// Release builds set the version with
//
//	go build -ldflags "-X github.com/sluice-cdc/sluice/buildinfo.version=v1.2.3" ./cmd/sluice
//
// A build from a git checkout without that flag reports the pseudo-version
// the go command derives from the commit (v0.0.0-20261203114041-2027b75a1c3e,
// +dirty with local changes), never "(devel)". Only `go run` and test
// binaries, which carry no VCS stamp, report "(devel)".
package buildinfo
