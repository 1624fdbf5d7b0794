//! Conversions between store records and generated wire types, all in one place.

use gptsweep_gpt::Eval;
use gptsweep_proto::pb;

use crate::store::{
    AttemptInfo, Directive, LeasedRun, RunCounts, RunDetail, RunInfo, StoredSample, SweepInfo,
    WorkerRecord,
};

/// Wire form of a sample.
pub fn sample_to_pb(s: &StoredSample) -> pb::SampleText {
    pb::SampleText {
        prompt: s.prompt.clone(),
        text: s.text.clone(),
        seed: s.seed,
    }
}

/// Domain form of a sample.
pub fn sample_from_pb(s: &pb::SampleText) -> StoredSample {
    StoredSample {
        prompt: s.prompt.clone(),
        seed: s.seed,
        text: s.text.clone(),
    }
}

/// Wire form of a directive.
pub fn directive_to_pb(d: Directive) -> (i32, String) {
    match d {
        Directive::Continue => (pb::Directive::Continue as i32, String::new()),
        Directive::Stop(why) => (pb::Directive::Stop as i32, why),
    }
}

/// Wire form of a leased run.
pub fn run_spec_to_pb(r: LeasedRun) -> pb::RunSpec {
    pb::RunSpec {
        run_id: r.run_id,
        lease_id: r.lease_id,
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

fn counts_to_pb(c: &RunCounts) -> pb::RunCounts {
    pb::RunCounts {
        queued: c.queued,
        running: c.running,
        finished: c.finished,
        failed: c.failed,
        stopped: c.stopped,
        cancelled: c.cancelled,
    }
}

/// Domain form of run counts.
pub fn counts_from_pb(c: &pb::RunCounts) -> RunCounts {
    RunCounts {
        queued: c.queued,
        running: c.running,
        finished: c.finished,
        failed: c.failed,
        stopped: c.stopped,
        cancelled: c.cancelled,
    }
}

/// Wire form of a sweep summary.
pub fn sweep_to_pb(s: &SweepInfo) -> pb::SweepSummary {
    pb::SweepSummary {
        id: s.id,
        name: s.name.clone(),
        state: s.state.clone(),
        method: s.method.clone(),
        metric: s.metric.clone(),
        goal: s.goal.clone(),
        dataset: s.dataset.clone(),
        runs: Some(counts_to_pb(&s.runs)),
        best: s.best,
        best_run: s.best_run,
        created_at_ms: s.created_at_ms,
        swept: s.swept.clone(),
        evals_stored: s.evals_stored,
        evals_expected: s.evals_expected,
    }
}

/// Domain form of a sweep summary.
pub fn sweep_from_pb(s: &pb::SweepSummary) -> SweepInfo {
    SweepInfo {
        id: s.id,
        name: s.name.clone(),
        state: s.state.clone(),
        method: s.method.clone(),
        metric: s.metric.clone(),
        goal: s.goal.clone(),
        dataset: s.dataset.clone(),
        runs: s.runs.as_ref().map(counts_from_pb).unwrap_or_default(),
        best: s.best,
        best_run: s.best_run,
        created_at_ms: s.created_at_ms,
        swept: s.swept.clone(),
        evals_stored: s.evals_stored,
        evals_expected: s.evals_expected,
    }
}

/// Wire form of a leaderboard row.
pub fn run_row_to_pb(r: &RunInfo) -> pb::RunRow {
    pb::RunRow {
        rank: r.rank,
        run_id: r.run_id,
        state: r.state.clone(),
        params_json: r.swept.to_string(),
        best_val_loss: r.best_val_loss,
        best_step: r.best_step,
        last_train_loss: r.last_train_loss,
        num_params: r.num_params,
        tokens_per_sec: r.tokens_per_sec,
        train_secs: r.train_secs,
        samples: r.samples.iter().map(sample_to_pb).collect(),
        steps: r.steps,
    }
}

/// Domain form of a leaderboard row.
pub fn run_row_from_pb(r: &pb::RunRow) -> RunInfo {
    RunInfo {
        rank: r.rank,
        run_id: r.run_id,
        state: r.state.clone(),
        swept: serde_json::from_str(&r.params_json).unwrap_or_default(),
        best_val_loss: r.best_val_loss,
        best_step: r.best_step,
        last_train_loss: r.last_train_loss,
        steps: r.steps,
        num_params: r.num_params,
        tokens_per_sec: r.tokens_per_sec,
        train_secs: r.train_secs,
        samples: r.samples.iter().map(sample_from_pb).collect(),
    }
}

/// Wire form of a run's details.
pub fn run_detail_to_pb(d: &RunDetail) -> pb::ShowRunReply {
    pb::ShowRunReply {
        run_id: d.run_id,
        sweep: d.sweep.clone(),
        state: d.state.clone(),
        hyperparams_json: d.hyperparams.to_string(),
        swept_json: d.swept.to_string(),
        evals: d.evals.iter().map(pb::EvalPoint::from).collect(),
        samples: d.samples.iter().map(sample_to_pb).collect(),
        attempts: d
            .attempts
            .iter()
            .map(|a| pb::Attempt {
                lease_id: a.lease_id,
                worker: a.worker.clone(),
                device: a.device.clone(),
                state: a.state.clone(),
                reason: a.reason.clone(),
                started_at_ms: a.started_at_ms,
                ended_at_ms: a.ended_at_ms,
                resumed_from: a.resumed_from,
            })
            .collect(),
        error: d.error.clone(),
        num_params: d.num_params,
    }
}

/// Domain form of a run's details.
pub fn run_detail_from_pb(d: &pb::ShowRunReply) -> RunDetail {
    RunDetail {
        run_id: d.run_id,
        sweep: d.sweep.clone(),
        state: d.state.clone(),
        hyperparams: serde_json::from_str(&d.hyperparams_json).unwrap_or_default(),
        swept: serde_json::from_str(&d.swept_json).unwrap_or_default(),
        evals: d.evals.iter().map(Eval::from).collect(),
        samples: d.samples.iter().map(sample_from_pb).collect(),
        attempts: d
            .attempts
            .iter()
            .map(|a| AttemptInfo {
                lease_id: a.lease_id,
                worker: a.worker.clone(),
                device: a.device.clone(),
                state: a.state.clone(),
                reason: a.reason.clone(),
                started_at_ms: a.started_at_ms,
                ended_at_ms: a.ended_at_ms,
                resumed_from: a.resumed_from,
            })
            .collect(),
        error: d.error.clone(),
        num_params: d.num_params,
    }
}

/// Wire form of a worker.
pub fn worker_to_pb(w: &WorkerRecord, alive: bool) -> pb::WorkerInfo {
    pb::WorkerInfo {
        id: w.id,
        name: w.name.clone(),
        devices: w.devices.clone(),
        last_seen_ms: w.last_seen_ms,
        running: w.running.clone(),
        alive,
    }
}
