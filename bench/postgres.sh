#!/usr/bin/env bash
# A throwaway PostgreSQL server for benchmarks, as the tests make one
# (tests/common/postgres.rs): initdb in a fresh directory, a free loopback port, one
# database `gptsweep`. Durable settings stay as PostgreSQL ships them (fsync on), unlike the
# tests', so figures are what a real server gives. Source it:
#   . bench/postgres.sh && pg_start     # sets PG_URL; pg_stop (or the EXIT trap) removes it
# As root the server runs as the `postgres` user (PostgreSQL refuses root).

pg_bin() {
  if [ -n "${GPTSWEEP_PG_BIN:-}" ]; then echo "$GPTSWEEP_PG_BIN"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$d" ]; then
    echo "PostgreSQL is not installed: apt-get install -y postgresql" >&2
    return 1
  fi
  echo "$d"
}

pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local bin port
  bin=$(pg_bin) || return 1
  PG_DIR=$(mktemp -d /tmp/gptsweep-bench-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  pg_as "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
  pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  pg_as "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -q -c "CREATE DATABASE gptsweep"
  PG_URL="postgres://postgres@127.0.0.1:$port/gptsweep"
  PG_CTL="$bin/pg_ctl"
  export PG_URL
}

pg_stop() {
  if [ -n "${PG_DIR:-}" ]; then
    pg_as "$PG_CTL" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    PG_DIR=
  fi
}
