#!/usr/bin/env bash
# CPU training throughput: gptsweep (release build) beside the PyTorch reference of the same
# model, same configs, same machine, same run. Not part of the tests.
#   bash bench/cpu.sh            # both configs
# Installs torch into bench/.venv (from PyPI) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-gpt/data/tinyshakespeare.txt}
if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q torch numpy
fi
cargo build --release --bin gptsweep >&2
BIN=target/release/gptsweep
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

run() { # name, steps, flags...
  local name=$1 steps=$2; shift 2
  local ours torch
  ours=$($BIN train --dataset "$DATA" "$@" --max-iters "$steps" --eval-interval "$steps" --eval-iters 1 \
          --dropout 0 --sample-length 0 --output json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["tokens_per_sec"]))')
  torch=$(bench/.venv/bin/python bench/torch_gpt.py --data "$DATA" --steps "$steps" "$@" \
          | python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["tokens_per_sec"]))')
  python3 -c "print(f'{\"$name\":<10} steps={$steps:<4} gptsweep {$ours:>8} tok/s   pytorch {$torch:>8} tok/s   ratio {$ours/$torch:.2f}x')"
}

run small 200 --n-layer 2 --n-head 4 --n-embd 64 --block-size 64 --batch-size 32 --lr 1e-3
run lecture 3 --n-layer 6 --n-head 6 --n-embd 384 --block-size 256 --batch-size 64 --lr 3e-4
