//! From a sweep file's text to a checked [`SweepSpec`]: every rule of SPEC.md's "rules a
//! user can rely on", each failure a [`Diagnostic`] at the offending line and column.
//! Nothing here touches the store: a file that fails leaves no trace.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};

use gptsweep_gpt::config::HYPERPARAM_NAMES;
use gptsweep_gpt::corpus::{BUILTIN_TINYSHAKESPEARE, is_builtin};
use gptsweep_gpt::sample::SamplesSpec;
use gptsweep_gpt::{Hyperparams, SampleOptions};

use super::diagnostic::{Diagnostic, SpecErrors};
use super::early::EarlyTerminate;
use super::file::{ParamFile, Scalar, SweepFile};
use super::param::{Distribution, Param};

pub use gptsweep_api::{Goal, Method, MetricName};

/// What ranks runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    /// `val_loss` or `train_loss`.
    pub name: MetricName,
    /// Direction.
    pub goal: Goal,
}

/// Where the corpus comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetRef {
    /// Compiled into every gptsweep binary.
    Builtin(String),
    /// A file on the submitting machine, uploaded to the coordinator.
    Path(String),
}

/// A validated sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    /// Unique name.
    pub name: String,
    /// The corpus.
    pub dataset: DatasetRef,
    /// Search method.
    pub method: Method,
    /// Ranking metric.
    pub metric: Metric,
    /// Most runs to plan (grid: all points when absent).
    pub run_cap: Option<usize>,
    /// Seed of the search.
    pub seed: u64,
    /// Swept parameters by name.
    pub parameters: BTreeMap<String, Param>,
    /// Hyperparameters of every run before the swept ones are applied.
    pub base: Hyperparams,
    /// Samples of each finished run.
    pub samples: SamplesSpec,
    /// Largest training memory estimate accepted, bytes.
    pub max_memory_bytes: u64,
    /// Stop runs that fall behind at the rungs (absent in sweeps stored before it existed).
    #[serde(default)]
    pub early_terminate: Option<EarlyTerminate>,
}

/// Hard limit on planned runs, whatever the file says.
pub const MAX_RUNS: usize = 10_000;

struct Checker {
    diags: Vec<Diagnostic>,
}

impl Checker {
    fn err(&mut self, loc: Location, msg: impl Into<String>) {
        self.diags.push(Diagnostic::at(loc, msg));
    }
}

/// Applies `overrides` (hyperparameter name -> JSON value) to `base`; the error names the
/// first field whose value has the wrong type.
pub fn apply(
    base: &Hyperparams,
    overrides: &BTreeMap<String, serde_json::Value>,
) -> Result<Hyperparams, (String, String)> {
    let mut obj = serde_json::to_value(base).expect("hyperparams serialise");
    let map = obj.as_object_mut().expect("hyperparams are an object");
    for (k, v) in overrides {
        map.insert(k.clone(), v.clone());
        if let Err(e) =
            serde_json::from_value::<Hyperparams>(serde_json::Value::Object(map.clone()))
        {
            let msg = e.to_string();
            let msg = msg.split(" at line").next().unwrap_or(&msg).to_string();
            return Err((k.clone(), format!("{k}: {v} is not a valid value ({msg})")));
        }
    }
    Ok(serde_json::from_value(obj).expect("checked above"))
}

fn stem(file_name: &str) -> String {
    std::path::Path::new(file_name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".into())
}

/// Parses and checks a sweep file. `file_name` names it in diagnostics and gives the
/// default sweep name.
pub fn parse_sweep(file_name: &str, yaml: &str) -> Result<SweepSpec, SpecErrors> {
    let fail = |diagnostics| SpecErrors {
        file: file_name.to_string(),
        diagnostics,
    };
    let file: SweepFile = serde_saphyr::from_str(yaml).map_err(|e| {
        let msg = e.to_string();
        let first = msg.lines().next().unwrap_or("invalid YAML").trim();
        // serde-saphyr says "error: line L column C: ..."; the diagnostic carries the position.
        let first = match first.strip_prefix("error: line ") {
            Some(rest) if rest.contains("column ") => {
                rest.split_once(": ").map(|(_, m)| m).unwrap_or(first)
            }
            _ => first,
        }
        .to_string();
        let d = match e.location() {
            Some(loc) => Diagnostic::at(loc, first),
            None => Diagnostic::whole(first),
        };
        fail(vec![d])
    })?;
    let mut c = Checker { diags: Vec::new() };
    let spec = check(&mut c, file_name, file);
    if c.diags.is_empty() {
        Ok(spec.expect("no diagnostics means a spec"))
    } else {
        c.diags.sort_by_key(|d| (d.line, d.column));
        Err(fail(c.diags))
    }
}

fn check(c: &mut Checker, file_name: &str, f: SweepFile) -> Option<SweepSpec> {
    let name = match &f.name {
        Some(n)
            if n.value.trim().is_empty()
                || n.value.len() > 100
                || n.value.chars().any(|ch| ch.is_control() || ch == '/') =>
        {
            c.err(
                n.referenced,
                format!(
                    "name: {:?} must be 1-100 characters without '/' or control characters",
                    n.value
                ),
            );
            String::new()
        }
        Some(n) if n.value.parse::<i64>().is_ok() => {
            c.err(
                n.referenced,
                format!(
                    "name: {:?} must not be a number (numbers refer to sweep ids)",
                    n.value
                ),
            );
            String::new()
        }
        Some(n) => n.value.clone(),
        None => stem(file_name),
    };
    let dataset = match &f.dataset {
        None => DatasetRef::Builtin(BUILTIN_TINYSHAKESPEARE.into()),
        Some(d) if is_builtin(&d.value) => DatasetRef::Builtin(d.value.clone()),
        Some(d) if d.value.trim().is_empty() => {
            c.err(
                d.referenced,
                "dataset: must name a built-in corpus (tinyshakespeare) or a file",
            );
            DatasetRef::Builtin(String::new())
        }
        Some(d) => DatasetRef::Path(d.value.clone()),
    };
    if let Some(t) = &f.tokenizer {
        match t.value.as_str() {
            "char" => {}
            "gpt2" => c.err(
                t.referenced,
                "tokenizer: gpt2 (BPE) is not built yet; use char",
            ),
            other => c.err(
                t.referenced,
                format!("tokenizer: unknown tokenizer {other:?}; expected char"),
            ),
        }
    }
    let method = match f.method.value.as_str() {
        "grid" => Some(Method::Grid),
        "random" => Some(Method::Random),
        "tpe" | "bayes" => {
            c.err(
                f.method.referenced,
                format!(
                    "method: {} is not built yet; use grid or random",
                    f.method.value
                ),
            );
            None
        }
        other => {
            c.err(
                f.method.referenced,
                format!("method: unknown method {other:?}; expected grid or random"),
            );
            None
        }
    };
    let metric = check_metric(c, &f);
    let early_terminate = check_early_terminate(c, &f);
    let run_cap = match &f.run_cap {
        Some(r) if r.value < 1 || r.value as usize > MAX_RUNS => {
            c.err(
                r.referenced,
                format!("run_cap: {} must be between 1 and {MAX_RUNS}", r.value),
            );
            None
        }
        Some(r) => Some(r.value as usize),
        None => {
            if method == Some(Method::Random) {
                c.err(
                    f.method.referenced,
                    "run_cap: required when method is random",
                );
            }
            None
        }
    };
    let base = check_train(c, &f);
    let parameters = check_parameters(c, &f, &base, method);
    let samples = check_samples(c, &f);
    let max_memory_bytes = match &f.max_memory_gb {
        Some(m) if !(m.value.is_finite() && m.value > 0.0) => {
            c.err(
                m.referenced,
                format!("max_memory_gb: {} must be > 0", m.value),
            );
            0
        }
        Some(m) => (m.value * (1u64 << 30) as f64) as u64,
        None => 80 << 30,
    };
    Some(SweepSpec {
        name,
        dataset,
        method: method?,
        metric,
        run_cap,
        seed: f.seed.as_ref().map(|s| s.value).unwrap_or(base.seed),
        parameters,
        base,
        samples,
        max_memory_bytes,
        early_terminate,
    })
}

fn check_early_terminate(c: &mut Checker, f: &SweepFile) -> Option<EarlyTerminate> {
    let e = &f.early_terminate.as_ref()?.value;
    if e.kind.value != "hyperband" {
        c.err(
            e.kind.referenced,
            format!(
                "early_terminate.type: {:?} is not supported; expected hyperband",
                e.kind.value
            ),
        );
    }
    for (key, v) in [
        ("max_iter", &e.max_iter),
        ("s", &e.s),
        ("strict", &e.strict),
    ] {
        if let Some(v) = v {
            c.err(
                v.referenced,
                format!("early_terminate.{key}: not supported; give min_iter (and eta)"),
            );
        }
    }
    let min_iter = match &e.min_iter {
        Some(m) if m.value >= 1 => Some(m.value as u64),
        Some(m) => {
            c.err(
                m.referenced,
                format!("early_terminate.min_iter: {} must be >= 1", m.value),
            );
            None
        }
        None => {
            c.err(
                e.kind.referenced,
                "early_terminate.min_iter: required (the step of the first rung)",
            );
            None
        }
    };
    let eta = match &e.eta {
        Some(x) if x.value >= 2 => x.value as u64,
        Some(x) => {
            c.err(
                x.referenced,
                format!("early_terminate.eta: {} must be >= 2", x.value),
            );
            3
        }
        None => 3,
    };
    Some(EarlyTerminate {
        min_iter: min_iter?,
        eta,
    })
}

fn check_metric(c: &mut Checker, f: &SweepFile) -> Metric {
    let mut metric = Metric {
        name: MetricName::ValLoss,
        goal: Goal::Minimize,
    };
    if let Some(m) = &f.metric {
        match m.value.name.value.parse() {
            Ok(name) => metric.name = name,
            Err(_) => c.err(
                m.value.name.referenced,
                format!(
                    "metric.name: unknown metric {:?}; expected val_loss or train_loss",
                    m.value.name.value
                ),
            ),
        }
        if let Some(g) = &m.value.goal {
            match g.value.as_str() {
                "minimize" => metric.goal = Goal::Minimize,
                "maximize" => metric.goal = Goal::Maximize,
                other => c.err(
                    g.referenced,
                    format!("metric.goal: {other:?} must be minimize or maximize"),
                ),
            }
        }
    }
    metric
}

fn check_train(c: &mut Checker, f: &SweepFile) -> Hyperparams {
    let defaults = Hyperparams::default();
    let Some(train) = &f.train else {
        return defaults;
    };
    let mut overrides = BTreeMap::new();
    let mut locs = BTreeMap::new();
    for (k, v) in &train.value {
        if !HYPERPARAM_NAMES.contains(&k.as_str()) {
            c.err(
                v.referenced,
                format!(
                    "train.{k}: unknown hyperparameter; known: {}",
                    HYPERPARAM_NAMES.join(", ")
                ),
            );
            continue;
        }
        overrides.insert(k.clone(), v.value.to_json());
        locs.insert(k.clone(), v.referenced);
    }
    match apply(&defaults, &overrides) {
        Ok(hp) => hp,
        Err((field, msg)) => {
            c.err(locs[&field], format!("train.{msg}"));
            defaults
        }
    }
}

fn scalar_list(v: &Spanned<Vec<Scalar>>) -> Vec<serde_json::Value> {
    v.value.iter().map(Scalar::to_json).collect()
}

fn check_param(
    c: &mut Checker,
    name: &str,
    p: &Spanned<ParamFile>,
    base: &Hyperparams,
    method: Option<Method>,
) -> Option<Param> {
    let loc = p.referenced;
    let pf = &p.value;
    let dist = match &pf.distribution {
        Some(d) => match Distribution::parse(&d.value) {
            Some(x) => Some(x),
            None => {
                c.err(d.referenced, format!("parameters.{name}.distribution: unknown {:?}; expected uniform, int_uniform, log_uniform_values or categorical", d.value));
                return None;
            }
        },
        None => None,
    };
    let kinds = [
        pf.value.is_some(),
        pf.values.is_some(),
        pf.min.is_some() || pf.max.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        c.err(
            loc,
            format!("parameters.{name}: give exactly one of value, values, or min and max"),
        );
        return None;
    }
    let param = if let Some(v) = &pf.value {
        Param::Value(v.value.to_json())
    } else if let Some(vs) = &pf.values {
        if vs.value.is_empty() {
            c.err(
                vs.referenced,
                format!("parameters.{name}.values: must not be empty"),
            );
            return None;
        }
        if let Some(d) = dist.filter(|d| *d != Distribution::Categorical) {
            c.err(
                vs.referenced,
                format!("parameters.{name}: distribution {d:?} needs min and max, not values"),
            );
            return None;
        }
        Param::Values(scalar_list(vs))
    } else {
        let (Some(min), Some(max)) = (&pf.min, &pf.max) else {
            c.err(
                loc,
                format!("parameters.{name}: a range needs both min and max"),
            );
            return None;
        };
        let (Some(lo), Some(hi)) = (min.value.as_f64(), max.value.as_f64()) else {
            c.err(
                min.referenced,
                format!("parameters.{name}: min and max must be numbers"),
            );
            return None;
        };
        if !lo.is_finite() || !hi.is_finite() {
            c.err(
                min.referenced,
                format!("parameters.{name}: min and max must be finite, got {lo} and {hi}"),
            );
            return None;
        }
        if lo > hi {
            c.err(
                min.referenced,
                format!("parameters.{name}: min {lo} is greater than max {hi}"),
            );
            return None;
        }
        let both_int = matches!((&min.value, &max.value), (Scalar::Int(_), Scalar::Int(_)));
        let distribution = dist.unwrap_or(if both_int {
            Distribution::IntUniform
        } else {
            Distribution::Uniform
        });
        match distribution {
            Distribution::Categorical => {
                c.err(
                    loc,
                    format!("parameters.{name}: categorical needs values, not min and max"),
                );
                return None;
            }
            Distribution::LogUniformValues if lo <= 0.0 => {
                c.err(
                    min.referenced,
                    format!("parameters.{name}: log_uniform_values needs min > 0, got {lo}"),
                );
                return None;
            }
            Distribution::IntUniform if !both_int => {
                c.err(
                    min.referenced,
                    format!("parameters.{name}: int_uniform needs integer min and max"),
                );
                return None;
            }
            _ => {}
        }
        Param::Range {
            min: lo,
            max: hi,
            distribution,
        }
    };
    if let Param::Range {
        min,
        max,
        distribution: Distribution::IntUniform,
    } = &param
        && method == Some(Method::Grid)
        && (*max as i128 - *min as i128 + 1) > MAX_RUNS as i128
    {
        c.err(
            loc,
            format!(
                "parameters.{name}: a grid over [{min}, {max}] has more than {MAX_RUNS} values"
            ),
        );
        return None;
    }
    if method == Some(Method::Grid) && param.grid_values().is_none() {
        c.err(loc, format!("parameters.{name}: a grid cannot enumerate a continuous range; give values, or int_uniform bounds"));
        return None;
    }
    // Every listed value must have the hyperparameter's type.
    let candidates: Vec<serde_json::Value> = match &param {
        Param::Value(v) => vec![v.clone()],
        Param::Values(vs) => vs.clone(),
        Param::Range {
            min,
            max,
            distribution,
        } => {
            if *distribution == Distribution::IntUniform {
                vec![(*min as i64).into(), (*max as i64).into()]
            } else {
                vec![(*min).into(), (*max).into()]
            }
        }
    };
    for v in candidates {
        let one = BTreeMap::from([(name.to_string(), v)]);
        if let Err((_, msg)) = apply(base, &one) {
            c.err(loc, format!("parameters.{msg}"));
            return None;
        }
    }
    Some(param)
}

fn check_parameters(
    c: &mut Checker,
    f: &SweepFile,
    base: &Hyperparams,
    method: Option<Method>,
) -> BTreeMap<String, Param> {
    let mut out = BTreeMap::new();
    let Some(params) = &f.parameters else {
        return out;
    };
    for (name, p) in &params.value {
        if !HYPERPARAM_NAMES.contains(&name.as_str()) {
            c.err(
                p.referenced,
                format!(
                    "parameters.{name}: unknown hyperparameter; known: {}",
                    HYPERPARAM_NAMES.join(", ")
                ),
            );
            continue;
        }
        if let Some(param) = check_param(c, name, p, base, method) {
            out.insert(name.clone(), param);
        }
    }
    out
}

fn check_samples(c: &mut Checker, f: &SweepFile) -> SamplesSpec {
    let mut spec = SamplesSpec {
        count: 1,
        options: SampleOptions {
            length: 300,
            ..SampleOptions::default()
        },
    };
    let Some(s) = &f.samples else { return spec };
    let s = &s.value;
    if let Some(p) = &s.prompt {
        spec.options.prompt = p.value.clone();
    }
    if let Some(l) = &s.length {
        if !(1..=100_000).contains(&l.value) {
            c.err(
                l.referenced,
                format!("samples.length: {} must be between 1 and 100000", l.value),
            );
        }
        spec.options.length = l.value.max(0) as usize;
    }
    if let Some(t) = &s.temperature {
        if !(t.value.is_finite() && t.value > 0.0) {
            c.err(
                t.referenced,
                format!("samples.temperature: {} must be > 0", t.value),
            );
        }
        spec.options.temperature = t.value;
    }
    if let Some(k) = &s.top_k {
        if k.value < 1 {
            c.err(
                k.referenced,
                format!("samples.top_k: {} must be >= 1", k.value),
            );
        }
        spec.options.top_k = Some(k.value.max(1) as usize);
    }
    if let Some(n) = &s.count {
        if !(0..=16).contains(&n.value) {
            c.err(
                n.referenced,
                format!("samples.count: {} must be between 0 and 16", n.value),
            );
        }
        spec.count = n.value.clamp(0, 16) as usize;
    }
    if let Some(seed) = &s.seed {
        spec.options.seed = seed.value;
    }
    spec
}
