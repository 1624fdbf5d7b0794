#!/usr/bin/env python3
"""Replay benchmark summary: turns the CSVs written by the replay simulators (optuna_replay.py
and gptsweep's Rust simulator; columns method,seed,budget_steps,best_val_loss, one row per
method, seed and budget) into Markdown tables for comparing search methods.

- Table 1: one row per method (in order of first appearance), one column per budget; each
  cell is the median (p25-p75) over seeds of the best val_loss found within that budget.
- With --curves (the recorded table, bench/replay/curves.csv): a line with the table's global
  optimum (min over configs of the best val_loss over its evaluations) and the median over
  configs of that best (what a single random full run gets), and table 2: for each method
  and budget, the fraction of seeds that found the global optimum.

Usage: python3 bench/replay/summarize.py [--curves bench/replay/curves.csv] RESULTS.csv... (- for stdin)
Standard library only.
"""
import argparse
import csv
import math
import statistics
import sys

HPARAMS = ["block_size", "n_embd", "n_head", "n_layer", "dropout", "lr"]
# Table values have 5 decimals; a result within half a unit of the last one is the optimum
# (tolerates simulators that print or store values less exactly).
OPT_TOLERANCE = 5e-6


def percentile(values, q):
    """Linear interpolation between closest ranks, like numpy.percentile's default."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def read_results(paths):
    """{method: {budget: [best_val_loss per seed]}}, methods in order of first appearance."""
    results = {}
    for path in paths:
        f = sys.stdin if path == "-" else open(path, newline="")
        for row in csv.DictReader(f):
            by_budget = results.setdefault(row["method"], {})
            by_budget.setdefault(int(row["budget_steps"]), []).append(float(row["best_val_loss"]))
        if f is not sys.stdin:
            f.close()
    return results


def read_curves(path):
    """[(best val_loss over its evaluations, config description)] for every config in the table."""
    best, desc = {}, {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            c = row["config"]
            best[c] = min(best.get(c, math.inf), float(row["val_loss"]))
            desc[c] = ", ".join(f"{k}={row[k]}" for k in HPARAMS)
    return [(best[c], f"config {c}: {desc[c]}") for c in best]


def markdown(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="+", help="CSV files of results, - for stdin")
    ap.add_argument("--curves", help="the recorded table, to compute the global optimum")
    args = ap.parse_args()

    results = read_results(args.results)
    budgets = sorted({b for by_budget in results.values() for b in by_budget})
    header = ["method"] + [f"{b} steps" for b in budgets]

    rows = []
    for method, by_budget in results.items():
        row = [method]
        for b in budgets:
            v = by_budget.get(b)
            row.append(f"{statistics.median(v):.4f} ({percentile(v, 25):.4f}-{percentile(v, 75):.4f})" if v else "-")
        rows.append(row)
    n_seeds = sorted({len(v) for by_budget in results.values() for v in by_budget.values()})
    print(f"Best val_loss found within each budget: median (p25-p75) over seeds ({'/'.join(map(str, n_seeds))} seeds).\n")
    print(markdown(header, rows))

    if args.curves:
        configs = read_curves(args.curves)
        opt, opt_desc = min(configs)
        median_run = statistics.median(b for b, _ in configs)
        print(f"\nGlobal optimum of the table: {opt:.5f} ({opt_desc}). Median over the {len(configs)} configs "
              f"of a full run's best val_loss (a single random full run): {median_run:.4f}.\n")
        rows = []
        for method, by_budget in results.items():
            row = [method]
            for b in budgets:
                v = by_budget.get(b)
                hits = sum(abs(x - opt) <= OPT_TOLERANCE for x in v) if v else 0
                row.append(f"{hits / len(v):.2f} ({hits}/{len(v)})" if v else "-")
            rows.append(row)
        print("Fraction of seeds that found the global optimum within each budget.\n")
        print(markdown(header, rows))


if __name__ == "__main__":
    main()
