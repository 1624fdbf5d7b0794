//! One leased run, from lease to finish: fetch the corpus (and the checkpoint to resume,
//! if the lease names one), start training on a blocking thread (there, or in a slot
//! process that thread drives: [`crate::slot_process`]), stream each evaluation to
//! the coordinator as it happens and upload the checkpoint taken after it, keep the lease
//! alive with heartbeats, obey a stop, and report the outcome. Reports and checkpoints that
//! cannot be delivered (coordinator down) are held and sent again; a lost lease abandons
//! the run. A drain hands the run back at its next step with a checkpoint taken there; a
//! failure is reported as the run's fault or the worker's. What to do when is decided by
//! [`crate::run_loop`]; this module is its driver: it turns the trainer's progress, a drain
//! and the heartbeat ticks into its calls, and performs what they return (the calls to the
//! coordinator, the waits, the flags the training thread reads).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use gptsweep_api::transfer::chunked;
use gptsweep_api::{Evaluation, LeasedRun, Outcome};
use gptsweep_gpt::sample::SamplesSpec;
use gptsweep_gpt::{Checkpoint, Corpus, DeviceSpec, Hyperparams};
use gptsweep_proto::client::Workers;
use gptsweep_proto::pb;

use crate::backoff::{Backoff, retry_within, transient};
use crate::dataset_cache::DatasetCache;
use crate::error::{Result, WorkerError};
use crate::faults;
use crate::run_loop::{Call, Closing, Effect, Finish, Heard, RunLoop, Sent, Wait};
use crate::slot_process::SlotProcess;
use crate::slot_process::message::CorpusSource;
use crate::slot_process::parent::train_in_child;
use crate::stop::{StopLevel, StopSignal, reached};
use crate::train_task::{Answered, Progress, RunTask, train_blocking};

/// The longest a run waits, after an evaluation, for the coordinator's answer to it (a
/// stop at a rung) before training on: a round trip, unless the coordinator is slow or away.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);

/// The pause between tries of a run's last checkpoint (or a heartbeat interval, if
/// shorter; [`crate::run_loop::FINAL_UPLOAD_TRIES`] of them).
const UPLOAD_PAUSE: Duration = Duration::from_millis(500);

/// What a run needs from its worker.
#[derive(Clone)]
pub struct RunContext {
    /// Client of the Workers service.
    pub client: Workers,
    /// Corpus cache.
    pub cache: DatasetCache,
    /// Interval between heartbeats.
    pub heartbeat: Duration,
    /// Train in a child process started so; on a thread of the worker when `None`.
    pub slot: Option<SlotProcess>,
}

fn classify(status: tonic::Status) -> Heard {
    if status.code() == tonic::Code::FailedPrecondition || status.code() == tonic::Code::NotFound {
        Heard::Lost(status.message().to_string())
    } else if transient(&status) {
        Heard::Unreachable
    } else {
        Heard::Lost(format!("coordinator refused the call: {status}"))
    }
}

async fn report(client: &Workers, run: &LeasedRun, evals: &[Evaluation]) -> Heard {
    let req = pb::ReportRequest {
        run_id: run.run.get(),
        lease_id: run.lease.get(),
        evals: evals.iter().map(pb::EvalPoint::from).collect(),
    };
    match client.clone().report(req).await {
        Ok(r) => {
            let r = r.into_inner();
            Heard::directive(r.directive, r.reason)
        }
        Err(s) => classify(s),
    }
}

/// Renews the lease, saying where training is: `step` with its throughput, when known.
async fn heartbeat(
    client: &Workers,
    run: &LeasedRun,
    step: u64,
    tokens_per_sec: Option<f64>,
) -> Heard {
    match client
        .clone()
        .heartbeat(pb::HeartbeatRequest {
            run_id: run.run.get(),
            lease_id: run.lease.get(),
            step,
            tokens_per_sec,
        })
        .await
    {
        Ok(r) => {
            let r = r.into_inner();
            Heard::directive(r.directive, r.reason)
        }
        Err(s) => classify(s),
    }
}

/// Uploads the checkpoint of `step`.
async fn upload(client: &Workers, run: &LeasedRun, step: u64, bytes: &[u8]) -> Heard {
    let chunks = chunked(bytes, |first, data| pb::CheckpointUpload {
        run_id: if first { run.run.get() } else { 0 },
        lease_id: if first { run.lease.get() } else { 0 },
        step,
        data,
    });
    match client
        .clone()
        .put_checkpoint(tokio_stream::iter(chunks))
        .await
    {
        Ok(_) => Heard::Continue,
        Err(s) => classify(s),
    }
}

async fn fetch_checkpoint(ctx: &RunContext, run: &LeasedRun) -> Result<Checkpoint> {
    let req = pb::GetCheckpointRequest {
        run_id: run.run.get(),
        lease_id: run.lease.get(),
    };
    let bytes =
        retry_within("GetCheckpoint", ctx.heartbeat, || {
            let mut c = ctx.client.clone();
            async move {
                gptsweep_proto::client::collect(c.get_checkpoint(req).await?.into_inner()).await
            }
        })
        .await?;
    Ok(Checkpoint::from_bytes(
        &bytes,
        &format!("checkpoint of run {}", run.run),
    )?)
}

/// What an attempt reported: its outcome and, for a failure, the error.
pub type Reported = (Outcome, String);

/// Whether `device` cannot train `run` in its precision (bf16 through wgpu): [`execute`]
/// fails such a run at once, as the run's fault, and the device is not blamed for it.
pub fn precision_refused(run: &LeasedRun, device: DeviceSpec) -> bool {
    serde_json::from_str::<Hyperparams>(&run.hyperparams_json)
        .is_ok_and(|hp| gptsweep_gpt::backend::check_precision(device, hp.precision).is_err())
}

/// Trains `run` on `device` and reports it to the end. A drain on `stop` stops training at
/// the next step boundary, uploads a checkpoint taken there and hands the run back
/// (`preempted`); a failure is reported as the run's or the worker's fault ([`faults`]).
pub async fn execute(
    ctx: &RunContext,
    run: LeasedRun,
    device: DeviceSpec,
    mut stop_signal: StopSignal,
) -> Result<Reported> {
    let (hp, samples, corpus) = match prepare(ctx, &run).await {
        Ok(p) => p,
        Err(e) => {
            let end = Finish::failed(faults::of_worker(&e), e.to_string());
            return finish(ctx, &run, end).await;
        }
    };
    // A precision this device cannot train is the run's fault, said once: not a device
    // failure (the device is fine), and no retry would train it here.
    if let Err(e) = gptsweep_gpt::backend::check_precision(device, hp.precision) {
        let end = Finish::failed(faults::of_gpt(&e), e.to_string());
        return finish(ctx, &run, end).await;
    }
    let resume = if run.resume_step > 0 {
        match fetch_checkpoint(ctx, &run).await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(
                    run = %run.run,
                    "cannot resume from step {} ({e}); training from scratch",
                    run.resume_step
                );
                None
            }
        }
    } else {
        None
    };
    let from = resume.as_ref().map(|c| c.meta.step).unwrap_or(0);
    tracing::info!(run = %run.run, sweep = %run.sweep, %device, attempt = run.attempt, from_step = from, "training");
    let child = ctx.slot.clone().map(|slot| {
        let source = CorpusSource {
            name: run.dataset_name.clone(),
            sha256: run.dataset_sha256.clone(),
            text: (!run.dataset_builtin).then(|| ctx.cache.text_path(&run.dataset_sha256)),
            tokenizer: hp.tokenizer,
            tokens: ctx.cache.tokens_dir(),
        };
        (slot, source)
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let preempt = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(Answered::default());
    let task = RunTask {
        hp,
        corpus,
        samples,
        resume,
        progress: tx,
        stop: stop.clone(),
        preempt: preempt.clone(),
        answered: answered.clone(),
        answer_within: ctx.heartbeat.min(ANSWER_WITHIN),
    };
    let handle = tokio::task::spawn_blocking(move || match child {
        Some((slot, corpus)) => train_in_child(&slot, device, task, corpus),
        None => train_blocking(device, task).map_err(|e| (faults::of_gpt(&e), e.to_string())),
    });

    let mut state = RunLoop::new(run.run, from as u64);
    let mut ticker = tokio::time::interval(ctx.heartbeat);
    ticker.tick().await;
    loop {
        let effects = tokio::select! {
            p = rx.recv() => match p {
                Some(Progress::Eval(e)) => {
                    let sent = send(&ctx.client, &run, state.evaluation((&e).into())).await;
                    state.heard(sent)
                }
                Some(Progress::Step { step, tokens_per_sec }) => {
                    state.progress(step, tokens_per_sec);
                    Vec::new()
                }
                Some(Progress::Checkpoint { step, bytes }) => {
                    let sent = send(&ctx.client, &run, state.checkpoint(step, bytes)).await;
                    state.heard(sent)
                }
                None => break,
            },
            _ = reached(&mut stop_signal, StopLevel::Drain), if !state.handing_back() => state.drain(),
            _ = ticker.tick() => {
                let sent = send(&ctx.client, &run, state.tick()).await;
                state.heard(sent)
            }
        };
        for effect in effects {
            match effect {
                Effect::StopTraining => stop.store(true, Ordering::Relaxed),
                Effect::HandBack => preempt.store(true, Ordering::Relaxed),
                Effect::Answered(step) => answered.mark(step),
            }
        }
    }
    let trained = match handle.await {
        Ok(r) => r,
        Err(join) => {
            let message = join
                .try_into_panic()
                .map(|panic| gptsweep_api::panic::panic_text(panic.as_ref()))
                .unwrap_or_else(|e| e.to_string());
            Err(faults::training_panicked(&message))
        }
    };
    // The last evaluations, until delivered; a fleet whose coordinator is down retries
    // spread out (full jitter), not in step, and at least once a heartbeat interval: the
    // lease is still held, and a restarted coordinator's grace lasts one lease timeout.
    let mut backoff = Backoff::new(ctx.heartbeat);
    let mut ending = state.trained(trained);
    loop {
        let sent = match ending.what_next() {
            Closing::Report(evals) => Sent::Report(report(&ctx.client, &run, evals).await),
            Closing::Upload { step, bytes } => {
                Sent::Upload(upload(&ctx.client, &run, step, bytes).await)
            }
            Closing::Abandon(why) => return Err(WorkerError::LeaseLost(why)),
            Closing::Finish(end) => return finish(ctx, &run, end).await,
        };
        match ending.heard(sent) {
            Wait::No => {}
            Wait::Backoff => backoff.wait().await,
            Wait::Pause => tokio::time::sleep(ctx.heartbeat.min(UPLOAD_PAUSE)).await,
        }
    }
}

/// Makes `call` to the coordinator, with its answer.
async fn send(client: &Workers, run: &LeasedRun, call: Call<'_>) -> Sent {
    match call {
        Call::Report(evals) => Sent::Report(report(client, run, evals).await),
        Call::Upload { step, bytes } => Sent::Upload(upload(client, run, step, bytes).await),
        Call::Heartbeat {
            step,
            tokens_per_sec,
        } => Sent::Heartbeat(heartbeat(client, run, step, tokens_per_sec).await),
        Call::Nothing => Sent::Nothing,
    }
}

/// Hands a leased run back untouched (the worker is stopping before it started it).
pub async fn release(ctx: &RunContext, run: &LeasedRun, reason: &str) -> Result<()> {
    match finish(
        ctx,
        run,
        Finish::bare(Outcome::Preempted, reason.to_string()),
    )
    .await
    {
        Ok(_) | Err(WorkerError::LeaseLost(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

pub(crate) async fn prepare(
    ctx: &RunContext,
    run: &LeasedRun,
) -> Result<(Hyperparams, SamplesSpec, Arc<Corpus>)> {
    let bad = |reason: String| WorkerError::BadRun {
        run_id: run.run.get(),
        reason,
    };
    let hp: Hyperparams = serde_json::from_str(&run.hyperparams_json)
        .map_err(|e| bad(format!("hyperparameters: {e}")))?;
    let samples: SamplesSpec =
        serde_json::from_str(&run.samples_json).map_err(|e| bad(format!("samples: {e}")))?;
    let corpus = ctx
        .cache
        .corpus(
            &ctx.client,
            &run.dataset_name,
            &run.dataset_sha256,
            run.dataset_builtin,
            hp.tokenizer,
        )
        .await?;
    Ok((hp, samples, corpus))
}

/// Reports the attempt's end (retrying through an outage); a refusal is a lost lease.
async fn finish(ctx: &RunContext, run: &LeasedRun, end: Finish) -> Result<Reported> {
    let Finish {
        outcome,
        error,
        samples,
        summary_json,
    } = end;
    if matches!(outcome, Outcome::Failed | Outcome::WorkerFault) {
        tracing::error!(run = %run.run, %outcome, "failed: {error}");
    }
    let reported_error = error.clone();
    let req = pb::FinishRequest {
        run_id: run.run.get(),
        lease_id: run.lease.get(),
        outcome: pb::Outcome::from(outcome) as i32,
        error,
        samples: samples.iter().map(Into::into).collect(),
        summary_json,
    };
    match retry_within("Finish", ctx.heartbeat, || {
        let mut c = ctx.client.clone();
        let req = req.clone();
        async move { c.finish(req).await }
    })
    .await
    {
        Ok(_) => Ok((outcome, reported_error)),
        Err(WorkerError::Refused { status, .. })
            if status.code() == tonic::Code::FailedPrecondition =>
        {
            Err(WorkerError::LeaseLost(status.message().to_string()))
        }
        Err(e) => Err(e),
    }
}
