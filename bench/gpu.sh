#!/usr/bin/env bash
# GPU measurement in one go, for a machine with an NVIDIA GPU, PyTorch and CUDA headers but
# possibly no Rust toolchain (build here, carry the binary):
#   cargo build --release --features cuda --bin gptsweep   # on the build machine
#   BIN=target/release/gptsweep bash bench/gpu.sh           # on the GPU machine
# Prints: CUDA vs CPU losses after N steps with the same seed (correctness), then training
# tokens/s of gptsweep on cuda beside PyTorch eager on the same GPU, small and lecture configs.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/gptsweep}
DATA=${DATA:-gpt/data/tinyshakespeare.txt}
PY=${PY:-python3}
export CUDA_PATH=${CUDA_PATH:-/usr/local/cuda}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

loss() { # device, extra flags: final val loss after 200 steps, seed 1337
  $BIN train --dataset "$DATA" --device "$1" --n-layer 2 --n-head 4 --n-embd 64 --block-size 64 --batch-size 32 \
    --max-iters 200 --eval-interval 100 --eval-iters 20 --lr 1e-3 --dropout 0 --sample-length 0 --output json \
    | $PY -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(f"{e[\"step\"]}:{e[\"train_loss\"]:.4f}/{e[\"val_loss\"]:.4f}" for e in d["evals"]))'
}
echo "correctness (step:train/val, same seed): cpu  $(loss cpu)"
echo "                                          cuda $(loss cuda)"

run() { # name, steps, flags...
  local name=$1 steps=$2; shift 2
  local ours torch
  ours=$($BIN train --dataset "$DATA" --device cuda "$@" --max-iters "$steps" --eval-interval "$steps" --eval-iters 1 \
          --dropout 0 --sample-length 0 --output json | $PY -c 'import json,sys; print(round(json.load(sys.stdin)["tokens_per_sec"]))')
  torch=$($PY bench/torch_gpt.py --device cuda --data "$DATA" --steps "$steps" "$@" | $PY -c 'import json,sys; print(round(json.load(sys.stdin)["tokens_per_sec"]))')
  $PY -c "print(f'{\"$name\":<10} steps={$steps:<4} gptsweep-cuda {$ours:>9} tok/s   pytorch-eager {$torch:>9} tok/s   ratio {$ours/$torch:.2f}x')"
}
run small 300 --n-layer 2 --n-head 4 --n-embd 64 --block-size 64 --batch-size 32 --lr 1e-3
run lecture 100 --n-layer 6 --n-head 6 --n-embd 384 --block-size 256 --batch-size 64 --lr 3e-4
