//! Every problem of a file in one pass: the rules of each section, then (on what passed)
//! the corpus (its sample prompt) and the plan (grid points that are no valid model,
//! block_size against the dataset), each located at the line of the key it names. What
//! `submit` and `local` check before anything is sent or created; the coordinator checks
//! again with [`parse_sweep`](super::parse_sweep) and the same planner.

use std::collections::BTreeMap;

use serde_saphyr::Location;

use super::{Checker, check, diagnose, unknown_keys};
use crate::sweep::diagnostic::{Diagnostic, SpecErrors};
use crate::sweep::file::SweepFile;
use crate::sweep::measure::measure_corpus;
use crate::sweep::metric::Method;
use crate::sweep::plan::{Plan, plan_sweep};
use crate::sweep::shape::CorpusShapes;
use crate::sweep::spec::{DatasetRef, SweepSpec};

/// A sweep file checked and planned here.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The checked sweep.
    pub spec: SweepSpec,
    /// Its plan on the corpus.
    pub plan: Plan,
    /// The corpus as measured.
    pub shapes: CorpusShapes,
}

/// Checks `yaml` (named `file_name`), reads its corpus with `corpus` (sha256 and bytes,
/// or why it cannot be read) and plans it, collecting every problem before failing.
pub fn check_and_plan(
    file_name: &str,
    yaml: &str,
    corpus: impl FnOnce(&DatasetRef) -> Result<(String, Vec<u8>), String>,
) -> Result<Checked, SpecErrors> {
    let fail = |mut diagnostics: Vec<Diagnostic>| {
        // Located problems in file order, then those about the file as a whole.
        diagnostics.sort_by_key(|d| (d.line == 0, d.line, d.column));
        SpecErrors {
            file: file_name.to_string(),
            diagnostics,
        }
    };
    let (file, unknown) = unknown_keys::parse(yaml, diagnose);
    let file = match file {
        Ok(f) => f,
        Err(d) => {
            let mut all = unknown;
            all.push(d);
            return Err(fail(all));
        }
    };
    let keys = Keys::of(&file);
    let mut c = Checker { diags: unknown };
    let spec = check(&mut c, file_name, file);
    let mut diags = c.diags;
    let Some(spec) = spec.filter(plannable) else {
        return Err(fail(diags));
    };
    let (sha, bytes) = match corpus(&spec.dataset) {
        Ok(c) => c,
        Err(why) => {
            diags.push(keys.at("dataset", why));
            return Err(fail(diags));
        }
    };
    let (shapes, prompt) = match measure_corpus(&spec, &sha, &bytes) {
        Ok(m) => m,
        Err(why) => {
            diags.push(keys.at("dataset", format!("dataset: {why}")));
            return Err(fail(diags));
        }
    };
    diags.extend(prompt.into_iter().map(|p| keys.at("samples.prompt", p)));
    // Random draws that fail follow from a problem already said; a grid's points do not.
    let checked_clean = diags.is_empty();
    match plan_sweep(&spec, file_name, &shapes) {
        Ok(plan) if diags.is_empty() => Ok(Checked { spec, plan, shapes }),
        Ok(_) => Err(fail(diags)),
        Err(e) => {
            if checked_clean || spec.method == Method::Grid {
                diags.extend(e.diagnostics.into_iter().map(|d| keys.locate(d)));
            }
            Err(fail(diags))
        }
    }
}

/// Whether a spec built despite problems can still be planned (the planner's assumptions).
fn plannable(spec: &SweepSpec) -> bool {
    match spec.method {
        Method::Grid => spec.parameters.values().all(|p| p.grid_values().is_some()),
        Method::Random | Method::Tpe => spec.run_cap.is_some(),
    }
}

/// Where the file names each key: `dataset`, `samples.prompt`, and each hyperparameter
/// (swept under `parameters:` or fixed under `train:`).
struct Keys(BTreeMap<String, (u32, u32)>);

impl Keys {
    fn of(f: &SweepFile) -> Self {
        let pos = |l: Location| (l.line() as u32, l.column() as u32);
        let mut keys = BTreeMap::new();
        if let Some(d) = &f.dataset {
            keys.insert("dataset".to_string(), pos(d.referenced));
        }
        if let Some(s) = &f.samples {
            let at = s
                .value
                .prompt
                .as_ref()
                .map_or(s.referenced, |p| p.referenced);
            keys.insert("samples.prompt".to_string(), pos(at));
        }
        if let Some(t) = &f.train {
            for (k, v) in &t.value {
                keys.insert(k.clone(), pos(v.referenced));
            }
        }
        if let Some(p) = &f.parameters {
            for (k, v) in &p.value {
                keys.insert(k.clone(), pos(v.referenced));
            }
        }
        Self(keys)
    }

    /// `message` at `key`, or about the whole file when the file does not name it.
    fn at(&self, key: &str, message: impl Into<String>) -> Diagnostic {
        let (line, column) = self.0.get(key).copied().unwrap_or((0, 0));
        Diagnostic {
            line,
            column,
            message: message.into(),
        }
    }

    /// A planner's problem at the first key it names that the file has.
    fn locate(&self, d: Diagnostic) -> Diagnostic {
        let key = d
            .message
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .find(|w| self.0.contains_key(*w))
            .map(str::to_string);
        match key {
            Some(k) => self.at(&k, d.message),
            None => d,
        }
    }
}
