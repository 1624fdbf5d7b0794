//! Submitting a sweep: planned ([`super::plan`]) and stored with all its runs queued, or
//! refused with nothing stored; a dataset uploaded for a refused sweep that no sweep uses
//! is forgotten (row and blob).

use gptsweep_api::{Submitted, SweepId};

use crate::clock::now_ms;
use crate::error::Result;
use crate::store::{CreateSweep, ForgetUnusedDatasets};

use super::Coordinator;

impl Coordinator {
    /// Checks a sweep file, plans it and queues its runs. Nothing is stored if any check
    /// fails, and a dataset uploaded for it that no sweep uses is forgotten (row and blob).
    pub async fn submit(
        &self,
        file_name: &str,
        yaml: &str,
        uploaded_sha256: &str,
    ) -> Result<Submitted> {
        self.submit_named(file_name, yaml, uploaded_sha256, "")
            .await
    }

    /// [`Coordinator::submit`] under `name` instead of the file's name, unless it is empty
    /// (`gptsweep submit --name`: the same file again, under another name).
    pub async fn submit_named(
        &self,
        file_name: &str,
        yaml: &str,
        uploaded_sha256: &str,
        name: &str,
    ) -> Result<Submitted> {
        let started = now_ms();
        let submitted = self
            .store_sweep(file_name, yaml, uploaded_sha256, name)
            .await;
        if submitted.is_err() && !uploaded_sha256.is_empty() {
            self.forget_upload(uploaded_sha256, started).await;
        }
        submitted
    }

    /// [`Coordinator::submit_named`] without the clean-up of a refusal.
    async fn store_sweep(
        &self,
        file_name: &str,
        yaml: &str,
        uploaded_sha256: &str,
        name: &str,
    ) -> Result<Submitted> {
        let sweep = self.plan(file_name, yaml, uploaded_sha256, name).await?;
        let name = sweep.spec.name.clone();
        let n = sweep.run_cap();
        let id: SweepId = self.store.write(CreateSweep(Box::new(sweep))).await?;
        self.work.notify_waiters();
        Ok(Submitted {
            id,
            name,
            runs: n as u32,
        })
    }

    /// Forgets the dataset `sha256` if no sweep uses it and it was not uploaded again
    /// after `started` (a submit of the same corpus may be under way).
    async fn forget_upload(&self, sha256: &str, started: i64) {
        // As the collection does: no upload of the same corpus is between blob and row.
        let _commit = self.uploads.commit_lock.lock().await;
        let forgotten = self
            .store
            .write(ForgetUnusedDatasets {
                only: Some(sha256.to_string()),
                uploaded_before: started + 1,
            })
            .await;
        match forgotten {
            Ok(shas) => shas.iter().for_each(|sha| self.datasets.remove(sha)),
            Err(e) => tracing::warn!("keeping dataset {sha256} of a refused submit: {e}"),
        }
    }
}
