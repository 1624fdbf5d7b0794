#!/usr/bin/env bash
# Which kernels one training step launches on a cubecl backend, how many of each, and which
# kernel autotune chose for each matrix product (issue 33, item 2: products at tensor-core
# speed, "one contiguous copy instead of several"). cubecl's profiling logger
# (CUBECL_DEBUG_OPTION=profile) names every kernel that runs; after a warm-up run has filled
# the kernel cache (compilation and autotune), two runs of the same shape that differ only in
# their step count, SHORT and LONG, give one step's launches as the difference divided by
# LONG - SHORT (what both share, the evaluation and the loading, cancels). Launch counts do
# not depend on the device (but for the product kernels autotune picks), so lavapipe shows
# what an H100 launches; the times are this device's (on lavapipe a CPU's: use them only to
# rank). The products' table reads autotune's results from the kernel cache: the key (size
# class, element types, operand layouts: a "HighlyPermuted" operand is copied first), the
# kernel chosen and each candidate's median time.
#   no GPU:        cargo build -p gptsweep --features wgpu && bash bench/kernel_census.sh
#   an NVIDIA GPU: BIN=target/release/gptsweep DEVICE=cuda SHAPE=lecture bash bench/kernel_census.sh
#                  (CACHE=<an XDG_CACHE_HOME whose kernel cache has the shape>: no compilation)
# SHAPE: small (n_embd 96, 2 layers, 6 heads, block 64, batch 8: the lecture's shape but
# smaller, so that lavapipe runs it in minutes; head width 16) or lecture.
# PRECISION: f32 (default) or bf16 (cuda only).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/debug/gptsweep}
DEVICE=${DEVICE:-wgpu}
SHAPE=${SHAPE:-small}
PRECISION=${PRECISION:-f32}
SHORT=${SHORT:-2}
LONG=${LONG:-4}
OUTDIR=${OUTDIR:-$(mktemp -d)}
mkdir -p "$OUTDIR"
CACHE=${CACHE:-}
# f32 is the default (and binaries older than the hyperparameter lack the flag).
PRECISION_FLAG=()
[ "$PRECISION" = f32 ] || PRECISION_FLAG=(--precision "$PRECISION")
case $SHAPE in
  small) FLAGS=(--n-embd 96 --n-head 6 --n-layer 2 --block-size 64 --batch-size 8) ;;
  lecture) FLAGS=(--n-embd 384 --n-head 6 --n-layer 6 --block-size 256 --batch-size 64) ;;
  *) echo "SHAPE: small or lecture" >&2; exit 2 ;;
esac
run() {
  local steps=$1 log=$2
  CUBECL_DEBUG_LOG="$log" CUBECL_DEBUG_OPTION=profile XDG_CACHE_HOME="$CACHE" \
    "$BIN" train --device "$DEVICE" "${FLAGS[@]}" "${PRECISION_FLAG[@]}" --dropout 0.2 \
    --max-iters "$steps" --eval-interval 1000 --eval-iters 1 --sample-length 0 \
    > "$OUTDIR/train-$steps.out" 2> "$OUTDIR/train-$steps.err" ||
    { echo "train of $steps steps failed: $OUTDIR/train-$steps.err" >&2; exit 1; }
}
echo "== kernel census: $SHAPE shape, $PRECISION, $DEVICE, steps $SHORT and $LONG, $($BIN --version)"
# The warm-up fills the kernel cache (cheap where CACHE has the shape already).
CACHE=${CACHE:-$OUTDIR/cache}
run 1 /dev/null
run "$SHORT" "$OUTDIR/cubecl-$SHORT.log"
run "$LONG" "$OUTDIR/cubecl-$LONG.log"
python3 - "$OUTDIR/cubecl-$SHORT.log" "$OUTDIR/cubecl-$LONG.log" "$((LONG - SHORT))" "$CACHE" <<'PY'
import collections, glob, json, os, re, sys

def short(name):
    """A kernel's name without its runtime and, for a matrix product, without its tiling
    details: the arguments and the algorithm families (which autotune chose)."""
    parts = [p.strip() for p in re.sub(r"<.*", "", name).split("|")]
    head, rest = parts[0], [p for p in parts[1:] if p and not p.endswith("Runtime")]
    if head == "MatmulEntry":
        rest = [p for p in rest if p.endswith("Args") or p.endswith("MatmulFamily")]
    return head + (f" ({', '.join(rest)})" if rest else "")


def census(path):
    """Launches and summed duration of each kernel (its name without generics)."""
    count, secs = collections.Counter(), collections.Counter()
    unit = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    for line in open(path, errors="replace"):
        m = re.match(r"\|\s*([0-9.]+)(ns|µs|us|ms|s)\s*\|\s*(\S.*)$", line)
        if not m:
            continue
        name = short(m.group(3))
        count[name] += 1
        secs[name] += float(m.group(1)) * unit[m.group(2)]
    return count, secs

(c1, s1), (c2, s2) = census(sys.argv[1]), census(sys.argv[2])
steps = int(sys.argv[3])
rows = []
for name in set(c1) | set(c2):
    per_step = (c2[name] - c1[name]) / steps
    if per_step > 0:
        rows.append((per_step, (s2[name] - s1[name]) / steps, name))
rows.sort(key=lambda r: (-r[0], r[2]))
total = sum(r[0] for r in rows)
print(f"{total:.0f} launches a step ({len(rows)} kernels)")
print("| launches a step | time a step (this device) | kernel |\n|---:|---:|---|")
for per_step, secs, name in rows:
    print(f"| {per_step:g} | {secs * 1e3:.2f} ms | `{name}` |")

# Which kernel autotune chose for each matrix product, from its results in the kernel cache.
print("\nmatrix products as autotune chose them (this device; median times):")
# pow2: the power of two the operands' extents and strides are multiples of (2 = lines of 4
# f32 can be read; 0 = unvectorised, as an lm_head of 65 columns was before its padding).
print("| m | n | k | lhs | rhs | pow2 lhs/rhs | types | chosen | fastest candidates |\n|---:|---:|---:|---|---|---|---|---|---|")
files = glob.glob(os.path.join(sys.argv[4], "gptsweep/kernels/autotune/**/*matmul*.json.log"), recursive=True)


def leaf(x):
    """The innermost value of a serde enum ({"Scalar": {"Float": "F32"}} -> F32)."""
    while isinstance(x, dict):
        x = next(iter(x.values()))
    return str(x)


def layout(l):
    """Contiguous, MildlyPermuted (transposed or batch-swapped: read in place) or
    HighlyPermuted (copied before the product)."""
    if isinstance(l, str):
        return l
    name, how = next(iter(l.items()))
    return name + "(" + ", ".join(k for k, v in how.items() if v) + ")"


rows = set()
for path in files:
    for line in open(path):
        entry = json.loads(line)
        key, value = entry["key"]["key"], entry["value"]
        d = key.get("definition") or key.get("matmul_key", {}).get("definition")
        if d is None:
            continue
        types = "/".join(leaf(d[e]) for e in ("elem_lhs", "elem_rhs", "elem_out"))
        ok = [r["outcome"]["Ok"] for r in value["results"] if "Ok" in r["outcome"]]
        ok.sort(key=lambda r: r["computation"]["median"]["secs"] * 1e9 + r["computation"]["median"]["nanos"])
        us = lambda r: (r["computation"]["median"]["secs"] * 1e9 + r["computation"]["median"]["nanos"]) / 1e3
        chosen = next((r["name"] for r in ok if r["index"] == value["fastest_index"]), "?")
        others = ", ".join(f"{r['name']} {us(r):.0f} us" for r in ok[:4])
        pow2 = f"{d['lhs_pow2_factor']}/{d['rhs_pow2_factor']}"
        rows.add((d["m"], d["n"], d["k"], layout(d["matrix_layout_lhs"]), layout(d["matrix_layout_rhs"]), pow2, types, chosen, others))
for row in sorted(rows):
    print("| " + " | ".join(map(str, row)) + " |")
PY
echo "raw logs: $OUTDIR"
