#!/bin/sh
# dist.sh builds sluice's release binaries, the ones the Dockerfile at the
# repository root copies: for each platform below a static executable
# (CGO_ENABLED=0: no libc, runs on distroless/static or scratch), with paths
# trimmed, symbol tables stripped, the version set with -X and the commit
# stamped by Go's VCS stamping (-buildvcs=true; `sluice version` shows both),
# then SHA256SUMS over them, in sha256sum's format with names relative to the
# directory. `make dist` runs it from the repository root.
#
# The environment:
#   DIST     output directory, relative to the repository root (default dist);
#            created if missing; only the files named here are written
#   VERSION  the version (default: git describe --tags --always --dirty, else dev)
#   GO       the go command (default go)
set -eu

cd "$(dirname "$0")/../.."

GO=${GO:-go}
DIST=${DIST:-dist}
if [ -z "${VERSION:-}" ]; then
	VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
fi
PLATFORMS="linux/amd64 linux/arm64"

mkdir -p "$DIST"
# A failed build must not leave checksums of other binaries behind.
rm -f "$DIST/SHA256SUMS"

names=""
for p in $PLATFORMS; do
	os=${p%/*}
	arch=${p#*/}
	name="sluice-$os-$arch"
	echo "dist: $DIST/$name ($VERSION)"
	# GOAMD64/GOARM64 pinned to the baseline, whatever the caller set.
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOAMD64=v1 GOARM64=v8.0 "$GO" build -trimpath -buildvcs=true \
		-ldflags "-s -w -X github.com/sluice-cdc/sluice/buildinfo.version=$VERSION" \
		-o "$DIST/$name" ./cmd/sluice
	names="$names $name"
done

if command -v sha256sum >/dev/null 2>&1; then
	sum="sha256sum"
else
	sum="shasum -a 256" # macOS
fi
# shellcheck disable=SC2086 # $names and $sum are word lists
(cd "$DIST" && $sum $names >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
echo "dist: $DIST/SHA256SUMS"
