//! The tiny-model sweep file the end-to-end tests submit: a grid (or a tpe search) over a
//! character GPT small enough to train in seconds on a CPU. [`TinySweep::new`] starts from the `train:` block the
//! tests share ([`TINY_TRAIN`]); each test states only what it changes, and
//! [`TinySweep::yaml`] writes the file out as the tests used to spell it by hand.

use std::path::{Path, PathBuf};

/// The `train:` block every tiny sweep starts from, in the order it is written. Steps and
/// evaluation counts that tests assert follow from `max_iters` / `eval_interval`.
pub const TINY_TRAIN: [(&str, &str); 9] = [
    ("n_embd", "16"),
    ("n_head", "2"),
    ("n_layer", "1"),
    ("block_size", "16"),
    ("batch_size", "8"),
    ("dropout", "0.0"),
    ("max_iters", "20"),
    ("eval_interval", "10"),
    ("eval_iters", "2"),
];

/// A grid sweep of a tiny model, built up by test and written by [`TinySweep::yaml`].
#[derive(Debug, Clone)]
pub struct TinySweep {
    /// The sweep's name, also the file name (`NAME.yaml`).
    name: String,
    /// `method:`, `run_cap:` and `tpe:` lines, when not a grid.
    search: Option<String>,
    /// `dataset:`, when not the built-in default.
    dataset: Option<String>,
    /// `parameters:`: each swept key and its YAML list of values.
    parameters: Vec<(String, String)>,
    /// `train:`: each fixed key and its YAML value.
    train: Vec<(String, String)>,
    /// `early_terminate:` as a YAML flow mapping.
    early_terminate: Option<String>,
    /// `samples:`: each key and its YAML value; empty leaves the key out.
    samples: Vec<(String, String)>,
    /// `metric:`'s name, when not the default val_loss.
    metric: Option<String>,
}

/// A value as a sweep file writes it.
pub trait Scalar {
    /// The YAML text of the value.
    fn yaml(&self) -> String;
}

macro_rules! integer_scalar {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            fn yaml(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
integer_scalar!(i32, u32, u64, usize);

/// A name (`char`, `cosine`), written plain.
impl Scalar for &str {
    fn yaml(&self) -> String {
        self.to_string()
    }
}

impl Scalar for f64 {
    /// Plain decimals, except huge values as `1.0e30`; always with a dot, so YAML reads a
    /// float and never an integer.
    fn yaml(&self) -> String {
        let text = if self.abs() >= 1e15 {
            format!("{self:e}")
        } else {
            self.to_string()
        };
        match text.split_once('e') {
            _ if text.contains('.') => text,
            Some((mantissa, exponent)) => format!("{mantissa}.0e{exponent}"),
            None => format!("{text}.0"),
        }
    }
}

impl TinySweep {
    /// A grid sweep called `name` of one run of the tiny model ([`TINY_TRAIN`]), on the
    /// built-in dataset, with no `samples:` key (the sweep file's defaults).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            search: None,
            dataset: None,
            parameters: Vec::new(),
            train: TINY_TRAIN
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            early_terminate: None,
            samples: Vec::new(),
            metric: None,
        }
    }

    /// Trains on `file` (a path relative to the sweep file) instead of the built-in dataset.
    pub fn dataset(mut self, file: &str) -> Self {
        self.dataset = Some(file.to_string());
        self
    }

    /// Sweeps `key` over `values` (one grid axis); the key leaves the `train:` block.
    pub fn grid<T: Scalar>(mut self, key: &str, values: &[T]) -> Self {
        let values: Vec<String> = values.iter().map(Scalar::yaml).collect();
        self.train.retain(|(k, _)| k != key);
        self.parameters.push((
            key.to_string(),
            format!("{{values: [{}]}}", values.join(", ")),
        ));
        self
    }

    /// Sweeps `key` over `[min, max]` drawn by `distribution` (`uniform`, `int_uniform`,
    /// `log_uniform_values`); the key leaves the `train:` block.
    pub fn range<T: Scalar>(mut self, key: &str, min: T, max: T, distribution: &str) -> Self {
        self.train.retain(|(k, _)| k != key);
        self.parameters.push((
            key.to_string(),
            format!(
                "{{distribution: {distribution}, min: {}, max: {}}}",
                min.yaml(),
                max.yaml()
            ),
        ));
        self
    }

    /// Searches at random instead of a grid: `run_cap` seeded draws.
    pub fn random(mut self, run_cap: u32) -> Self {
        self.search = Some(format!("method: random\nrun_cap: {run_cap}\n"));
        self
    }

    /// Searches by tpe instead of a grid: `run_cap` runs, the first `n_startup` random.
    pub fn tpe(mut self, run_cap: u32, n_startup: u32) -> Self {
        self.search = Some(format!(
            "method: tpe\nrun_cap: {run_cap}\ntpe: {{n_startup: {n_startup}}}\n"
        ));
        self
    }

    /// Fixes `key` at `value` in the `train:` block, replacing the tiny default if any.
    pub fn train(mut self, key: &str, value: impl Scalar) -> Self {
        set(&mut self.train, key, value.yaml());
        self
    }

    /// Leaves `key` out of the `train:` block, so the run takes the model's own default.
    pub fn without(mut self, key: &str) -> Self {
        assert!(
            self.train.iter().any(|(k, _)| k == key),
            "{key} is not in the train: block"
        );
        self.train.retain(|(k, _)| k != key);
        self
    }

    /// Trains for `steps` steps.
    pub fn max_iters(self, steps: u64) -> Self {
        self.train("max_iters", steps)
    }

    /// Evaluates (and checkpoints) every `steps` steps.
    pub fn eval_interval(self, steps: u64) -> Self {
        self.train("eval_interval", steps)
    }

    /// Draws `count` samples of `length` characters from each finished run.
    pub fn samples(mut self, count: u32, length: u32) -> Self {
        set(&mut self.samples, "count", count.yaml());
        set(&mut self.samples, "length", length.yaml());
        self
    }

    /// Starts each sample with `prompt`.
    pub fn sample_prompt(mut self, prompt: &str) -> Self {
        let quoted = serde_json::to_string(prompt).expect("a string is JSON");
        set(&mut self.samples, "prompt", quoted);
        self
    }

    /// Seeds the sampler with `seed`.
    pub fn sample_seed(mut self, seed: u64) -> Self {
        set(&mut self.samples, "seed", seed.yaml());
        self
    }

    /// Draws no samples (`samples: {count: 0}`).
    pub fn no_samples(mut self) -> Self {
        self.samples = vec![("count".to_string(), "0".to_string())];
        self
    }

    /// Stops runs that fall behind at rungs (`early_terminate: {type: hyperband, ...}`).
    pub fn hyperband(mut self, min_iter: u32, eta: u32) -> Self {
        self.early_terminate = Some(format!(
            "{{type: hyperband, min_iter: {min_iter}, eta: {eta}}}"
        ));
        self
    }

    /// Ranks by `metric` (`metric: {name: ...}`).
    pub fn metric(mut self, metric: &str) -> Self {
        self.metric = Some(metric.to_string());
        self
    }

    /// The sweep's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sweep file.
    pub fn yaml(&self) -> String {
        let mut out = format!("name: {}\n", self.name);
        if let Some(dataset) = &self.dataset {
            out += &format!("dataset: {dataset}\n");
        }
        out += self.search.as_deref().unwrap_or("method: grid\n");
        if let Some(metric) = &self.metric {
            out += &format!("metric: {{name: {metric}}}\n");
        }
        out += &block("parameters", &self.parameters);
        out += &block("train", &self.train);
        if let Some(early) = &self.early_terminate {
            out += &format!("early_terminate: {early}\n");
        }
        if !self.samples.is_empty() {
            out += &format!("samples: {}\n", flow(&self.samples));
        }
        out
    }

    /// Writes the sweep file to `dir/NAME.yaml` and answers its path.
    pub fn write_in(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("{}.yaml", self.name));
        std::fs::write(&path, self.yaml()).unwrap();
        path
    }
}

/// Sets `key` to `value` in `pairs`, in place if present, else at the end.
fn set(pairs: &mut Vec<(String, String)>, key: &str, value: String) {
    match pairs.iter_mut().find(|(k, _)| k == key) {
        Some((_, v)) => *v = value,
        None => pairs.push((key.to_string(), value)),
    }
}

/// `key:` and one indented line per pair; nothing when there are no pairs.
fn block(key: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let lines: String = pairs.iter().map(|(k, v)| format!("  {k}: {v}\n")).collect();
    format!("{key}:\n{lines}")
}

/// `{k: v, ...}`.
fn flow(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{{{}}}", items.join(", "))
}
