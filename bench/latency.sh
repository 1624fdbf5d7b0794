#!/usr/bin/env bash
# Time from `gptsweep submit` returning to the worker starting to train the first run, with
# a coordinator and one idle CPU worker already running (real processes, loopback).
#   bash bench/latency.sh [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin gptsweep >&2
BIN=$PWD/target/release/gptsweep
N=${1:-5}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
$BIN coordinator --listen 127.0.0.1:0 --dashboard off --state-dir "$TMP/state" > "$TMP/coord.out" 2>"$TMP/coord.log" &
sleep 0.5
URL=http://$(head -1 "$TMP/coord.out" | awk '{print $5}')
GPTSWEEP_LOG=info $BIN worker --coordinator "$URL" --devices cpu --cache-dir "$TMP/cache" 2>"$TMP/worker.log" &
until $BIN workers --coordinator "$URL" --output json | grep -q '"id"'; do sleep 0.1; done
sleep 1
for i in $(seq 1 "$N"); do
  printf 'name: lat%s\nmethod: grid\ntrain: {n_embd: 16, n_head: 2, n_layer: 1, block_size: 8, batch_size: 4, max_iters: 2, eval_interval: 1, eval_iters: 1}\nsamples: {count: 0}\n' "$i" > "$TMP/lat$i.yaml"
  before=$(date +%s.%N)
  $BIN submit --yes "$TMP/lat$i.yaml" --coordinator "$URL" > /dev/null
  after=$(date +%s.%N)
  until grep -q "sweep=lat$i " "$TMP/worker.log"; do sleep 0.01; done
  started=$(grep "sweep=lat$i " "$TMP/worker.log" | head -1 | cut -d' ' -f1)
  python3 - "$before" "$after" "$started" <<'PY'
import sys, datetime
b, a, s = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
t = datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
print(f"submit call {1e3*(a-b):6.1f} ms; submit call start -> training {1e3*(t-b):6.1f} ms")
PY
  $BIN status "lat$i" --watch --coordinator "$URL" > /dev/null
done
