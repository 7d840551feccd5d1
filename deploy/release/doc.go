// Package release is the release build: `make dist` (dist.sh beside this
// file), which writes the static linux/amd64 and linux/arm64 binaries and
// their SHA256SUMS, and the Dockerfile at the repository root, which copies
// them onto a distroless image and compiles nothing.
//
// It holds no Go code of its own, only tests: they run `make dist` into a
// temporary directory and check the binaries (ELF machine, statically linked,
// version and VCS stamp, checksums), that the Dockerfile copies exactly what
// `make dist` writes and runs it as a non-root user, and that the
// docker-compose and Kubernetes examples use that image, reach the admin
// server on port 9180 and probe /healthz and /readyz.
package release
