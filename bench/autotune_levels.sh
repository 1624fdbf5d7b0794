#!/usr/bin/env bash
# What each cubecl autotune level costs a new shape (issue 30, item 3): the kernel records a
# node compiles and tunes for its first run of the shape, the run's time to its first
# evaluation (compilation included), and its steady tokens/s (the last evaluation's window,
# after compilation). One fresh coordinator and an empty kernel folder per level; the level
# is given as CUBECL_AUTOTUNE_LEVEL (gptsweep's default is minimal:
# gpt/src/backend/kernel_cache.rs; the level is part of the kernel scope).
#   wgpu on lavapipe (no GPU): cargo test -p gptsweep --features wgpu --test kernel_cache_e2e --no-run
#                              BIN=target/debug/gptsweep bash bench/autotune_levels.sh
#   an NVIDIA GPU:             BIN=target/release/gptsweep DEVICE=cuda:0 SHAPE=lecture ITERS=500 \
#                              bash bench/autotune_levels.sh          (bench/gpu.sh part autotune)
# SHAPE: tiny (the tests' model: n_embd 16, 1 layer, block 16, batch 8) or lecture (n_embd
# 384, 6 layers, 6 heads, block 256, batch 64). LEVELS: which levels, in order.
# A build without autotune is not a level: cubecl 0.10 has none ("minimal" is the least);
# it is burn built without its `autotune` feature (burn-wgpu's and burn-cuda's default),
# i.e. burn with default-features = false: a separate build of burn and cubecl.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/debug/gptsweep}
DEVICE=${DEVICE:-wgpu}
SHAPE=${SHAPE:-tiny}
ITERS=${ITERS:-60}
EVAL=${EVAL:-$((ITERS / 3))}
LEVELS=${LEVELS:-minimal balanced extensive full}
OUTDIR=${OUTDIR:-$(mktemp -d)}
mkdir -p "$OUTDIR"
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
case $SHAPE in
  tiny) TRAIN="n_embd: 16, n_head: 2, n_layer: 1, block_size: 16, batch_size: 8" ;;
  lecture) TRAIN="n_embd: 384, n_head: 6, n_layer: 6, block_size: 256, batch_size: 64" ;;
  *) echo "SHAPE: tiny or lecture" >&2; exit 2 ;;
esac
cat > "$W/shape.yaml" <<YAML
name: shape
method: grid
parameters:
  seed: {values: [1]}
train: {$TRAIN, dropout: 0.0, max_iters: $ITERS, eval_interval: $EVAL, eval_iters: 2}
samples: {count: 0}
YAML
echo "== autotune levels: $SHAPE shape, $ITERS steps (evaluations every $EVAL), $DEVICE, $($BIN --version 2>/dev/null)"
lscpu | grep -E "^Model name|^CPU\(s\)" | sed 's/  */ /g'
printf "| level | records compiled or tuned | first evaluation (step %s) | steady tokens/s | run wall |\n|---|---:|---:|---:|---:|\n" "$EVAL"
for level in $LEVELS; do
  state="$W/state-$level"
  "$BIN" coordinator --listen 127.0.0.1:0 --dashboard off --state-dir "$state" > "$W/coord-$level.out" 2> "$OUTDIR/coordinator-$level.log" &
  coord=$!
  until grep -q "listening on" "$W/coord-$level.out" 2>/dev/null; do sleep 0.1; done
  url="http://$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$W/coord-$level.out")"
  cli() { local verb=$1; shift; "$BIN" "$verb" --coordinator "$url" --token-file "$state/access.json" "$@"; }
  cli submit --yes "$W/shape.yaml" > /dev/null
  start=$(date +%s.%N)
  CUBECL_AUTOTUNE_LEVEL=$level XDG_CACHE_HOME="$W/node-$level" timeout 3000 "$BIN" worker \
    --coordinator "$url" --token-file "$state/access.json" --devices "$DEVICE" --poll 1 \
    --idle-exit 2 --cache-dir "$W/data" --warm-ahead 0 --name "$level" 2> "$OUTDIR/worker-$level.log"
  end=$(date +%s.%N)
  records=$(grep -o "kernel cache: [0-9]* records compiled" "$OUTDIR/worker-$level.log" | grep -o "[0-9]*" | head -1)
  run=$(cli top shape --output json | python3 -c "import json,sys;print(json.load(sys.stdin)[0]['run'])")
  cli show "$run" --output json > "$OUTDIR/show-$level.json"
  python3 - "$OUTDIR/show-$level.json" "$level" "${records:-?}" "$(python3 -c "print(round($end - $start, 1))")" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["evals"]
first = f'{ev[0]["train_secs"]:.1f} s' if ev else "-"
steady = f'{ev[-1]["tokens_per_sec"]:,.0f}' if len(ev) > 1 else "-"
print(f"| {sys.argv[2]} | {sys.argv[3]} | {first} | {steady} | {sys.argv[4]} s |")
PY
  kill $coord; wait $coord 2>/dev/null
done
echo "raw output: $OUTDIR"
