# sluice's container image: the static binary `make dist` built, on distroless
# (no shell, no package manager), run as the unprivileged user 65532. Nothing
# is compiled here, so build the binaries first:
#
#   make dist        # dist/sluice-linux-amd64, dist/sluice-linux-arm64, SHA256SUMS
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     -t registry.example.com/sluice:v1.2.3 --push .
#   docker build -t sluice:local .         # the local platform only (BuildKit)
#
# BuildKit sets TARGETARCH for each platform. Mount the configuration at
# /etc/sluice/sluice.yaml, or pass other arguments: the image's entry point is
# the binary itself. The admin HTTP server (/metrics, /healthz, /readyz,
# /status) listens on 127.0.0.1:9180 unless told otherwise, which nothing
# outside the container reaches: set SLUICE_ADMIN_LISTEN=0.0.0.0:9180, or
# admin: {listen: "0.0.0.0:9180"} in the configuration, and publish 9180 only
# to a private network (POST /pause changes state). The image leaves the
# setting to you: an environment variable here would override the file.
FROM gcr.io/distroless/static-debian12:nonroot
ARG TARGETARCH
COPY dist/sluice-linux-${TARGETARCH} /sluice
USER 65532:65532
EXPOSE 9180
ENTRYPOINT ["/sluice"]
CMD ["run", "--config", "/etc/sluice/sluice.yaml"]
