#!/usr/bin/env bash
# The fleet's kernel cache on a GPU (issue 30): what a shape costs a cold node, a node that
# fetches the fleet's kernels, and PyTorch. Not part of the tests; made for one call on a
# lent GPU machine (build here, carry the binary):
#   cargo build --release --features cuda --bin gptsweep
#   BIN=target/release/gptsweep bash bench/fleet_kernels.sh            # DEVICE=cuda:0
# Steps, each on a fresh coordinator's state and empty kernel folders:
#   1. node A (a worker with an empty kernel folder) trains sweep "a": 4 shapes x 1 run x
#      ITERS steps, filling the fleet's cache as it goes;
#   2. node B (another worker process, its own empty kernel folder) trains sweep "b": the
#      same 4 shapes, another seed, after fetching the fleet's records;
#   for each run: the seconds to its first evaluation (step 10: compilation + 10 steps) and
#   the attempt's wall, and the records each node compiled itself (its log);
#   3. the same 8 configs trained one after another by bench/torch_gpt.py, eager and with
#      torch.compile + bf16 (nanoGPT's settings), wall of each;
#   warm (compiling ahead of need, `--warm-ahead`): the 4 shapes on one fresh node
#      (coordinator and kernel folder empty) with --warm-ahead 0, then on another with
#      --warm-ahead 2: each run's seconds to its first evaluation (compilation included;
#      warmed ahead, only the first shape compiles before its first steps), the records each
#      run compiled itself, and the sweep's wall;
#   4. with PARTS containing slots: the small shape's aggregate tokens/s and GPU busy % with
#      1, 2 and 4 process slots (bench/packing.sh, --slot-processes always).
# Prints a summary; raw output in OUTDIR.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/gptsweep}
DEVICE=${DEVICE:-cuda:0}
PY=${PY:-python3}
DATA=${DATA:-core/data/tinyshakespeare.txt}
ITERS=${ITERS:-500}
OUTDIR=${OUTDIR:-$(mktemp -d)}
PARTS=${PARTS:-fleet,warm,torch,slots}
mkdir -p "$OUTDIR"
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
has() { [[ ",$PARTS," == *",$1,"* ]]; }

# name  n_embd n_head n_layer block_size (batch 64 for all)
SHAPES="s64:64:4:2:64 s128:128:4:4:128 s192:192:6:4:128 s256:256:8:4:256"

sweep() { # name seed: one one-run sweep a shape (a grid over the four model keys would
  # make 4^4 runs), submitted together; the queue hands them out in order.
  for s in $SHAPES; do
    IFS=: read -r name e h l b <<< "$s"
    cat > "$W/$1-$name.yaml" <<YAML
name: $1-$name
method: grid
parameters:
  seed: {values: [$2]}
train: {n_embd: $e, n_head: $h, n_layer: $l, block_size: $b, batch_size: 64, dropout: 0.0, max_iters: $ITERS, eval_interval: 10, eval_iters: 2}
samples: {count: 0}
YAML
  done
}

if has fleet; then
  echo "== fleet: one cold node, then a second node with an empty kernel folder, $DEVICE, $ITERS steps a run"
  "$BIN" coordinator --listen 127.0.0.1:0 --dashboard off --state-dir "$W/state" > "$W/coord.out" 2> "$OUTDIR/coordinator.log" &
  until grep -q "listening on" "$W/coord.out" 2>/dev/null; do sleep 0.1; done
  url="http://$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$W/coord.out")"
  cli() { local verb=$1; shift; "$BIN" "$verb" --coordinator "$url" --token-file "$W/state/access.json" "$@"; }
  for node in a b; do
    sweep "$node" "$([ $node = a ] && echo 1 || echo 2)"
    for s in $SHAPES; do cli submit --yes "$W/$node-${s%%:*}.yaml" > /dev/null; done
    start=$(date +%s.%N)
    XDG_CACHE_HOME="$W/node-$node" timeout 1500 "$BIN" worker --coordinator "$url" \
      --token-file "$W/state/access.json" --devices "$DEVICE" --poll 1 --idle-exit 3 \
      --cache-dir "$W/data" --name "node-$node" 2> "$OUTDIR/worker-$node.log"
    rc=$?
    end=$(date +%s.%N)
    echo "node $node: all 4 runs in $(python3 -c "print(round($end - $start, 1))") s (worker exit $rc)"
    grep -o "kernel cache: [0-9]* records [a-z ]*" "$OUTDIR/worker-$node.log" | sort | uniq -c
    for s in $SHAPES; do
      sw="$node-${s%%:*}"
      cli top "$sw" --output json > "$OUTDIR/top-$sw.json" 2>/dev/null
      run=$(python3 -c "import json;print(json.load(open('$OUTDIR/top-$sw.json'))[0]['run'])" 2>/dev/null)
      [ -n "$run" ] || { echo "  $sw: no run found"; continue; }
      cli show "$run" --output json > "$OUTDIR/show-$sw.json"
      python3 - "$OUTDIR/show-$sw.json" "$sw" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
a = d["attempts"][-1]
ev = d["evals"]
first = ev[0]["train_secs"] if ev else float("nan")
wall = ((a.get("ended_at_ms") or 0) - a["started_at_ms"]) / 1000
tps = ev[-1]["tokens_per_sec"] if ev else float("nan")
print(f"  {sys.argv[2]:<8} first evaluation (step 10) at {first:7.1f} s   attempt wall {wall:7.1f} s   last tokens/s {tps:10.0f}")
PY
    done
  done
  cli kernels
fi

if has warm; then
  for ahead in 0 2; do
    echo "== warm: the 4 shapes on a fresh node with --warm-ahead $ahead, $DEVICE, $ITERS steps a run"
    st="$W/warm-state-$ahead"
    "$BIN" coordinator --listen 127.0.0.1:0 --dashboard off --state-dir "$st" > "$W/warm-coord-$ahead.out" 2> "$OUTDIR/warm-coordinator-$ahead.log" &
    coord=$!
    until grep -q "listening on" "$W/warm-coord-$ahead.out" 2>/dev/null; do sleep 0.1; done
    wurl="http://$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$W/warm-coord-$ahead.out")"
    wcli() { local verb=$1; shift; "$BIN" "$verb" --coordinator "$wurl" --token-file "$st/access.json" "$@"; }
    sweep "w$ahead" 3
    for s in $SHAPES; do wcli submit --yes "$W/w$ahead-${s%%:*}.yaml" > /dev/null; done
    start=$(date +%s.%N)
    XDG_CACHE_HOME="$W/warm-node-$ahead" timeout 1500 "$BIN" worker --coordinator "$wurl" \
      --token-file "$st/access.json" --devices "$DEVICE" --poll 1 --idle-exit 3 \
      --cache-dir "$W/data" --warm-ahead "$ahead" --name "warm-$ahead" 2> "$OUTDIR/warm-worker-$ahead.log"
    end=$(date +%s.%N)
    echo "--warm-ahead $ahead: all 4 runs in $(python3 -c "print(round($end - $start, 1))") s"
    grep -o "warm-ahead: shape warm: [0-9]* records compiled in [0-9.]* s" "$OUTDIR/warm-worker-$ahead.log" | sed 's/^/  /'
    for s in $SHAPES; do
      sw="w$ahead-${s%%:*}"
      run=$(wcli top "$sw" --output json | python3 -c "import json,sys;print(json.load(sys.stdin)[0]['run'])" 2>/dev/null)
      [ -n "$run" ] || { echo "  $sw: no run found"; continue; }
      wcli show "$run" --output json > "$OUTDIR/warm-show-$sw.json"
      compiled=$(grep -o "[0-9]* records compiled or tuned here for run $run," "$OUTDIR/warm-worker-$ahead.log" | grep -o "^[0-9]*")
      python3 - "$OUTDIR/warm-show-$sw.json" "$sw" "${compiled:-?}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["evals"]
first = ev[0]["train_secs"] if ev else float("nan")
print(f"  {sys.argv[2]:<8} first evaluation (step 10) at {first:7.1f} s   records compiled by the run {sys.argv[3]}")
PY
    done
    kill $coord; wait $coord 2>/dev/null
  done
fi

if has torch; then
  echo "== torch: the same 8 configs one after another, bench/torch_gpt.py on ${DEVICE/cuda:/cuda:}"
  for mode in eager "compile+bf16"; do
    flags=(); [ "$mode" = eager ] || flags=(--compile --bf16)
    start=$(date +%s.%N)
    for seed in 1 2; do
      for s in $SHAPES; do
        IFS=: read -r name e h l b <<< "$s"
        $PY bench/torch_gpt.py --data "$DATA" --device "${DEVICE/cuda:0/cuda}" --n-embd "$e" --n-head "$h" \
          --n-layer "$l" --block-size "$b" --batch-size 64 --steps "$ITERS" --dropout 0 "${flags[@]}" \
          > "$OUTDIR/torch-$mode-$name-$seed.json" 2> "$OUTDIR/torch-$mode-$name-$seed.log" || echo "  torch $mode $name failed"
      done
    done
    end=$(date +%s.%N)
    echo "pytorch $mode: 8 runs in $(python3 -c "print(round($end - $start, 1))") s"
  done
fi

if has slots; then
  echo "== slots: the small shape with 1, 2 and 4 process slots on $DEVICE"
  for n in 1 2 4; do
    DEVICES=$DEVICE NS=$n RUNS=8 ITERS=$ITERS BIN=$BIN SLOT_FLAGS="--slot-processes always" \
      bash bench/packing.sh 2>&1 | tail -2
  done
fi
echo "raw output: $OUTDIR"
