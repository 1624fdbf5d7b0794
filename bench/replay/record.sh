#!/usr/bin/env bash
# Records the replay table: trains every point of space.yaml (192 runs, about 25 minutes
# on 2 CPU cores) with `gptsweep local`, then writes each evaluation of each run to
# curves.csv (config, hyperparameters, step, train_loss, val_loss,
# seconds trained so far). Run once; the table is
# committed, and simulate.sh replays it.
#   bash bench/replay/record.sh [BIN]
set -euo pipefail
cd "$(dirname "$0")"
BIN=${1:-../../target/release/gptsweep}
STATE=$(mktemp -d)
trap 'rm -rf "$STATE"' EXIT
"$BIN" local space.yaml --state-dir "$STATE" --top 1 >&2
python3 - "$STATE" > curves.csv <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1] + "/gptsweep.db")
keys = ["block_size", "n_embd", "n_head", "n_layer", "dropout", "lr"]
print("config," + ",".join(keys) + ",step,train_loss,val_loss,train_secs")
runs = db.execute("SELECT id, hyperparams_json FROM runs ORDER BY idx").fetchall()
for config, (run_id, params) in enumerate(runs):
    p = json.loads(params)
    for step, tl, vl, secs in db.execute(
        "SELECT step, train_loss, val_loss, train_secs FROM evals WHERE run_id = ? ORDER BY step", (run_id,)
    ):
        print(f"{config}," + ",".join(repr(p[k]) for k in keys) + f",{step},{tl:.5f},{vl:.5f},{secs:.3f}")
PY
echo "wrote $(wc -l < curves.csv) lines to bench/replay/curves.csv" >&2
