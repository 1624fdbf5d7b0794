#!/usr/bin/env python3
"""Replay benchmark, Optuna side: run Optuna's TPE with and without successive halving on the
table of learning curves recorded by record.sh (bench/replay/curves.csv). Nothing is trained.
A Rust simulator replays gptsweep's own search on the same table under the same protocol, so
the two outputs can be compared (summarize.py prints them side by side).

Protocol (shared with the Rust simulator; keep the two in step):
- K simulated workers (default 4), each holding one trial (a config). At the start workers
  0..K-1 each ask the sampler for a trial, in order.
- Time advances in ticks. In each tick workers 0..K-1, in order, report their trial's next
  evaluation e = 1..12, whose value is the config's val_loss at step 25*e. Each report first
  adds 25 steps to the budget spent.
- After a report the pruner may stop the trial; a trial also ends after its 12th evaluation
  (final value = its best val_loss). A worker whose trial ended asks for a new one at once,
  within the tick, while the other workers' trials are still RUNNING (constant liar sees them).
- Best found = the minimum val_loss over every report so far. For each budget B (1200, 2400,
  4800, 9600, 19200 steps = 4..64 full runs) record the best found over the reports made with
  at most B steps spent; stop once 19200 steps are spent. A config proposed again is trained
  (and paid for) again.

Usage:
  bench/.venv/bin/python bench/replay/optuna_replay.py --curves bench/replay/curves.csv \\
      [--workers 4] [--seeds 20] [--methods optuna-tpe,optuna-tpe+sha] > results.csv
Writes CSV `method,seed,budget_steps,best_val_loss` to stdout, progress to stderr.
"""
import argparse
import csv
import sys
import time
import warnings

import optuna

SPACE = {  # in suggestion order
    "block_size": [16, 32],
    "n_embd": [32, 64],
    "n_head": [2, 4],
    "n_layer": [1, 2, 4],
    "dropout": [0.0, 0.2],
    "lr": [1e-3, 3e-3, 1e-2, 3e-2],
}
EVAL_EVERY = 25  # steps between evaluations
N_EVALS = 12  # evaluations per full run (300 steps)
BUDGETS = [1200, 2400, 4800, 9600, 19200]  # steps: 4, 8, 16, 32, 64 full runs


def load_curves(path):
    """{config key: [val_loss at steps 25, 50, ..., 300]}; the key is the tuple of the 6
    hyperparameter values as floats, in SPACE order."""
    curves, names = {}, {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = tuple(float(row[name]) for name in SPACE)
            curves.setdefault(key, {})[int(row["step"])] = float(row["val_loss"])
            names[key] = ", ".join(f"{name}={row[name]}" for name in SPACE)
    steps = [EVAL_EVERY * e for e in range(1, N_EVALS + 1)]
    table = {}
    for key, by_step in curves.items():
        if sorted(by_step) != steps:
            sys.exit(f"{path}: config {names[key]} has evaluations at steps {sorted(by_step)}, expected {steps}")
        table[key] = [by_step[s] for s in steps]
    return table


def make_study(method, seed):
    sampler = optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=seed)
    if method == "optuna-tpe":
        pruner = optuna.pruners.NopPruner()
    elif method == "optuna-tpe+sha":
        # Rungs at evaluations 1, 3, 9: gptsweep's `early_terminate: {type: hyperband, min_iter: 1, eta: 3}`.
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, min_early_stopping_rate=0)
    else:
        sys.exit(f"unknown method {method!r} (known: optuna-tpe, optuna-tpe+sha)")
    return optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner)


def run(method, seed, table, workers):
    """Simulates one search; returns ({budget: best found}, number of trials, distinct configs)."""
    study = make_study(method, seed)
    tried = set()

    def ask():
        trial = study.ask()
        params = {name: trial.suggest_categorical(name, choices) for name, choices in SPACE.items()}
        key = tuple(float(v) for v in params.values())
        if key not in table:
            sys.exit(f"config {params} proposed by {method} (seed {seed}) is missing from the curves table")
        tried.add(key)
        return {"trial": trial, "curve": table[key], "e": 0}

    slots = [ask() for _ in range(workers)]
    spent, best, results = 0, float("inf"), {}
    while spent < BUDGETS[-1]:
        for w in range(workers):
            slot = slots[w]
            trial, curve = slot["trial"], slot["curve"]
            slot["e"] += 1
            e = slot["e"]
            value = curve[e - 1]
            spent += EVAL_EVERY
            best = min(best, value)
            for b in BUDGETS:
                if spent <= b:
                    results[b] = best
            if spent >= BUDGETS[-1]:
                break
            trial.report(value, step=e)
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            elif e == N_EVALS:
                study.tell(trial, min(curve))
            else:
                continue
            slots[w] = ask()
    return results, len(study.trials), len(tried)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--curves", required=True, help="the recorded table (bench/replay/curves.csv)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=20, help="runs seeds 0..SEEDS-1")
    ap.add_argument("--methods", default="optuna-tpe,optuna-tpe+sha")
    args = ap.parse_args()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    table = load_curves(args.curves)
    print(f"optuna {optuna.__version__}; {len(table)} configs in {args.curves}", file=sys.stderr)

    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["method", "seed", "budget_steps", "best_val_loss"])
    for method in args.methods.split(","):
        start = time.perf_counter()
        distinct = []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            results, n_trials, n_distinct = run(method, seed, table, args.workers)
            distinct.append(n_distinct)
            for b in BUDGETS:
                out.writerow([method, seed, b, repr(results[b])])
            sys.stdout.flush()
            print(f"{method} seed {seed}: best {results[BUDGETS[-1]]:.5f}, {n_trials} trials, "
                  f"{n_distinct} distinct configs, {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        wall = time.perf_counter() - start
        print(f"{method}: {args.seeds} seeds in {wall:.1f}s ({wall / args.seeds:.1f}s/seed); distinct configs "
              f"per run: mean {sum(distinct) / len(distinct):.1f}, min {min(distinct)}, max {max(distinct)}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
