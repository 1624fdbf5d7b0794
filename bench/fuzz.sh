#!/usr/bin/env bash
# Fuzz the sweep-file checker and planner for a bounded time (not part of CI):
#   bash bench/fuzz.sh [seconds]     # default 300
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain RUSTC_BOOTSTRAP=1
# lets it pass the sanitizer flags. Crashes land in fuzz/artifacts/sweep_file/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
mkdir -p corpus/sweep_file
cp ../sweeps/*.yaml corpus/sweep_file/
RUSTC_BOOTSTRAP=1 cargo fuzz run sweep_file corpus/sweep_file -- -max_total_time="${1:-300}" -max_len=4096 -timeout=10
