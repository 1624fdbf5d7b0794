//! Planning a submitted sweep file: checked, named, its corpus measured under each
//! tokenizer it uses, and its runs planned with their estimates, ready to store. Nothing
//! is stored here ([`super::submit`] does).

use crate::datasets::builtin_sha;
use crate::error::{CoordinatorError, Result};
use crate::store::NewSweep;
use crate::sweep::measure::measure_corpus;
use crate::sweep::{CorpusShapes, DatasetRef, SweepSpec, parse_sweep, plan_runs};

use super::Coordinator;

/// The largest sweep file a submit takes.
const MAX_SWEEP_FILE: usize = 1 << 20;

impl Coordinator {
    /// Checks the sweep file `yaml` (called `file_name`), names it `name` unless that is
    /// empty, and plans its runs on the dataset it names: a builtin one, or the upload
    /// `uploaded_sha256` for a path.
    pub(crate) async fn plan(
        &self,
        file_name: &str,
        yaml: &str,
        uploaded_sha256: &str,
        name: &str,
    ) -> Result<NewSweep> {
        if yaml.len() > MAX_SWEEP_FILE {
            return Err(CoordinatorError::Invalid(format!(
                "{file_name}: a sweep file must be under 1 MiB"
            )));
        }
        let mut spec = parse_sweep(file_name, yaml)?;
        if !name.is_empty() {
            if let Some(problem) = crate::sweep::name_problem(name) {
                return Err(CoordinatorError::Invalid(format!("--name: {problem}")));
            }
            spec.name = name.to_string();
        }
        let sha = match &spec.dataset {
            DatasetRef::Builtin(name) => builtin_sha(name).to_string(),
            DatasetRef::Path(path) if uploaded_sha256.is_empty() => {
                return Err(CoordinatorError::Invalid(format!(
                    "{file_name}: dataset {path} is a path: upload it first (gptsweep submit does)"
                )));
            }
            DatasetRef::Path(_) => uploaded_sha256.to_string(),
        };
        let shapes = self.measure_corpus(file_name, &spec, &sha).await?;
        let runs = plan_runs(&spec, file_name, &shapes)?;
        let counted = runs
            .iter()
            .map(|r| {
                let (params, memory) = shapes.estimates(&r.hyperparams);
                (r.clone(), params, memory)
            })
            .collect::<Vec<_>>();
        Ok(NewSweep {
            spec,
            yaml: yaml.to_string(),
            file_name: file_name.to_string(),
            dataset_sha256: sha,
            runs: counted,
            shapes,
        })
    }

    /// The corpus `sha` under each tokenizer `spec` uses, with the sample prompt checked
    /// against each (a character vocabulary may lack one of its characters). Tokenising
    /// is CPU work of up to seconds for a large corpus: it runs off the async threads.
    async fn measure_corpus(
        &self,
        file_name: &str,
        spec: &SweepSpec,
        sha: &str,
    ) -> Result<CorpusShapes> {
        let bytes = self.datasets.get(sha)?;
        let (spec, sha, file_name) = (spec.clone(), sha.to_string(), file_name.to_string());
        tokio::task::spawn_blocking(move || {
            let (shapes, problems) =
                measure_corpus(&spec, &sha, &bytes).map_err(CoordinatorError::Invalid)?;
            match problems.first() {
                Some(p) => Err(CoordinatorError::Invalid(format!("{file_name}: {p}"))),
                None => Ok(shapes),
            }
        })
        .await
        .map_err(|source| CoordinatorError::Task {
            what: "measuring the corpus",
            source,
        })?
    }
}
