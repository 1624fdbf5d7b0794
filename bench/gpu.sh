#!/usr/bin/env bash
# Everything BENCHMARKS.md says about an NVIDIA GPU, in one go, for a machine with the GPU,
# PyTorch and the CUDA headers but possibly no Rust toolchain (build here, carry the binary):
#   cargo build --release --features cuda --bin gptsweep          # on the build machine
#   BIN=target/release/gptsweep bash bench/gpu.sh                  # on the GPU machine
#   PARTS=correct,speed BIN=... OUTDIR=/tmp/gpu bash bench/gpu.sh   # some parts only
# Parts (PARTS, comma-separated; default correct, speed, sweep, packing and autotune):
#   warm     the kernel warm-up (NVRTC compilation + autotune) a process pays before its
#            first steps: 20 steps, an evaluation and a sample of the lecture's and of the
#            packing bench's config, each twice: the first pass with the kernel cache as
#            found (empty on a fresh machine), the second a new process reading the cache
#            (WARM_CONFIGS="lecture pack" by default)
#   correct  the same seed on cpu and cuda: train/val losses every 50 steps to 200, small and
#            mid configs, dropout 0; a checkpoint written on cuda resumed on cpu and the
#            other way round; a sample from the cuda run
#   speed    training tokens/s of gptsweep on cuda (a window after the first evaluation, so
#            kernel compilation and autotuning are excluded, and the whole run's figure
#            beside it), in f32 and with bf16 products, next to bench/torch_gpt.py on the same
#            GPU: eager fp32, eager with TF32, and torch.compile + bf16 autocast (nanoGPT's)
#   sweep    `gptsweep local sweeps/quickstart.yaml --devices cuda:0`
#   packing  bench/packing.sh on cuda:0: one worker with 1, 2, 4, 8, 16 and auto runs per
#            device, then 2, 4 and 8 worker processes (PACK_WORKERS) of one run each
#   fleet    bench/fleet_kernels.sh: 4 shapes on a cold node, then on a second node that
#            fetches the fleet's kernel cache; the 4 shapes with and without --warm-ahead;
#            beside PyTorch eager and torch.compile + bf16, and 1, 2, 4 process slots of the
#            small shape
#   autotune bench/autotune_levels.sh on cuda:0: records compiled, time to the first
#            evaluation and steady tokens/s of the lecture's shape at each cubecl autotune
#            level (minimal, gptsweep's default; balanced; extensive; full), 300 steps
#   lecture  the lecture's config for 5000 steps (evaluation every 500, 200 batches), then
#            bench/torch_gpt.py's same run with torch.compile + bf16
#   precision  the lecture's config for 1000 steps (evaluation every 250, 200 batches) with
#            `--precision f32` then `--precision bf16` (bf16 products, f32 master weights, AdamW
#            state and loss), same seed: val losses side by side and steady tokens/s
#   allbf16  the lecture's config for 1000 steps in burn-cuda's Cuda<bf16> (everything in 16
#            bits: weights and AdamW state too) with gpt/examples/cuda_precision.rs
#            (PRECISION_BIN: build it with `cargo build --release --features cuda -p
#            gptsweep-gpt --example cuda_precision`); a new dtype compiles every kernel again
#   census   bench/kernel_census.sh on cuda, the lecture's shape, f32 and bf16 (CENSUS_PRECISIONS):
#            the kernels one step launches and how many of each, and autotune's choice for
#            each matrix product with every candidate's time (issue 33, item 2); it reads the
#            kernel cache the other parts filled (run it after speed or precision)
#   profile  where a lecture step's time goes: PyTorch's profiler (eager fp32 and TF32), then
#            Nsight Compute's kernel times for 1,500 kernels of gptsweep's steady loop (the
#            f32 run of PRECISION_BIN), summed by kernel name
# Each part's raw output lands in OUTDIR; a summary goes to stdout.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/gptsweep}
DATA=${DATA:-core/data/tinyshakespeare.txt}
PY=${PY:-python3}
PARTS=${PARTS:-correct,speed,sweep,packing,autotune}
OUTDIR=${OUTDIR:-$(mktemp -d)}
mkdir -p "$OUTDIR"
has() { [[ ",$PARTS," == *",$1,"* ]]; }
if [ ! -f "${CUDA_PATH:-}/include/cuda.h" ]; then
  for d in /usr/local/cuda /usr/local/cuda-*; do
    [ -f "$d/include/cuda.h" ] && export CUDA_PATH=$d && break
  done
fi
echo "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
echo "CUDA_PATH=${CUDA_PATH:-unset}  nvcc: $(nvcc --version 2>/dev/null | tail -1)"
echo "torch: $($PY -c 'import torch; print(torch.__version__, torch.version.cuda)')  cpu cores: $(nproc)"
echo "binary: $($BIN --version)"

train() { # name, flags...: gptsweep train --output json into OUTDIR/name.json (stderr in .log)
  local name=$1; shift
  $BIN train --dataset "$DATA" --output json "$@" > "$OUTDIR/$name.json" 2> "$OUTDIR/$name.log"
  local rc=$?
  [ $rc -eq 0 ] || { echo "FAILED ($rc): gptsweep train $*"; tail -5 "$OUTDIR/$name.log"; }
  return $rc
}

kernels=${XDG_CACHE_HOME:-$HOME/.cache}/gptsweep/kernels
if has warm; then
  echo; echo "== warm-up: a fresh process's kernel compilation and autotune, then a second from the cache =="
  lecture="--n-layer 6 --n-head 6 --n-embd 384 --block-size 256 --batch-size 64 --lr 3e-4 --dropout 0.2"
  pack="--n-layer 2 --n-head 4 --n-embd 64 --block-size 64 --batch-size 16 --lr 1e-3 --dropout 0"
  for cfg in ${WARM_CONFIGS:-lecture pack}; do
    for pass in 1 2; do
      files=$(find "$kernels" -type f 2>/dev/null | wc -l)
      start=$(date +%s.%N)
      train "warm-$cfg-$pass" ${!cfg} --device cuda --max-iters 20 --eval-interval 10 --eval-iters 2 --sample-length 200
      end=$(date +%s.%N)
      echo "$cfg pass $pass: wall $(awk "BEGIN{printf \"%.1f\", $end - $start}") s   (kernel cache before: $files files, after: $(find "$kernels" -type f | wc -l), $(du -sh "$kernels" | cut -f1))"
    done
  done
fi

if has correct; then
  echo; echo "== correctness: same seed on cpu and cuda (fp32, dropout 0) =="
  small="--n-layer 2 --n-head 4 --n-embd 64 --block-size 64 --batch-size 32 --lr 1e-3 --dropout 0"
  mid="--n-layer 4 --n-head 4 --n-embd 128 --block-size 128 --batch-size 32 --lr 1e-3 --dropout 0"
  for cfg in small mid; do
    for dev in cpu cuda; do
      train "correct-$cfg-$dev" ${!cfg} --device $dev --max-iters 200 --eval-interval 50 --eval-iters 20 --sample-length 200
    done
  done
  # Checkpoints at step 100 on one device, resumed to 200 on the other.
  for pair in cuda:cpu cpu:cuda; do
    from=${pair%:*}; to=${pair#*:}
    rm -rf "$OUTDIR/ck-$from"
    train "half-$from" $small --device $from --max-iters 100 --eval-interval 50 --eval-iters 20 --sample-length 0 --out "$OUTDIR/ck-$from" &&
      train "resume-$from-$to" --resume "$OUTDIR/ck-$from" --device $to --max-iters 200 --sample-length 0
  done
  $PY - "$OUTDIR" <<'PY'
import json, sys, os
d = sys.argv[1]
def load(n):
    p = os.path.join(d, n + ".json")
    try:
        return json.load(open(p))
    except Exception as e:
        return None
for cfg in ("small", "mid"):
    cpu, cuda = load(f"correct-{cfg}-cpu"), load(f"correct-{cfg}-cuda")
    if not cpu or not cuda:
        print(f"{cfg}: missing output"); continue
    print(f"{cfg} ({cpu['params']} params)   step   cpu train/val      cuda train/val     |diff| train/val")
    for a, b in zip(cpu["evals"], cuda["evals"]):
        print(f"{'':>{len(cfg)+len(str(cpu['params']))+11}}{a['step']:>4}   {a['train_loss']:.5f}/{a['val_loss']:.5f}   "
              f"{b['train_loss']:.5f}/{b['val_loss']:.5f}   {abs(a['train_loss']-b['train_loss']):.5f}/{abs(a['val_loss']-b['val_loss']):.5f}")
    print(f"  cuda sample: {cuda['sample'][:160]!r}")
    print(f"  wall: cpu {cpu['wall_secs']:.1f}s, cuda {cuda['wall_secs']:.1f}s")
for frm, to in (("cuda", "cpu"), ("cpu", "cuda")):
    r, ref_same, ref_other = load(f"resume-{frm}-{to}"), load(f"correct-small-{to}"), load(f"correct-small-{frm}")
    if not r or not ref_same:
        print(f"resume {frm}->{to}: missing output"); continue
    a, b, c = r["evals"][-1], ref_same["evals"][-1], ref_other["evals"][-1]
    print(f"resume: 100 steps on {frm:<4} + 100 on {to:<4}: step {a['step']} train/val {a['train_loss']:.5f}/{a['val_loss']:.5f}; "
          f"200 on {to}: {b['train_loss']:.5f}/{b['val_loss']:.5f}; 200 on {frm}: {c['train_loss']:.5f}/{c['val_loss']:.5f}")
PY
fi

if has speed; then
  echo; echo "== speed: training tokens/s on one GPU, gptsweep beside PyTorch in the same run =="
  speed() { # name, window steps, flags...
    local name=$1 n=$2; shift 2
    train "speed-$name" --device cuda "$@" --max-iters $((2 * n)) --eval-interval "$n" --eval-iters 1 --sample-length 0
    # The same run with bf16 products (f32 master weights, AdamW state and loss).
    train "speed-$name-bf16" --device cuda "$@" --precision bf16 --max-iters $((2 * n)) --eval-interval "$n" --eval-iters 1 --sample-length 0
    for mode in "" "--tf32" "--compile --bf16"; do
      $PY bench/torch_gpt.py --device cuda --data "$DATA" --steps "$n" --warmup 20 $mode "$@" \
        > "$OUTDIR/torch-$name-${mode// /}.json" 2> "$OUTDIR/torch-$name-${mode// /}.log" \
        || { echo "FAILED: torch_gpt.py $mode"; tail -3 "$OUTDIR/torch-$name-${mode// /}.log"; }
    done
    $PY - "$OUTDIR" "$name" <<'PY'
import json, sys, os
d, name = sys.argv[1], sys.argv[2]
def load(p):
    try:
        return json.load(open(os.path.join(d, p)))
    except Exception:
        return None
ours = load(f"speed-{name}.json")
if ours:
    steady = ours["evals"][-1]["tokens_per_sec"]
    print(f"{name:<8} gptsweep cuda fp32     {steady:>10.0f} tok/s   (whole run incl. kernel compilation {ours['tokens_per_sec']:.0f} tok/s, wall {ours['wall_secs']:.1f}s)")
bf16 = load(f"speed-{name}-bf16.json")
if bf16:
    steady16 = bf16["evals"][-1]["tokens_per_sec"]
    print(f"{name:<8} gptsweep cuda bf16     {steady16:>10.0f} tok/s   (whole run incl. kernel compilation {bf16['tokens_per_sec']:.0f} tok/s, wall {bf16['wall_secs']:.1f}s)")
for mode in ("", "--tf32", "--compile--bf16"):
    t = load(f"torch-{name}-{mode}.json")
    if t:
        ratio = f"   gptsweep/pytorch {steady / t['tokens_per_sec']:.2f}x" if ours else ""
        if bf16:
            ratio += f"   gptsweep bf16/pytorch {steady16 / t['tokens_per_sec']:.2f}x"
        print(f"{name:<8} pytorch {t['mode']:<14} {t['tokens_per_sec']:>10.0f} tok/s{ratio}   (warm-up {t['warmup_secs']:.1f}s)")
PY
  }
  speed small 500 --n-layer 2 --n-head 4 --n-embd 64 --block-size 64 --batch-size 32 --lr 1e-3 --dropout 0
  speed lecture 100 --n-layer 6 --n-head 6 --n-embd 384 --block-size 256 --batch-size 64 --lr 3e-4 --dropout 0.2
fi

if has sweep; then
  echo; echo "== sweep: gptsweep local sweeps/quickstart.yaml --devices cuda:0 =="
  start=$SECONDS
  timeout 300 $BIN local sweeps/quickstart.yaml --devices cuda:0 > "$OUTDIR/sweep.txt" 2> "$OUTDIR/sweep.log"
  echo "exit $?, $((SECONDS - start)) s"
  tail -30 "$OUTDIR/sweep.txt"
fi

if has fleet; then
  echo; echo "== fleet: the fleet's kernel cache, a cold node and a warm one, beside PyTorch =="
  BIN=$BIN PY=$PY DATA=$DATA OUTDIR="$OUTDIR/fleet" bash bench/fleet_kernels.sh
fi

if has autotune; then
  echo; echo "== autotune: each cubecl autotune level, the lecture's shape, cuda:0 =="
  BIN=$BIN DEVICE=cuda:0 SHAPE=lecture ITERS=${AUTOTUNE_ITERS:-300} OUTDIR="$OUTDIR/autotune" \
    bash bench/autotune_levels.sh
fi

if has packing; then
  echo; echo "== packing: cuda:0, one worker with N runs per device, then W worker processes of 1 =="
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -l 1 > "$OUTDIR/packing-util.csv" 2>/dev/null &
  smi=$!
  BIN=$BIN DEVICES=cuda:0 NS="${NS:-1 2 4 8 16 auto}" RUNS=${RUNS:-16} ITERS=${ITERS:-300} \
    timeout "${PACKING_TIMEOUT:-400}" bash bench/packing.sh 2>&1 | tee "$OUTDIR/packing.txt"
  for w in ${PACK_WORKERS:-2 4 8}; do
    BIN=$BIN DEVICES=cuda:0 WORKERS=$w NS=1 RUNS=${RUNS:-16} ITERS=${ITERS:-300} \
      timeout "${PACKING_TIMEOUT:-400}" bash bench/packing.sh 2>&1 | tee -a "$OUTDIR/packing.txt"
  done
  kill $smi 2>/dev/null
fi

if has lecture; then
  echo; echo "== lecture: 5000 steps of the lecture's config on cuda, then PyTorch's same run =="
  rm -rf "$OUTDIR/lecture-ck"
  timeout "${LECTURE_TIMEOUT:-480}" $BIN train --dataset "$DATA" --device cuda --max-iters 5000 --sample-length 500 \
    --output json --out "$OUTDIR/lecture-ck" > "$OUTDIR/lecture.json" 2> "$OUTDIR/lecture.log"
  echo "gptsweep exit $?"
  grep -E "step|val" "$OUTDIR/lecture.log" | tail -12
  $PY - "$OUTDIR/lecture.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    sys.exit(f"no summary: {e}")
for e in r["evals"]:
    print(f"  step {e['step']:>5}  train {e['train_loss']:.4f}  val {e['val_loss']:.4f}  {e['tokens_per_sec']:.0f} tok/s  {e['train_secs']:.1f}s")
print(f"gptsweep: best val {r['best_val_loss']:.4f} at step {r['best_step']}, wall {r['wall_secs']:.1f}s, train {r['train_secs']:.1f}s")
print("sample:", r["sample"][:400])
PY
  timeout "${TORCH_LECTURE_TIMEOUT:-240}" $PY bench/torch_gpt.py --device cuda --data "$DATA" --steps 5000 --compile --bf16 \
    --dropout 0.2 --lr 3e-4 --eval-interval 500 --eval-iters 200 > "$OUTDIR/torch-lecture.json" 2> "$OUTDIR/torch-lecture.log"
  echo "pytorch exit $?"
  $PY - "$OUTDIR/torch-lecture.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for e in r["evals"]:
    print(f"  step {e['step']:>5}  train {e['train']:.4f}  val {e['val']:.4f}  {e['elapsed']:.1f}s")
print(f"pytorch {r['mode']}: wall {r['wall_secs']:.1f}s (+{r['warmup_secs']:.1f}s warm-up), {r['tokens_per_sec']:.0f} tok/s")
PY
fi
if has precision; then
  echo; echo "== precision: the lecture's config for 1000 steps, f32 then bf16 products, same seed =="
  for p in f32 bf16; do
    timeout "${PRECISION_TIMEOUT:-240}" $BIN train --dataset "$DATA" --device cuda --precision $p \
      --max-iters 1000 --eval-interval 250 --eval-iters 200 --sample-length 0 \
      --output json > "$OUTDIR/precision-$p.json" 2> "$OUTDIR/precision-$p.log"
    echo "$p: exit $?"
  done
  $PY - "$OUTDIR" <<'PY'
import json, sys, os
runs = {}
for p in ("f32", "bf16"):
    try:
        runs[p] = json.load(open(os.path.join(sys.argv[1], f"precision-{p}.json")))
    except Exception as e:
        print(f"{p}: no summary ({e})")
for p, r in runs.items():
    for e in r["evals"]:
        print(f"  {p:<4} step {e['step']:>5}  train {e['train_loss']:.4f}  val {e['val_loss']:.4f}  {e['tokens_per_sec']:.0f} tok/s")
if len(runs) == 2:
    a, b = runs["f32"]["evals"][-1], runs["bf16"]["evals"][-1]
    print(f"val at step {a['step']}: f32 {a['val_loss']:.4f}, bf16 {b['val_loss']:.4f}, |diff| {abs(a['val_loss'] - b['val_loss']):.4f} (goal <= 0.02); "
          f"steady tok/s bf16/f32 {b['tokens_per_sec'] / a['tokens_per_sec']:.2f}x")
PY
fi
PRECISION_BIN=${PRECISION_BIN:-target/release/examples/cuda_precision}
if has allbf16; then
  echo; echo "== allbf16: the lecture's config in Cuda<bf16> (burn-cuda, wholly bf16: no master weights) =="
  timeout "${PRECISION_TIMEOUT:-540}" "$PRECISION_BIN" bf16 1000 250 > "$OUTDIR/bf16.out" 2> "$OUTDIR/bf16.err"
  echo "exit $?"; cat "$OUTDIR/bf16.out"
fi

if has census; then
  for precision in ${CENSUS_PRECISIONS:-f32 bf16}; do
    echo; echo "== census: the kernels of a lecture step on cuda, $precision =="
    CACHE=${XDG_CACHE_HOME:-$HOME/.cache} BIN=$BIN DEVICE=cuda SHAPE=lecture PRECISION=$precision \
      OUTDIR="$OUTDIR/census-$precision" timeout 600 bash bench/kernel_census.sh | cut -c1-400
  done
fi

if has profile; then
  echo; echo "== profile: a lecture step, PyTorch's profiler and ncu on gptsweep =="
  for mode in "" "--tf32"; do
    $PY bench/torch_gpt.py --device cuda --data "$DATA" --steps 30 --warmup 10 --profile 10 $mode \
      > "$OUTDIR/torch-prof${mode// /}.json" 2> "$OUTDIR/torch-prof${mode// /}.log"
    echo "-- pytorch '$mode'"; grep -A26 '^profile:' "$OUTDIR/torch-prof${mode// /}.log" | cut -c1-200
  done
  timeout 300 ncu --metrics gpu__time_duration.sum --launch-skip 4000 --launch-count 1500 --csv \
    "$PRECISION_BIN" f32 40 1000 > "$OUTDIR/ncu.csv" 2> "$OUTDIR/ncu.err" || tail -3 "$OUTDIR/ncu.err"
  $PY - "$OUTDIR/ncu.csv" <<'PY'
import collections, csv, re, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
if not rows:
    sys.exit("no ncu rows")
h, rows = rows[0], rows[1:]
ki, vi, ui = h.index("Kernel Name"), h.index("Metric Value"), h.index("Metric Unit")
to_us = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3}
total, count, all_us = collections.Counter(), collections.Counter(), 0.0
for r in rows:
    t = float(r[vi].replace(",", "")) * to_us[r[ui]]
    name = re.sub(r"[<(].*", "", r[ki])[:70]
    total[name] += t; count[name] += 1; all_us += t
print(f"ncu: {len(rows)} kernels, {all_us / 1e3:.1f} ms of kernel time")
for n, t in total.most_common(25):
    print(f"  {t / 1e3:8.2f} ms  {100 * t / all_us:5.1f}%  x{count[n]:<5} {n}")
PY
fi
echo; echo "raw output: $OUTDIR"
