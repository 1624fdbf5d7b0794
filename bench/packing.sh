#!/usr/bin/env bash
# What packing buys: the same sweep of small runs trained by one worker with 1, 2, 4 ...
# runs per device (`--runs-per-device N`, and `auto`), each on a fresh coordinator. Prints
# wall time, aggregate training tokens/s and runs/hour for each N. Not part of the tests.
#   bash bench/packing.sh                       # CPU, N in 1 2 4
#   DEVICES=cuda:0 NS="1 2 4 8 16 auto" RUNS=32 DEVICE_MEMORY=70GiB bash bench/packing.sh   # a GPU (build --features cuda)
#   BIN=target/debug/gptsweep bash bench/packing.sh                       # an existing binary
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-cpu}
NS=${NS:-1 2 4}
RUNS=${RUNS:-8}
ITERS=${ITERS:-300}
if [ -z "${BIN:-}" ]; then
  cargo build --release --bin gptsweep >&2
  BIN=$PWD/target/release/gptsweep
fi
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT

# RUNS runs of one small model (the seeds differ): block 64, batch 16, 2 layers of 64.
seeds=$(seq -s, 1 "$RUNS")
cat > "$WORK/pack.yaml" <<YAML
name: pack
method: grid
parameters:
  seed: {values: [$seeds]}
train: {n_embd: 64, n_head: 4, n_layer: 2, block_size: 64, batch_size: 16, dropout: 0.0, max_iters: $ITERS, eval_interval: 100, eval_iters: 5}
samples: {count: 0}
YAML
tokens=$((RUNS * ITERS * 16 * 64))

echo "device $DEVICES, $RUNS runs x $ITERS steps x 16x64 tokens ($tokens tokens), $(nproc) cores, $BIN"
for n in $NS; do
  state="$WORK/state-$n"
  "$BIN" coordinator --listen 127.0.0.1:0 --dashboard off --state-dir "$state" > "$WORK/coord-$n.out" 2> "$WORK/coord-$n.log" &
  coord=$!
  until grep -q "listening on" "$WORK/coord-$n.out" 2>/dev/null; do sleep 0.1; done
  url="http://$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$WORK/coord-$n.out")"
  "$BIN" worker --coordinator "$url" --token-file "$state/access.json" --devices "$DEVICES" \
    --runs-per-device "$n" --poll 1 --cache-dir "$WORK/cache" \
    ${DEVICE_MEMORY:+--device-memory "$DEVICE_MEMORY"} 2> "$WORK/worker-$n.log" &
  worker=$!
  start=$(date +%s.%N)
  "$BIN" submit "$WORK/pack.yaml" --coordinator "$url" --token-file "$state/access.json" > /dev/null
  "$BIN" status pack --watch --coordinator "$url" --token-file "$state/access.json" --output json > "$WORK/status-$n.json"
  end=$(date +%s.%N)
  kill -TERM "$worker" "$coord"; wait "$worker" "$coord" 2>/dev/null || true
  python3 - "$n" "$start" "$end" "$tokens" "$RUNS" "$WORK/status-$n.json" <<'PY'
import json, sys
n, start, end, tokens, runs, status = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
finished = json.load(open(status))["runs"]["finished"]
wall = end - start
print(f"runs per device {n:>4}: wall {wall:6.1f} s   {tokens / wall:9.0f} tok/s aggregate   "
      f"{runs / wall * 3600:7.0f} runs/hour   finished {finished}/{runs}")
PY
done
