# syntax=docker/dockerfile:1
#
# Rathaus container image.
#
#   docker build -t rathaus .
#   docker run --rm -p 127.0.0.1:8080:8080 rathaus            # SQLite in /var/lib/rathaus, demo catalogue
#   docker run --rm rathaus ask "Was kostet ein Reisepass?"    # any subcommand works: ENTRYPOINT is the binary
#
# The production-like setup (PostgreSQL, mail server) is docker-compose.yml.
# Needs BuildKit (the default builder since Docker 23) for the cache mounts below.

# ---------------------------------------------------------------------------------------------
# Build stage: the release binary, and the data folders the runtime image ships.
# ---------------------------------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src

# The whole source tree (.dockerignore keeps target/, .git/ and local databases out).
COPY . .

# Cache mounts keep the crate registry and compiled dependencies between builds; they are not
# part of any image layer, so the binary is copied out of target/ in the same RUN.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
 && install -D -m 0755 target/release/rathaus /out/bin/rathaus

# knowledge/ (demo catalogue), channels/ (channel configuration) and flows/ (guided flows).
# A folder that does not exist in the source tree is created empty, so the image builds
# whichever of them the checkout has (a plain COPY would fail on a missing one).
RUN set -eu; mkdir -p /out/srv; \
    for d in knowledge channels flows; do \
      if [ -d "$d" ]; then cp -R "$d" /out/srv/; else mkdir -p "/out/srv/$d"; fi; \
    done

# ---------------------------------------------------------------------------------------------
# Runtime stage: Debian slim, CA certificates (for an operator-configured HTTPS endpoint, IMAPS,
# SMTPS, Telegram), the German thesaurus the search reads (mythes-de, OpenThesaurus), a
# non-root user, the binary and the data folders. No compiler, no curl.
# ---------------------------------------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates mythes-de \
 && rm -rf /var/lib/apt/lists/*

# Fixed ids so that bind-mounted volumes can be chowned on the host (chown 10001:10001 …).
RUN groupadd --system --gid 10001 rathaus \
 && useradd --system --uid 10001 --gid rathaus --home-dir /srv/rathaus \
            --no-create-home --shell /usr/sbin/nologin rathaus \
 && install -d -o rathaus -g rathaus -m 0750 /var/lib/rathaus

COPY --from=build /out/bin/rathaus /usr/local/bin/rathaus
# Owned by root and read-only for the service: the knowledge editor writes to the database,
# never to these files.
COPY --from=build /out/srv/ /srv/rathaus/

WORKDIR /srv/rathaus
USER rathaus:rathaus

# Listen on all interfaces inside the container; publish the port on the host as you need.
ENV RATHAUS_LISTEN=0.0.0.0:8080 \
    RATHAUS_KNOWLEDGE=/srv/rathaus/knowledge \
    RATHAUS_DATABASE_URL=sqlite:///var/lib/rathaus/rathaus.db
# The SQLite default above suits a single container; mount a volume on /var/lib/rathaus to keep
# it. docker-compose.yml overrides RATHAUS_DATABASE_URL with PostgreSQL.
VOLUME ["/var/lib/rathaus"]
EXPOSE 8080

# Health check without curl or wget: bash (part of every Debian image) opens a TCP connection
# with /dev/tcp, sends a minimal HTTP/1.0 request for /healthz and checks for status 200.
# The port is taken from RATHAUS_LISTEN (the text after the last colon); the server must also
# listen on 127.0.0.1 (0.0.0.0 and [::] do).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD bash -c 'port="${RATHAUS_LISTEN##*:}"; exec 3<>"/dev/tcp/127.0.0.1/${port:-8080}" \
      && printf "GET /healthz HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n" >&3 \
      && read -r -t 4 _ code _ <&3 && [ "$code" = 200 ]'

# Rathaus is PID 1 here: run with `docker run --init` (compose: `init: true`) unless the binary
# handles SIGTERM itself, so that `docker stop` ends it at once instead of after 10 s.
ENTRYPOINT ["rathaus"]
CMD ["serve"]
