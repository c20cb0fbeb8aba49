# hcp in a container: `hcp serve` as a non-root user, the data folder a volume, the
# configuration and rules mounted at /etc/hcp (the image carries the repository's rules and
# a configuration that points at them, for a first start). See docs/operations.md.
#
#   docker build -t hcp .
#   docker run -d --name hcp -p 8080:8080 -p 127.0.0.1:9090:9090 \
#     -v hcp-data:/data -v /srv/hcp/etc:/etc/hcp hcp

# The console (Vite needs Node 20).
FROM node:20-bookworm AS console
WORKDIR /src/console
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY console/ ./
RUN npm run build

# The adapters and the binary, with the console built into it.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
COPY --from=console /src/console/dist console/dist
RUN make adapters \
 && cargo build --release -p hcp-server --bin hcp

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin hcp \
 && mkdir -p /data /etc/hcp /usr/share/hcp/adapters \
 && chown hcp:hcp /data
COPY --from=build /src/target/release/hcp /usr/local/bin/hcp
COPY --from=build /src/target/adapters/ /usr/share/hcp/adapters/
# Writable by hcp: rules saved from the console, or followed from the log of a shared
# partition, are written into the rules folder.
COPY --chown=hcp:hcp rules/ /etc/hcp/rules/
COPY hcp.example.toml /usr/share/hcp/hcp.example.toml
COPY deploy/container.toml /etc/hcp/hcp.toml
USER hcp
ENV HCP_LOG=info HCP_LOG_FORMAT=json
EXPOSE 8080 9090
VOLUME ["/data"]
# Ready: the store's committer runs and the store answers (the operations address).
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:9090/readyz || exit 1
ENTRYPOINT ["hcp"]
CMD ["serve", "--config", "/etc/hcp/hcp.toml", "--data", "/data"]
