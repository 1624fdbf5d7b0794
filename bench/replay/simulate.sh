#!/usr/bin/env bash
# The replay benchmark: gptsweep's random search, random + ASHA, tpe and tpe + ASHA (its
# own planner and rung code, examples/replay.rs) and Optuna's TPESampler (multivariate,
# constant_liar) without and with its SuccessiveHalvingPruner (optuna_replay.py), each
# over 20 seeds with 4 simulated workers on the recorded table (curves.csv, from
# record.sh), then the table of best val_loss found against budget (summarize.py).
# Installs optuna into bench/.venv on first use. Takes about a minute; trains nothing.
#   bash bench/replay/simulate.sh [SEEDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SEEDS=${1:-20}
if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c 'import optuna' 2>/dev/null; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q optuna
fi
cargo build --release --example replay >&2
BIN_DIR=${CARGO_TARGET_DIR:-target}/release/examples
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$BIN_DIR"/replay --curves bench/replay/curves.csv --space bench/replay/space.yaml \
  --workers 4 --seeds "$SEEDS" > "$OUT/gptsweep.csv"
bench/.venv/bin/python bench/replay/optuna_replay.py --curves bench/replay/curves.csv \
  --workers 4 --seeds "$SEEDS" > "$OUT/optuna.csv"
python3 bench/replay/summarize.py "$OUT/gptsweep.csv" "$OUT/optuna.csv" --curves bench/replay/curves.csv
