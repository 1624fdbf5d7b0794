#!/usr/bin/env bash
# What packing buys: the same sweep of small runs trained by WORKERS worker processes (1 by
# default) with 1, 2, 4 ... runs per device each (`--runs-per-device N`, and `auto`), each
# N on a fresh coordinator. Prints wall time, aggregate training tokens/s and runs/hour for
# each N (and on an NVIDIA GPU its mean utilisation and peak memory). Not part of the tests.
#   bash bench/packing.sh                       # CPU, N in 1 2 4
#   DEVICES=cuda:0 NS="1 2 4 8 16 auto" RUNS=32 DEVICE_MEMORY=70GiB bash bench/packing.sh   # a GPU (build --features cuda)
#   DEVICES=cuda:0 WORKERS=4 NS=1 RUNS=32 bash bench/packing.sh           # 4 worker processes on one GPU
#   BIN=target/debug/gptsweep bash bench/packing.sh                       # an existing binary
#   SLOT_FLAGS="--slot-processes always" DEVICES=cuda:0 NS=4 bash bench/packing.sh   # slots as processes
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-cpu}
NS=${NS:-1 2 4}
RUNS=${RUNS:-8}
WORKERS=${WORKERS:-1}
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

if [ "$DEVICES" != cpu ]; then
  # A GPU compiles and autotunes its kernels for each new shape once (then they come from
  # gptsweep's kernel cache): pay that before the first N is timed, not inside it.
  start=$(date +%s)
  "$BIN" train --device "${DEVICES%%,*}" --n-embd 64 --n-head 4 --n-layer 2 --block-size 64 --batch-size 16 \
    --dropout 0 --max-iters 100 --eval-interval 100 --eval-iters 5 --sample-length 0 > /dev/null
  echo "kernel warm-up on ${DEVICES%%,*}: $(( $(date +%s) - start )) s"
fi
echo "device $DEVICES, $WORKERS worker process(es), $RUNS runs x $ITERS steps x 16x64 tokens ($tokens tokens), $(nproc) cores, $BIN"
for n in $NS; do
  state="$WORK/state-$n"
  "$BIN" coordinator --listen 127.0.0.1:0 --dashboard off --state-dir "$state" > "$WORK/coord-$n.out" 2> "$WORK/coord-$n.log" &
  coord=$!
  until grep -q "listening on" "$WORK/coord-$n.out" 2>/dev/null; do sleep 0.1; done
  url="http://$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$WORK/coord-$n.out")"
  workers=()
  for w in $(seq 1 "$WORKERS"); do
    "$BIN" worker --coordinator "$url" --token-file "$state/access.json" --devices "$DEVICES" \
      --runs-per-device "$n" ${SLOT_FLAGS:-} --poll 1 --cache-dir "$WORK/cache" --name "bench-$w" \
      ${DEVICE_MEMORY:+--device-memory "$DEVICE_MEMORY"} 2> "$WORK/worker-$n-$w.log" &
    workers+=($!)
  done
  smi=
  if [ "$DEVICES" != cpu ] && command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 500 > "$WORK/util-$n.csv" &
    smi=$!
  fi
  start=$(date +%s.%N)
  "$BIN" submit --yes "$WORK/pack.yaml" --coordinator "$url" --token-file "$state/access.json" > /dev/null
  "$BIN" status pack --watch --coordinator "$url" --token-file "$state/access.json" --output json > "$WORK/status-$n.json"
  end=$(date +%s.%N)
  [ -n "$smi" ] && kill "$smi"
  kill -TERM "${workers[@]}" "$coord"; wait "${workers[@]}" "$coord" 2>/dev/null || true
  python3 - "$n" "$start" "$end" "$tokens" "$RUNS" "$WORK/status-$n.json" "$WORK/util-$n.csv" <<'PY'
import json, os, sys
n, start, end, tokens, runs, status, util = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
finished = json.load(open(status))["runs"]["finished"]
wall = end - start
gpu = ""
if os.path.exists(util):
    rows = [list(map(float, l.split(","))) for l in open(util) if l.strip()]
    if rows:
        gpu = (f"   GPU busy {sum(r[0] for r in rows) / len(rows):3.0f}% mean, "
               f"memory {max(r[1] for r in rows) / 1024:5.1f} GiB peak")
print(f"runs per device {n:>4}: wall {wall:6.1f} s   {tokens / wall:9.0f} tok/s aggregate   "
      f"{runs / wall * 3600:7.0f} runs/hour   finished {finished}/{runs}{gpu}")
PY
done
