# syntax=docker/dockerfile:1
# livechat-mcp as a container: a static musl binary on distroless, run as a non-root user.
#
#   docker build -t livechat-mcp .
#   docker run --rm -p 8000:8000 -v "$PWD/policy.toml:/config/policy.toml:ro" \
#     -v livechat-mcp-data:/data -e LIVECHAT_PAT -e LIVECHAT_ACCOUNT_ID \
#     livechat-mcp serve --http 0.0.0.0:8000 --allowed-host mcp.example.com \
#     --policy /config/policy.toml
#
# Building needs the network only for the two base images, Alpine's packages and crates.io.

# The Rust version is Cargo.toml's `rust-version` (tests/install.rs checks they agree).
FROM docker.io/library/rust:1.88.0-alpine3.22 AS build
# A C compiler and musl's headers for the bundled SQLite and ring; on Alpine the Rust target
# is musl and links statically.
RUN apk add --no-cache gcc musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin livechat-mcp \
 && mkdir -p /out/data \
 && cp target/release/livechat-mcp /out/livechat-mcp \
 && /out/livechat-mcp --version

# Distroless "static": CA certificates, /etc/passwd with `nonroot` (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
# The MCP registry checks that an OCI package carries its server name (see server.json).
LABEL io.modelcontextprotocol.server.name="io.github.livechat-mcp/livechat-mcp"
COPY --from=build /out/livechat-mcp /livechat-mcp
# The audit trail, its key and anchor, and the events log live here ($XDG_DATA_HOME).
COPY --from=build --chown=65532:65532 /out/data /data
ENV LIVECHAT_MCP_IN_CONTAINER=1 \
    XDG_DATA_HOME=/data
USER 65532:65532
VOLUME ["/data"]
EXPOSE 8000
# `serve --http` answers /healthz on loopback; the image has no curl, the binary asks itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/livechat-mcp", "healthcheck"]
ENTRYPOINT ["/livechat-mcp"]
# `--http` alone listens on 0.0.0.0:8000 here (LIVECHAT_MCP_IN_CONTAINER), and still needs
# --allowed-host and --policy. `serve` alone speaks MCP over stdio (docker run -i).
CMD ["serve", "--http"]
