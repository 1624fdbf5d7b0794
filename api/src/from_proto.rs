//! Wire messages into domain records. A field the domain needs and the message lacks, or
//! a state name outside its enum, is an [`ApiError`] naming the message and the field:
//! never a silent default.

use gptsweep_proto::pb;

use crate::error::ApiError;
use crate::ids::{LeaseId, RunId, SweepId, WorkerId};
use crate::progress::RunProgress;
use crate::records::{
    Attempt, DeviceLoad, DisabledDevice, Evaluation, HyperparamImportance, ImportanceReport,
    Leaderboard, LeaderboardRow, LeasedRun, MemoryShortfall, RunCounts, RunDetail, Sample,
    Submitted, SweepStatus, SweepSummary, WorkerInfo,
};
use crate::state::{Directive, Named, Outcome};

/// The value named `text` of a [`Named`] enum, or an error naming the field.
fn named<T: Named>(message: &'static str, field: &'static str, text: &str) -> Result<T, ApiError> {
    T::parse(text).map_err(|rule| ApiError::Invalid {
        message,
        field,
        value: text.to_string(),
        rule,
    })
}

/// A JSON object carried as text, or an error naming the field.
fn object(
    message: &'static str,
    field: &'static str,
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(ApiError::Invalid {
            message,
            field,
            value: text.chars().take(80).collect(),
            rule: "must be a JSON object".into(),
        }),
    }
}

/// The message inside an `optional` field, or [`ApiError::Missing`].
pub fn required<T>(
    message: &'static str,
    field: &'static str,
    v: Option<T>,
) -> Result<T, ApiError> {
    v.ok_or(ApiError::Missing { message, field })
}

impl From<&pb::EvalPoint> for Evaluation {
    fn from(e: &pb::EvalPoint) -> Self {
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

impl From<&pb::SampleText> for Sample {
    fn from(s: &pb::SampleText) -> Self {
        Self {
            prompt: s.prompt.clone(),
            seed: s.seed,
            text: s.text.clone(),
        }
    }
}

impl From<&pb::RunCounts> for RunCounts {
    fn from(c: &pb::RunCounts) -> Self {
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

impl TryFrom<&pb::SweepSummary> for SweepSummary {
    type Error = ApiError;
    fn try_from(s: &pb::SweepSummary) -> Result<Self, ApiError> {
        const M: &str = "SweepSummary";
        Ok(Self {
            id: SweepId(s.id),
            name: s.name.clone(),
            state: named(M, "state", &s.state)?,
            method: named(M, "method", &s.method)?,
            metric: named(M, "metric", &s.metric)?,
            goal: named(M, "goal", &s.goal)?,
            dataset: s.dataset.clone(),
            runs: required(M, "runs", s.runs.as_ref())?.into(),
            best: s.best,
            best_run: s.best_run.map(RunId),
            created_at_ms: s.created_at_ms,
            swept: s.swept.clone(),
            evals_stored: s.evals_stored,
            evals_expected: s.evals_expected,
            proposed: s.proposed,
            run_cap: s.run_cap,
            description: s.description.clone(),
            tags: s.tags.clone(),
            precision: s.precision.clone(),
        })
    }
}

impl TryFrom<&pb::RunRow> for LeaderboardRow {
    type Error = ApiError;
    fn try_from(r: &pb::RunRow) -> Result<Self, ApiError> {
        const M: &str = "RunRow";
        Ok(Self {
            rank: r.rank,
            run: RunId(r.run_id),
            state: named(M, "state", &r.state)?,
            params: object(M, "params_json", &r.params_json)?,
            best_val_loss: r.best_val_loss,
            best_val_bpc: r.best_val_bpc,
            best_step: r.best_step,
            last_train_loss: r.last_train_loss,
            steps: r.steps,
            num_params: r.num_params,
            tokens_per_sec: r.tokens_per_sec,
            train_secs: r.train_secs,
            samples: r.samples.iter().map(Into::into).collect(),
            progress: r.progress.as_ref().map(Into::into),
            name: r.name.clone(),
            note: r.note.clone(),
            finished_at_ms: r.finished_at_ms,
        })
    }
}

impl TryFrom<&pb::TopReply> for Leaderboard {
    type Error = ApiError;
    fn try_from(r: &pb::TopReply) -> Result<Self, ApiError> {
        Ok(Self {
            sweep: required("TopReply", "sweep", r.sweep.as_ref())?.try_into()?,
            rows: r
                .runs
                .iter()
                .map(LeaderboardRow::try_from)
                .collect::<Result<_, _>>()?,
        })
    }
}

impl TryFrom<&pb::ImportanceReply> for ImportanceReport {
    type Error = ApiError;
    fn try_from(r: &pb::ImportanceReply) -> Result<Self, ApiError> {
        const M: &str = "ImportanceReply";
        let params = r
            .params
            .iter()
            .map(|p| {
                let top_values =
                    serde_json::from_str(&p.top_values_json).map_err(|e| ApiError::Invalid {
                        message: "ParamImportance",
                        field: "top_values_json",
                        value: p.top_values_json.clone(),
                        rule: format!("is not a JSON array ({e})"),
                    })?;
                Ok(HyperparamImportance {
                    name: p.name.clone(),
                    importance: p.importance,
                    divergence: p.divergence,
                    top_values,
                    spread: p.spread,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(Self {
            sweep: r.sweep.clone(),
            metric: named(M, "metric", &r.metric)?,
            budget: r.budget.clone(),
            results: r.results,
            top: r.top,
            params,
        })
    }
}

impl TryFrom<&pb::SweepStatusReply> for SweepSummary {
    type Error = ApiError;
    fn try_from(r: &pb::SweepStatusReply) -> Result<Self, ApiError> {
        required("SweepStatusReply", "sweep", r.sweep.as_ref())?.try_into()
    }
}

impl From<&pb::MemoryShortfall> for MemoryShortfall {
    fn from(m: &pb::MemoryShortfall) -> Self {
        Self {
            runs: m.runs,
            needs_bytes: m.needs_bytes,
            largest_device_bytes: m.largest_device_bytes,
        }
    }
}

impl TryFrom<&pb::SweepStatusReply> for SweepStatus {
    type Error = ApiError;
    fn try_from(r: &pb::SweepStatusReply) -> Result<Self, ApiError> {
        Ok(Self {
            summary: r.try_into()?,
            too_large: r.too_large.as_ref().map(Into::into),
        })
    }
}

impl TryFrom<&pb::Attempt> for Attempt {
    type Error = ApiError;
    fn try_from(a: &pb::Attempt) -> Result<Self, ApiError> {
        Ok(Self {
            lease: LeaseId(a.lease_id),
            worker: a.worker.clone(),
            device: a.device.clone(),
            state: named("Attempt", "state", &a.state)?,
            reason: a.reason.clone(),
            started_at_ms: a.started_at_ms,
            ended_at_ms: a.ended_at_ms,
            resumed_from: a.resumed_from,
        })
    }
}

impl TryFrom<&pb::ShowRunReply> for RunDetail {
    type Error = ApiError;
    fn try_from(d: &pb::ShowRunReply) -> Result<Self, ApiError> {
        const M: &str = "ShowRunReply";
        Ok(Self {
            run: RunId(d.run_id),
            sweep: d.sweep.clone(),
            state: named(M, "state", &d.state)?,
            hyperparams: object(M, "hyperparams_json", &d.hyperparams_json)?,
            swept: object(M, "swept_json", &d.swept_json)?,
            evals: d.evals.iter().map(Into::into).collect(),
            samples: d.samples.iter().map(Into::into).collect(),
            attempts: d
                .attempts
                .iter()
                .map(Attempt::try_from)
                .collect::<Result<_, _>>()?,
            error: d.error.clone(),
            num_params: d.num_params,
            progress: d.progress.as_ref().map(Into::into),
            name: d.name.clone(),
            note: d.note.clone(),
        })
    }
}

impl From<&pb::RunProgress> for RunProgress {
    fn from(p: &pb::RunProgress) -> Self {
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

impl From<&pb::WorkerInfo> for WorkerInfo {
    fn from(w: &pb::WorkerInfo) -> Self {
        Self {
            id: WorkerId(w.id),
            name: w.name.clone(),
            devices: w.devices.clone(),
            last_seen_ms: w.last_seen_ms,
            running: w.running.iter().copied().map(RunId).collect(),
            alive: w.alive,
            left: w.left.clone(),
            disabled: w
                .disabled
                .iter()
                .map(|d| DisabledDevice {
                    device: d.device.clone(),
                    reason: d.reason.clone(),
                })
                .collect(),
            loads: w
                .loads
                .iter()
                .map(|l| DeviceLoad {
                    device: l.device.clone(),
                    memory_bytes: l.memory_bytes,
                    used_bytes: l.used_bytes,
                    runs: l.runs.iter().copied().map(RunId).collect(),
                })
                .collect(),
        }
    }
}

impl From<pb::RunSpec> for LeasedRun {
    fn from(r: pb::RunSpec) -> Self {
        Self {
            run: RunId(r.run_id),
            lease: LeaseId(r.lease_id),
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

impl From<&pb::SubmitReply> for Submitted {
    fn from(s: &pb::SubmitReply) -> Self {
        Self {
            id: SweepId(s.sweep_id),
            name: s.name.clone(),
            runs: s.runs,
        }
    }
}

/// The outcome of a finish request; unspecified or unknown values are refused.
pub fn outcome(value: i32) -> Result<Outcome, ApiError> {
    match pb::Outcome::try_from(value) {
        Ok(pb::Outcome::Finished) => Ok(Outcome::Finished),
        Ok(pb::Outcome::Stopped) => Ok(Outcome::Stopped),
        Ok(pb::Outcome::Failed) => Ok(Outcome::Failed),
        Ok(pb::Outcome::Preempted) => Ok(Outcome::Preempted),
        Ok(pb::Outcome::WorkerFault) => Ok(Outcome::WorkerFault),
        _ => Err(ApiError::Invalid {
            message: "FinishRequest",
            field: "outcome",
            value: value.to_string(),
            rule: "must be finished, stopped, failed, preempted or worker_fault".into(),
        }),
    }
}

/// The directive of a report or heartbeat reply.
pub fn directive(value: i32, reason: String) -> Directive {
    if value == pb::Directive::Stop as i32 {
        Directive::Stop(reason)
    } else {
        Directive::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> SweepSummary {
        SweepSummary {
            id: SweepId(3),
            name: "s".into(),
            state: crate::SweepState::Running,
            method: crate::Method::Random,
            metric: crate::MetricName::ValLoss,
            goal: crate::Goal::Minimize,
            dataset: "tinyshakespeare".into(),
            runs: RunCounts {
                queued: 1,
                running: 2,
                ..Default::default()
            },
            best: Some(2.5),
            best_run: Some(RunId(7)),
            created_at_ms: 12,
            swept: vec!["lr".into()],
            evals_stored: 4,
            evals_expected: 9,
            proposed: 3,
            run_cap: 5,
            description: "what lr does".into(),
            tags: vec!["baseline".into()],
            precision: "bf16".into(),
        }
    }

    #[test]
    fn records_cross_the_wire_unchanged() {
        let s = summary();
        assert_eq!(
            SweepSummary::try_from(&pb::SweepSummary::from(&s)).unwrap(),
            s
        );
        let e = Evaluation {
            step: 250,
            train_loss: 2.25,
            val_loss: 2.5,
            train_bpc: 3.25,
            val_bpc: 3.5,
            tokens_per_sec: 33_000.0,
            train_secs: 12.5,
        };
        assert_eq!(Evaluation::from(&pb::EvalPoint::from(&e)), e);
        let mut params = serde_json::Map::new();
        params.insert("lr".into(), 0.001.into());
        let row = LeaderboardRow {
            rank: 1,
            run: RunId(7),
            state: crate::RunState::Stopped,
            params,
            best_val_loss: Some(2.0),
            best_val_bpc: Some(2.9),
            best_step: Some(20),
            last_train_loss: None,
            steps: 20,
            num_params: 100,
            tokens_per_sec: 1.0,
            train_secs: 2.0,
            samples: vec![Sample {
                prompt: "\n".into(),
                seed: 1,
                text: "hi".into(),
            }],
            progress: Some(RunProgress {
                step: 12,
                max_iters: 40,
                tokens_per_sec: 5000.0,
                reported_at_ms: 1_700_000_000_000,
                age_ms: 1500,
                eta_secs: Some(11.5),
                worker: "w0#3".into(),
            }),
            name: "baseline".into(),
            note: "lr from the paper".into(),
            finished_at_ms: Some(1_700_000_000_000),
        };
        assert_eq!(
            LeaderboardRow::try_from(&pb::RunRow::from(&row)).unwrap(),
            row
        );
    }

    #[test]
    fn a_missing_message_is_named_not_defaulted() {
        let err = SweepSummary::try_from(&pb::SweepStatusReply {
            sweep: None,
            too_large: None,
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "SweepStatusReply: sweep is missing");
        let mut wire = pb::SweepSummary::from(&summary());
        wire.runs = None;
        let err = SweepSummary::try_from(&wire).unwrap_err();
        assert_eq!(err.to_string(), "SweepSummary: runs is missing");
    }

    #[test]
    fn an_unknown_state_is_refused_with_its_field() {
        let mut wire = pb::SweepSummary::from(&summary());
        wire.state = "paused".into();
        let err = SweepSummary::try_from(&wire).unwrap_err().to_string();
        assert!(err.starts_with("SweepSummary: state = \"paused\""), "{err}");
        assert!(
            err.contains("expected running, finished, cancelled"),
            "{err}"
        );
        assert!(outcome(0).is_err());
        assert_eq!(
            outcome(pb::Outcome::Failed as i32).unwrap(),
            Outcome::Failed
        );
    }
}
