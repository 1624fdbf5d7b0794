//! Planning: a checked spec becomes concrete runs. Grid enumerates the cartesian product
//! (parameters in name order) and refuses points that are not buildable models, naming
//! them; random draws `run_cap` points, drawing again when a point is not buildable. Tpe
//! plans its `n_startup` random runs at submit, the same draws random search makes, and
//! each later run one at a time ([`plan_next`]) from the results so far.

use std::collections::BTreeMap;

use gptsweep_core::Hyperparams;
use gptsweep_core::rng::{Rng, Stream};

use super::diagnostic::{Diagnostic, SpecErrors};
use super::metric::Method;
use super::shape::{CorpusShapes, Shape};
use super::spec::{MAX_RUNS, SweepSpec};
use super::tpe::{self, Decision, Space, Trial};

/// One run to be queued.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    /// Position in the sweep, from 0.
    pub index: usize,
    /// Every hyperparameter of the run.
    pub hyperparams: Hyperparams,
    /// Only the swept ones, by name.
    pub swept: BTreeMap<String, serde_json::Value>,
}

/// Draws per run before random search gives up on finding a buildable model.
const MAX_DRAWS: usize = 1000;

/// Why a point cannot run on this corpus, if it cannot.
fn point_problem(spec: &SweepSpec, hp: &Hyperparams, shapes: &CorpusShapes) -> Option<String> {
    if let Err(e) = hp.validate() {
        return Some(e.to_string());
    }
    let Some(Shape {
        vocab_size,
        shortest_split,
    }) = shapes.of(hp.tokenizer)
    else {
        return Some(format!(
            "the corpus was not measured for tokenizer {} at submit",
            hp.tokenizer
        ));
    };
    if hp.block_size + 1 > shortest_split {
        return Some(format!(
            "block_size = {} needs splits of at least {} tokens; the dataset's shortest split has {shortest_split} {} tokens",
            hp.block_size,
            hp.block_size + 1,
            hp.tokenizer
        ));
    }
    let model = hp.model_config(vocab_size);
    let bytes = model.training_bytes(hp.batch_size);
    if bytes > spec.max_memory_bytes {
        return Some(format!(
            "needs about {:.1} GiB to train ({} parameters, batch {} x {} tokens), over max_memory_gb = {:.1}",
            bytes as f64 / (1u64 << 30) as f64,
            model.num_params(),
            hp.batch_size,
            hp.block_size,
            spec.max_memory_bytes as f64 / (1u64 << 30) as f64
        ));
    }
    None
}

/// Run `index` with hyperparameters `swept`, if it is a buildable model on this corpus.
fn build(
    spec: &SweepSpec,
    index: usize,
    swept: BTreeMap<String, serde_json::Value>,
    shapes: &CorpusShapes,
) -> Result<PlannedRun, String> {
    let hp = spec
        .base
        .with_overrides(&swept)
        .map_err(|e| format!("{}: {e}", show(&swept)))?;
    match point_problem(spec, &hp, shapes) {
        Some(why) => Err(format!("{}: {why}", show(&swept))),
        None => Ok(PlannedRun {
            index,
            hyperparams: hp,
            swept,
        }),
    }
}

/// Random search's run `index`: seeded draws until one is a buildable model. The draws
/// depend on nothing but the seed and the index, so runs added later (`extend`) continue
/// the sequence the first ones began.
pub fn random_run(
    spec: &SweepSpec,
    index: usize,
    shapes: &CorpusShapes,
) -> Result<PlannedRun, String> {
    let mut last = String::new();
    for attempt in 0..MAX_DRAWS {
        let mut rng = Rng::keyed(
            spec.seed,
            Stream::Plan,
            (index * MAX_DRAWS + attempt) as u64,
        );
        let swept: BTreeMap<String, serde_json::Value> = spec
            .parameters
            .iter()
            .map(|(k, p)| (k.clone(), p.draw(&mut rng)))
            .collect();
        match build(spec, index, swept, shapes) {
            Ok(run) => return Ok(run),
            Err(why) => last = why,
        }
    }
    Err(format!(
        "no buildable model in {MAX_DRAWS} draws for run {index}; last draw {last}"
    ))
}

/// The next run of a tpe sweep, run `index`, given every run so far (`trials`): the
/// model's proposal, or a random draw while the startup runs are under way. Answers the
/// run and how it was chosen (for the log), or why no buildable run could be found.
pub fn plan_next(
    spec: &SweepSpec,
    index: usize,
    trials: &[Trial],
    shapes: &CorpusShapes,
) -> Result<(PlannedRun, String), String> {
    let opts = spec.tpe.unwrap_or_default();
    let rungs = spec.rungs();
    let buildable = |swept: &BTreeMap<String, serde_json::Value>| {
        build(spec, index, swept.clone(), shapes).is_ok()
    };
    let decision = tpe::propose(
        &Space::of(&spec.parameters),
        &opts,
        spec.seed,
        index,
        trials,
        &rungs,
        spec.metric.goal,
        buildable,
    );
    match decision {
        Decision::Model {
            swept,
            budget,
            observed,
            below,
        } => {
            let run = build(spec, index, swept, shapes)?;
            Ok((
                run,
                format!("tpe model fit on {budget}: {observed} results, the best {below} below"),
            ))
        }
        Decision::Random(why) => {
            random_run(spec, index, shapes).map(|run| (run, format!("random draw ({why})")))
        }
    }
}

fn show(swept: &BTreeMap<String, serde_json::Value>) -> String {
    let parts: Vec<String> = swept.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// The runs a sweep queues at submit, and what planning left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Queued now.
    pub runs: Vec<PlannedRun>,
    /// Proposed later, one at a time as workers ask (tpe's runs after its startup ones).
    pub later: usize,
    /// Grid points dropped as no valid model (`skip_impossible: true`).
    pub dropped: usize,
    /// Grid points considered (grid only; 0 for random and tpe).
    pub grid_points: usize,
}

/// Plans the runs of `spec` for a corpus of `shapes`.
pub fn plan_runs(
    spec: &SweepSpec,
    file: &str,
    shapes: &CorpusShapes,
) -> Result<Vec<PlannedRun>, SpecErrors> {
    plan_sweep(spec, file, shapes).map(|p| p.runs)
}

/// Plans `spec` for a corpus of `shapes`: its runs now, those proposed later, and the
/// grid points dropped. Invalid grid points are refused grouped by their reason (one
/// problem per reason, with how many points it takes and a fix), or dropped and counted
/// with `skip_impossible: true`.
pub fn plan_sweep(spec: &SweepSpec, file: &str, shapes: &CorpusShapes) -> Result<Plan, SpecErrors> {
    let fail = |messages: Vec<String>| SpecErrors {
        file: file.to_string(),
        diagnostics: messages.into_iter().map(Diagnostic::whole).collect(),
    };
    match spec.method {
        Method::Grid => {
            let axes: Vec<(&String, Vec<serde_json::Value>)> = spec
                .parameters
                .iter()
                .map(|(k, p)| {
                    (
                        k,
                        p.grid_values()
                            .expect("grid parameters were checked to be enumerable"),
                    )
                })
                .collect();
            let total: usize = axes
                .iter()
                .map(|(_, v)| v.len())
                .fold(1usize, |a, n| a.saturating_mul(n));
            if total > MAX_RUNS && spec.run_cap.is_none() {
                return Err(fail(vec![format!(
                    "the grid has {total} points, over the limit of {}; set run_cap or use fewer values",
                    MAX_RUNS
                )]));
            }
            let take = spec.run_cap.unwrap_or(total).min(total);
            let mut runs = Vec::with_capacity(take);
            // Reason -> (points, the first of them).
            let mut bad: BTreeMap<String, (usize, usize, String)> = BTreeMap::new();
            for i in 0..take {
                let mut rest = i;
                let mut swept = BTreeMap::new();
                for (name, values) in axes.iter().rev() {
                    swept.insert((*name).clone(), values[rest % values.len()].clone());
                    rest /= values.len();
                }
                let hp = spec
                    .base
                    .with_overrides(&swept)
                    .expect("values were type-checked");
                let problem = indivisible(&hp).or_else(|| point_problem(spec, &hp, shapes));
                match problem {
                    Some(why) => {
                        let first = bad.len();
                        bad.entry(why)
                            .or_insert((0, first, format!("grid point {i} {}", show(&swept))))
                            .0 += 1;
                    }
                    None => runs.push(PlannedRun {
                        index: runs.len(),
                        hyperparams: hp,
                        swept,
                    }),
                }
            }
            let dropped: usize = bad.values().map(|b| b.0).sum();
            if dropped > 0 && (!spec.skip_impossible || runs.is_empty()) {
                let mut groups: Vec<_> = bad.into_iter().collect();
                groups.sort_by_key(|(_, (_, first, _))| *first);
                let mut messages: Vec<String> = groups
                    .into_iter()
                    .map(|(why, (n, _, example))| grouped(&why, n, take, &example))
                    .collect();
                if runs.is_empty() {
                    messages.push(format!(
                        "no grid point of {take} is a valid model: skip_impossible would leave no run"
                    ));
                } else {
                    messages.push(format!(
                        "{dropped} of {take} grid points are no valid model: change the values \
                         above, or add `skip_impossible: true` to drop them and run the other {}",
                        runs.len()
                    ));
                }
                return Err(fail(messages));
            }
            Ok(Plan {
                runs,
                later: 0,
                dropped,
                grid_points: take,
            })
        }
        Method::Random | Method::Tpe => {
            let cap = spec.run_cap.expect("random search and tpe have a run_cap");
            // Tpe's later runs are planned one at a time, as workers ask for them.
            let n = match spec.method {
                Method::Tpe => spec.tpe.unwrap_or_default().n_startup.min(cap),
                _ => cap,
            };
            let runs = (0..n)
                .map(|i| random_run(spec, i, shapes))
                .collect::<Result<Vec<_>, String>>()
                .map_err(|e| fail(vec![e]))?;
            Ok(Plan {
                runs,
                later: cap - n,
                dropped: 0,
                grid_points: 0,
            })
        }
    }
}

/// A grid point whose `n_embd` its `n_head` does not divide, in the words grouped points
/// share ("n_embd = 100 with n_head = 6"), with the nearest values that would pair.
fn indivisible(hp: &Hyperparams) -> Option<String> {
    let (e, h) = (hp.n_embd, hp.n_head);
    if h == 0 || e.is_multiple_of(h) {
        return None;
    }
    let down = e / h * h;
    let up = down + h;
    let head = (1..h).rev().find(|d| e.is_multiple_of(*d)).unwrap_or(1);
    let below = if down > 0 {
        format!("{down} or {up}")
    } else {
        up.to_string()
    };
    Some(format!(
        "n_embd = {e} with n_head = {h}: n_embd must be a multiple of n_head (n_embd = {below}, or n_head = {head}, would pair)"
    ))
}

/// One reason shared by `n` of `total` grid points, with the first of them.
fn grouped(why: &str, n: usize, total: usize, example: &str) -> String {
    let points = if total == 1 {
        "grid point"
    } else {
        "grid points"
    };
    format!("{why}: {n} of {total} {points} (the first: {example})")
}
