//! The replay benchmark's simulator (BENCHMARKS.md, "Search: replay against Optuna"):
//! gptsweep's own planner (`random_run`, `plan_next` with its tpe model) and early
//! termination rule
//! (`EarlyTerminate::verdict` on best-so-far values, as the store's rungs judge) run
//! against a table of learning curves recorded once (bench/replay/curves.csv), with K
//! simulated workers on a simulated clock and no training. The protocol is the one
//! bench/replay/optuna_replay.py gives Optuna, so the two compare:
//!
//! - time advances in ticks; in each, workers 0..K-1 in turn report their run's next
//!   evaluation (the table's val_loss at step 25 e), each report costing 25 steps;
//! - after a report the rung may stop the run; a run also ends at its 12th evaluation; a
//!   worker whose run ended gets a new one at once (the others' runs still pending, so tpe
//!   counts them as its constant liar does);
//! - the best found at a budget of B steps is the lowest val_loss of every report made
//!   while at most B steps had been trained.
//!
//! Run:
//!
//!   cargo run --release --example replay -- --curves bench/replay/curves.csv \
//!       --space bench/replay/space.yaml [--workers 4] [--seeds 20] [--methods random,tpe+asha]
//!
//! Prints CSV `method,seed,budget_steps,best_val_loss` (bench/replay/summarize.py reads it).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde_json::Value;

use gptsweep_coordinator::sweep::tpe::{Trial, TrialStatus};
use gptsweep_coordinator::sweep::{
    CorpusShapes, EarlyTerminate, SweepSpec, Verdict, parse_sweep, plan_next, random_run,
};

/// Steps between evaluations in the table.
const STEPS_PER_EVAL: u64 = 25;
/// Budgets reported, in steps (4, 8, 16, 32 and 64 whole runs of 300 steps).
const BUDGETS: [u64; 5] = [1200, 2400, 4800, 9600, 19200];
/// The swept hyperparameters, in the table's column order.
const KEYS: [&str; 6] = ["block_size", "n_embd", "n_head", "n_layer", "dropout", "lr"];

/// The recorded val_loss curves, by configuration.
struct Table {
    curves: HashMap<Vec<u64>, Vec<f64>>,
    evals: usize,
}

impl Table {
    fn read(path: &str) -> Table {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
        let keys: Vec<usize> = KEYS.iter().map(|k| col(k)).collect();
        let (step, val) = (col("step"), col("val_loss"));
        let mut points: HashMap<Vec<u64>, BTreeMap<u64, f64>> = HashMap::new();
        for line in lines {
            let cells: Vec<&str> = line.split(',').collect();
            let num = |i: usize| cells[i].parse::<f64>().expect("a number");
            let key = keys.iter().map(|i| num(*i).to_bits()).collect();
            points
                .entry(key)
                .or_default()
                .insert(num(step) as u64, num(val));
        }
        let curves: HashMap<Vec<u64>, Vec<f64>> = points
            .into_iter()
            .map(|(k, c)| (k, c.into_values().collect()))
            .collect();
        let evals = curves
            .values()
            .map(Vec::len)
            .min()
            .expect("a configuration");
        assert!(
            curves.values().all(|c| c.len() == evals),
            "every configuration needs the same evaluations"
        );
        Table { curves, evals }
    }

    fn curve(&self, swept: &BTreeMap<String, Value>) -> &[f64] {
        let key: Vec<u64> = KEYS
            .iter()
            .map(|k| swept[*k].as_f64().expect("numbers").to_bits())
            .collect();
        self.curves
            .get(&key)
            .unwrap_or_else(|| panic!("{swept:?} is not in the table"))
    }
}

/// One simulated sweep: `method` is random or tpe, with or without early termination.
fn simulate(table: &Table, space: &str, method: &str, seed: u64, workers: usize) -> Vec<f64> {
    let (search, asha) = match method.strip_suffix("+asha") {
        Some(m) => (m, true),
        None => (method, false),
    };
    let mut yaml = space.replace(
        "method: grid",
        &format!("method: {search}\nrun_cap: 10000\nseed: {seed}"),
    );
    if asha {
        yaml += "early_terminate: {type: hyperband, min_iter: 1, eta: 3}\n";
    }
    let spec: SweepSpec = parse_sweep("space.yaml", &yaml).unwrap_or_else(|e| panic!("{e}"));
    let shapes = CorpusShapes::chars(65, 1 << 30);
    let rungs = spec
        .early_terminate
        .map(|e: EarlyTerminate| e.rungs(table.evals as u64))
        .unwrap_or_default();

    let mut trials: Vec<Trial> = Vec::new();
    let mut held: Vec<usize> = Vec::with_capacity(workers);
    let next = |trials: &mut Vec<Trial>| -> usize {
        let index = trials.len();
        let run = if search == "tpe" {
            plan_next(&spec, index, trials, &shapes).map(|(run, _)| run)
        } else {
            random_run(&spec, index, &shapes)
        }
        .unwrap_or_else(|e| panic!("{e}"));
        trials.push(Trial {
            swept: run.swept,
            status: TrialStatus::Pending,
            curve: Vec::new(),
        });
        index
    };
    for _ in 0..workers {
        held.push(next(&mut trials));
    }
    let (mut steps, mut best, mut found) = (0u64, f64::INFINITY, Vec::new());
    while found.len() < BUDGETS.len() {
        for slot in held.iter_mut() {
            let t = *slot;
            let e = trials[t].curve.len();
            let value = table.curve(&trials[t].swept)[e];
            trials[t].curve.push(value);
            steps += STEPS_PER_EVAL;
            best = best.min(value);
            if BUDGETS.get(found.len()) == Some(&steps) {
                found.push(best);
                if found.len() == BUDGETS.len() {
                    break;
                }
            }
            let done = e + 1 == table.evals;
            let stopped = asha && rungs.contains(&((e + 1) as u64)) && {
                let r = e + 1;
                let best_to = |c: &[f64]| c[..r].iter().copied().fold(f64::INFINITY, f64::min);
                let recorded: Vec<f64> = trials
                    .iter()
                    .filter(|x| x.curve.len() >= r)
                    .map(|x| best_to(&x.curve))
                    .collect();
                let et = spec.early_terminate.expect("asha");
                matches!(
                    et.verdict(best_to(&trials[t].curve), &recorded, spec.metric.goal),
                    Verdict::Stop { .. }
                )
            };
            if done || stopped {
                trials[t].status = if done {
                    TrialStatus::Finished
                } else {
                    TrialStatus::Stopped
                };
                *slot = next(&mut trials);
            }
        }
    }
    found
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
            .unwrap_or_else(|| default.to_string())
    };
    let table = Table::read(&flag("--curves", "bench/replay/curves.csv"));
    let space = std::fs::read_to_string(flag("--space", "bench/replay/space.yaml"))
        .expect("the space file");
    let workers: usize = flag("--workers", "4").parse().expect("--workers N");
    let seeds: u64 = flag("--seeds", "20").parse().expect("--seeds N");
    let methods = flag("--methods", "random,random+asha,tpe,tpe+asha");
    println!("method,seed,budget_steps,best_val_loss");
    for method in methods.split(',') {
        let start = Instant::now();
        for seed in 0..seeds {
            for (budget, best) in BUDGETS
                .iter()
                .zip(simulate(&table, &space, method, seed, workers))
            {
                println!("{method},{seed},{budget},{best:.5}");
            }
        }
        eprintln!(
            "{method}: {seeds} seeds in {:.1}s",
            start.elapsed().as_secs_f64()
        );
    }
}
