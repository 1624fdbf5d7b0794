#!/usr/bin/env bash
# CPU training throughput: gptsweep (release build) beside the PyTorch reference of the same
# model, same configs, same machine, same run. Not part of the tests.
#   bash bench/cpu.sh            # both configs, without dropout and with the lecture's 0.2
#   DROPOUTS=0 bash bench/cpu.sh # without dropout only
# Installs torch into bench/.venv (from PyPI) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-core/data/tinyshakespeare.txt}
if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q torch numpy
fi
cargo build --release --bin gptsweep >&2
BIN=target/release/gptsweep
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

run() { # name, steps, dropout, flags...
  local name=$1 steps=$2 dropout=$3; shift 3
  local ours torch
  ours=$($BIN train --dataset "$DATA" "$@" --max-iters "$steps" --eval-interval "$steps" --eval-iters 1 \
          --dropout "$dropout" --sample-length 0 --output json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["tokens_per_sec"]))')
  torch=$(bench/.venv/bin/python bench/torch_gpt.py --data "$DATA" --steps "$steps" --dropout "$dropout" "$@" \
          | python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["tokens_per_sec"]))')
  python3 -c "print(f'{\"$name\":<10} dropout={$dropout:<4} steps={$steps:<4} gptsweep {$ours:>8} tok/s   pytorch {$torch:>8} tok/s   ratio {$ours/$torch:.2f}x')"
}

for dropout in ${DROPOUTS:-0 0.2}; do
  run small 200 "$dropout" --n-layer 2 --n-head 4 --n-embd 64 --block-size 64 --batch-size 32 --lr 1e-3
  run lecture 3 "$dropout" --n-layer 6 --n-head 6 --n-embd 384 --block-size 256 --batch-size 64 --lr 3e-4
done
