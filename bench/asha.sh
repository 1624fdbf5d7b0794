#!/usr/bin/env bash
# What early termination buys: the same 24-run random search on tiny shakespeare (CPU, one
# local worker), once without early_terminate and once with {min_iter: 1, eta: 3}. Prints
# wall time, steps trained, runs stopped and the best val_loss of each. Not part of the tests.
#   bash bench/asha.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin gptsweep >&2
BIN=$PWD/target/release/gptsweep
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

sweep() { # name, extra line
  cat > "$WORK/$1.yaml" <<YAML
name: $1
dataset: tinyshakespeare
method: random
run_cap: 24
seed: 7
parameters:
  n_embd:  {values: [32, 64]}
  n_head:  {values: [2, 4]}
  n_layer: {min: 1, max: 2}
  lr:      {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
train: {block_size: 32, batch_size: 16, dropout: 0.0, max_iters: 1800, eval_interval: 200, eval_iters: 20}
samples: {count: 0}
$2
YAML
  local start end
  start=$(date +%s.%N)
  "$BIN" local --yes "$WORK/$1.yaml" --state-dir "$WORK/state-$1" --output json > "$WORK/$1.json"
  end=$(date +%s.%N)
  python3 - "$WORK/$1.json" "$1" "$start" "$end" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
top, runs = d["top"], d["sweep"]["runs"]
steps = sum(r["steps"] for r in top)
best = top[0]
print(f"{sys.argv[2]:<8} wall {float(sys.argv[4]) - float(sys.argv[3]):6.1f} s   steps trained {steps:6d}   "
      f"finished {runs['finished']:2d}  stopped {runs['stopped']:2d}   best val_loss {best['best_val_loss']:.4f} "
      f"(run {best['run']}, {json.dumps(best['params'], sort_keys=True)})")
PY
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
sweep full ""
sweep asha "early_terminate: {type: hyperband, min_iter: 1, eta: 3}"
