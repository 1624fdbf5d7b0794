#!/usr/bin/env bash
# 1,000 workers on one coordinator: builds the release binary and the fleet_load example,
# then runs it TIMES times. Each run starts `gptsweep coordinator` as a child (free port,
# fresh state directory), connects WORKERS simulated workers at once (each its own HTTP/2
# connection), and has them lease, report and finish RUNS runs of EVALS evaluations each;
# it prints leases/s, reports/s, p50/p99 latencies and the coordinator's RSS, and exits 1
# unless every worker registered and every evaluation was stored exactly once.
#   bash bench/fleet.sh
#   WORKERS=1000 RUNS=10000 EVALS=10 TIMES=3 bash bench/fleet.sh
#   RESTART=1 bash bench/fleet.sh          # restart the coordinator (SIGTERM) mid-run
#   COORDINATOR_FDS=1024 bash bench/fleet.sh   # start it with a soft open-file limit of 1024
#   DATABASE=postgres://... bash bench/fleet.sh  # a PostgreSQL store (--database)
#   DATABASE=throwaway bash bench/fleet.sh       # a fresh PostgreSQL server (bench/postgres.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --bin gptsweep --example fleet_load >&2
# The bench holds a connection per simulated worker: its own limit goes up too (the
# example also raises it to the hard limit itself).
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
ARGS=(--workers "${WORKERS:-1000}" --runs "${RUNS:-10000}" --evals "${EVALS:-10}"
      --bin "$TARGET/release/gptsweep")
if [ "${DATABASE:-}" = throwaway ]; then
  . bench/postgres.sh
  pg_start
  trap pg_stop EXIT
  DATABASE=$PG_URL
fi
if [ -n "${DATABASE:-}" ]; then ARGS+=(--database "$DATABASE"); fi
if [ -n "${RESTART:-}" ]; then ARGS+=(--restart); fi
if [ -n "${COORDINATOR_FDS:-}" ]; then ARGS+=(--coordinator-fds "$COORDINATOR_FDS"); fi
if [ -n "${LEASE_WAIT_MS:-}" ]; then ARGS+=(--lease-wait-ms "$LEASE_WAIT_MS"); fi
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), somaxconn $(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo ?)"
for i in $(seq 1 "${TIMES:-3}"); do
  echo "== run $i"
  "$TARGET/release/examples/fleet_load" "${ARGS[@]}"
done
