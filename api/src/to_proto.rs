//! Domain records into wire messages. Infallible: every domain value has a wire form.

use gptsweep_proto::pb;

use crate::ids::RunId;
use crate::progress::RunProgress;
use crate::records::{
    Attempt, Evaluation, ImportanceReport, Leaderboard, LeaderboardRow, LeasedRun, MemoryShortfall,
    RunCounts, RunDetail, Sample, Submitted, SweepStatus, SweepSummary, WorkerInfo,
};
use crate::state::{Directive, Named, Outcome};

impl From<&Evaluation> for pb::EvalPoint {
    fn from(e: &Evaluation) -> Self {
        Self {
            step: e.step,
            train_loss: e.train_loss,
            val_loss: e.val_loss,
            train_bpc: e.train_bpc,
            val_bpc: e.val_bpc,
            tokens_per_sec: e.tokens_per_sec,
            train_secs: e.train_secs,
        }
    }
}

impl From<&Sample> for pb::SampleText {
    fn from(s: &Sample) -> Self {
        Self {
            prompt: s.prompt.clone(),
            text: s.text.clone(),
            seed: s.seed,
        }
    }
}

impl From<&RunCounts> for pb::RunCounts {
    fn from(c: &RunCounts) -> Self {
        Self {
            queued: c.queued,
            running: c.running,
            finished: c.finished,
            failed: c.failed,
            stopped: c.stopped,
            cancelled: c.cancelled,
        }
    }
}

impl From<&MemoryShortfall> for pb::MemoryShortfall {
    fn from(m: &MemoryShortfall) -> Self {
        Self {
            runs: m.runs,
            needs_bytes: m.needs_bytes,
            largest_device_bytes: m.largest_device_bytes,
        }
    }
}

impl From<&SweepStatus> for pb::SweepStatusReply {
    fn from(s: &SweepStatus) -> Self {
        Self {
            sweep: Some((&s.summary).into()),
            too_large: s.too_large.as_ref().map(Into::into),
        }
    }
}

impl From<&SweepSummary> for pb::SweepSummary {
    fn from(s: &SweepSummary) -> Self {
        Self {
            id: s.id.get(),
            name: s.name.clone(),
            state: s.state.as_str().into(),
            method: s.method.as_str().into(),
            metric: s.metric.as_str().into(),
            goal: s.goal.as_str().into(),
            dataset: s.dataset.clone(),
            runs: Some((&s.runs).into()),
            best: s.best,
            best_run: s.best_run.map(RunId::get),
            created_at_ms: s.created_at_ms,
            swept: s.swept.clone(),
            evals_stored: s.evals_stored,
            evals_expected: s.evals_expected,
            proposed: s.proposed,
            run_cap: s.run_cap,
            description: s.description.clone(),
            tags: s.tags.clone(),
            precision: s.precision.clone(),
        }
    }
}

impl From<&LeaderboardRow> for pb::RunRow {
    fn from(r: &LeaderboardRow) -> Self {
        Self {
            rank: r.rank,
            run_id: r.run.get(),
            state: r.state.as_str().into(),
            params_json: serde_json::Value::Object(r.params.clone()).to_string(),
            best_val_loss: r.best_val_loss,
            best_val_bpc: r.best_val_bpc,
            best_step: r.best_step,
            last_train_loss: r.last_train_loss,
            num_params: r.num_params,
            tokens_per_sec: r.tokens_per_sec,
            train_secs: r.train_secs,
            samples: r.samples.iter().map(Into::into).collect(),
            steps: r.steps,
            progress: r.progress.as_ref().map(Into::into),
            name: r.name.clone(),
            note: r.note.clone(),
            finished_at_ms: r.finished_at_ms,
        }
    }
}

impl From<&Leaderboard> for pb::TopReply {
    fn from(b: &Leaderboard) -> Self {
        Self {
            sweep: Some((&b.sweep).into()),
            runs: b.rows.iter().map(Into::into).collect(),
        }
    }
}

impl From<&ImportanceReport> for pb::ImportanceReply {
    fn from(r: &ImportanceReport) -> Self {
        Self {
            sweep: r.sweep.clone(),
            metric: r.metric.as_str().into(),
            budget: r.budget.clone(),
            results: r.results,
            top: r.top,
            params: r
                .params
                .iter()
                .map(|p| pb::ParamImportance {
                    name: p.name.clone(),
                    importance: p.importance,
                    divergence: p.divergence,
                    top_values_json: serde_json::Value::from(p.top_values.clone()).to_string(),
                    spread: p.spread,
                })
                .collect(),
        }
    }
}

impl From<&Attempt> for pb::Attempt {
    fn from(a: &Attempt) -> Self {
        Self {
            lease_id: a.lease.get(),
            worker: a.worker.clone(),
            device: a.device.clone(),
            state: a.state.as_str().into(),
            reason: a.reason.clone(),
            started_at_ms: a.started_at_ms,
            ended_at_ms: a.ended_at_ms,
            resumed_from: a.resumed_from,
        }
    }
}

impl From<&RunDetail> for pb::ShowRunReply {
    fn from(d: &RunDetail) -> Self {
        Self {
            run_id: d.run.get(),
            sweep: d.sweep.clone(),
            state: d.state.as_str().into(),
            hyperparams_json: serde_json::Value::Object(d.hyperparams.clone()).to_string(),
            swept_json: serde_json::Value::Object(d.swept.clone()).to_string(),
            evals: d.evals.iter().map(Into::into).collect(),
            samples: d.samples.iter().map(Into::into).collect(),
            attempts: d.attempts.iter().map(Into::into).collect(),
            error: d.error.clone(),
            num_params: d.num_params,
            progress: d.progress.as_ref().map(Into::into),
            name: d.name.clone(),
            note: d.note.clone(),
        }
    }
}

impl From<&RunProgress> for pb::RunProgress {
    fn from(p: &RunProgress) -> Self {
        Self {
            step: p.step,
            max_iters: p.max_iters,
            tokens_per_sec: p.tokens_per_sec,
            reported_at_ms: p.reported_at_ms,
            age_ms: p.age_ms,
            eta_secs: p.eta_secs,
            worker: p.worker.clone(),
        }
    }
}

impl From<&WorkerInfo> for pb::WorkerInfo {
    fn from(w: &WorkerInfo) -> Self {
        Self {
            id: w.id.get(),
            name: w.name.clone(),
            devices: w.devices.clone(),
            last_seen_ms: w.last_seen_ms,
            running: w.running.iter().map(|r| r.get()).collect(),
            alive: w.alive,
            left: w.left.clone(),
            disabled: w
                .disabled
                .iter()
                .map(|d| pb::DisabledDevice {
                    device: d.device.clone(),
                    reason: d.reason.clone(),
                })
                .collect(),
            loads: w
                .loads
                .iter()
                .map(|l| pb::DeviceLoad {
                    device: l.device.clone(),
                    memory_bytes: l.memory_bytes,
                    used_bytes: l.used_bytes,
                    runs: l.runs.iter().map(|r| r.get()).collect(),
                })
                .collect(),
        }
    }
}

impl From<LeasedRun> for pb::RunSpec {
    fn from(r: LeasedRun) -> Self {
        Self {
            run_id: r.run.get(),
            lease_id: r.lease.get(),
            sweep: r.sweep,
            hyperparams_json: r.hyperparams_json,
            dataset_name: r.dataset_name,
            dataset_sha256: r.dataset_sha256,
            dataset_builtin: r.dataset_builtin,
            samples_json: r.samples_json,
            attempt: r.attempt,
            resume_step: r.resume_step,
        }
    }
}

impl From<&Submitted> for pb::SubmitReply {
    fn from(s: &Submitted) -> Self {
        Self {
            sweep_id: s.id.get(),
            name: s.name.clone(),
            runs: s.runs,
        }
    }
}

impl From<Outcome> for pb::Outcome {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Finished => Self::Finished,
            Outcome::Stopped => Self::Stopped,
            Outcome::Failed => Self::Failed,
            Outcome::Preempted => Self::Preempted,
            Outcome::WorkerFault => Self::WorkerFault,
        }
    }
}

/// A directive as the wire's `(directive, reason)` pair of report and heartbeat replies.
pub fn directive(d: Directive) -> (i32, String) {
    match d {
        Directive::Continue => (pb::Directive::Continue as i32, String::new()),
        Directive::Stop(why) => (pb::Directive::Stop as i32, why),
    }
}
