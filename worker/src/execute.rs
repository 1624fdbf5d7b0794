//! One leased run, from lease to finish: fetch the corpus (and the checkpoint to resume,
//! if the lease names one), start training on a blocking thread (there, or in a slot
//! process that thread drives: [`crate::slot_process`]), stream each evaluation to
//! the coordinator as it happens and upload the checkpoint taken after it, keep the lease
//! alive with heartbeats, obey a stop, and report the outcome. Reports and checkpoints that
//! cannot be delivered (coordinator down) are held and sent again; a lost lease abandons
//! the run. A drain hands the run back at its next step with a checkpoint taken there; a
//! failure is reported as the run's fault or the worker's.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use gptsweep_api::transfer::chunked;
use gptsweep_api::{Directive, Evaluation, LeasedRun, Outcome, Sample, from_proto};
use gptsweep_gpt::sample::SamplesSpec;
use gptsweep_gpt::{Checkpoint, Corpus, DeviceSpec, Eval, Hyperparams};
use gptsweep_proto::client::Workers;
use gptsweep_proto::pb;

use crate::backoff::{Backoff, retry_within, transient};
use crate::dataset_cache::DatasetCache;
use crate::error::{Result, WorkerError};
use crate::faults::{self, Fault};
use crate::slot_process::SlotProcess;
use crate::slot_process::message::CorpusSource;
use crate::slot_process::parent::train_in_child;
use crate::stop::{StopLevel, StopSignal, reached};
use crate::train_task::{Answered, Progress, RunOutput, RunTask, train_blocking};

/// Tries to deliver a run's last checkpoint, [`UPLOAD_PAUSE`] apart (or a heartbeat
/// interval, if shorter), before reporting its outcome without it.
const FINAL_UPLOAD_TRIES: usize = 20;

/// The longest a run waits, after an evaluation, for the coordinator's answer to it (a
/// stop at a rung) before training on: a round trip, unless the coordinator is slow or away.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);

/// The pause between tries of a run's last checkpoint.
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

enum Heard {
    Continue,
    Stop(String),
    Lost(String),
    Unreachable,
}

fn heard(directive: i32, reason: String) -> Heard {
    match from_proto::directive(directive, reason) {
        Directive::Stop(reason) => Heard::Stop(reason),
        Directive::Continue => Heard::Continue,
    }
}

/// The wire's form of a trainer evaluation (the shared API layer knows nothing of burn).
fn evaluation(e: &Eval) -> Evaluation {
    Evaluation {
        step: e.step as u64,
        train_loss: e.train_loss,
        val_loss: e.val_loss,
        train_bpc: e.train_bpc,
        val_bpc: e.val_bpc,
        tokens_per_sec: e.tokens_per_sec,
        train_secs: e.train_secs,
    }
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

async fn report(client: &Workers, run: &LeasedRun, pending: &mut Vec<Evaluation>) -> Heard {
    let req = pb::ReportRequest {
        run_id: run.run.get(),
        lease_id: run.lease.get(),
        evals: pending.iter().map(pb::EvalPoint::from).collect(),
    };
    match client.clone().report(req).await {
        Ok(r) => {
            pending.clear();
            let r = r.into_inner();
            heard(r.directive, r.reason)
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
            heard(r.directive, r.reason)
        }
        Err(s) => classify(s),
    }
}

/// Uploads a checkpoint; on success clears `pending`.
async fn upload(client: &Workers, run: &LeasedRun, pending: &mut Option<(u64, Vec<u8>)>) -> Heard {
    let Some((step, bytes)) = pending.as_ref() else {
        return Heard::Continue;
    };
    let chunks = chunked(bytes, |first, data| pb::CheckpointUpload {
        run_id: if first { run.run.get() } else { 0 },
        lease_id: if first { run.lease.get() } else { 0 },
        step: *step,
        data,
    });
    match client
        .clone()
        .put_checkpoint(tokio_stream::iter(chunks))
        .await
    {
        Ok(_) => {
            *pending = None;
            Heard::Continue
        }
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
        Err(e) => return fail(ctx, &run, faults::of_worker(&e), e.to_string()).await,
    };
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

    let mut pending: Vec<Evaluation> = Vec::new();
    let mut pending_ckpt: Option<(u64, Vec<u8>)> = None;
    let mut last_step = from as u64;
    // The throughput over the last seconds, sent with `last_step` in each heartbeat.
    let mut live_rate: Option<f64> = None;
    let mut lost: Option<String> = None;
    let mut told_to_stop = false;
    let mut preempting = false;
    // The evaluation whose report the loop's last turn sent, to be marked answered.
    let mut evaluated: Option<u64> = None;
    let mut ticker = tokio::time::interval(ctx.heartbeat);
    ticker.tick().await;
    loop {
        let outcome = tokio::select! {
            p = rx.recv() => match p {
                Some(Progress::Eval(e)) => {
                    last_step = e.step as u64;
                    evaluated = Some(last_step);
                    pending.push(evaluation(&e));
                    report(&ctx.client, &run, &mut pending).await
                }
                Some(Progress::Step { step, tokens_per_sec }) => {
                    last_step = last_step.max(step);
                    live_rate = Some(tokens_per_sec);
                    Heard::Continue
                }
                Some(Progress::Checkpoint { step, bytes }) => {
                    last_step = last_step.max(step);
                    pending_ckpt = Some((step, bytes));
                    if pending.is_empty() { upload(&ctx.client, &run, &mut pending_ckpt).await } else { Heard::Unreachable }
                }
                None => break,
            },
            _ = reached(&mut stop_signal, StopLevel::Drain), if !preempting => {
                tracing::info!(run = %run.run, "handing the run back at the next step");
                preempting = true;
                preempt.store(true, Ordering::Relaxed);
                Heard::Continue
            }
            _ = ticker.tick() => {
                if !pending.is_empty() {
                    report(&ctx.client, &run, &mut pending).await
                } else if pending_ckpt.is_some() {
                    upload(&ctx.client, &run, &mut pending_ckpt).await
                } else {
                    heartbeat(&ctx.client, &run, last_step, live_rate).await
                }
            }
        };
        match outcome {
            Heard::Continue | Heard::Unreachable => {}
            Heard::Stop(why) => {
                if !told_to_stop {
                    tracing::info!(run = %run.run, "stopping: {why}");
                }
                told_to_stop = true;
                stop.store(true, Ordering::Relaxed);
            }
            Heard::Lost(why) => {
                tracing::warn!(run = %run.run, "abandoning: {why}");
                stop.store(true, Ordering::Relaxed);
                lost = Some(why);
            }
        }
        if let Some(step) = evaluated.take() {
            answered.mark(step);
        }
    }
    let result = match handle.await {
        Ok(r) => r,
        Err(join) => {
            let message = panic_message(join);
            Err((
                faults::of_panic(&message),
                format!("training thread panicked: {message}"),
            ))
        }
    };
    if let Some(why) = lost {
        return Err(WorkerError::LeaseLost(why));
    }
    // The last evaluations, until delivered; a fleet whose coordinator is down retries
    // spread out (full jitter), not in step, and at least once a heartbeat interval: the
    // lease is still held, and a restarted coordinator's grace lasts one lease timeout.
    let mut backoff = Backoff::new(ctx.heartbeat);
    while !pending.is_empty() {
        match report(&ctx.client, &run, &mut pending).await {
            Heard::Lost(why) => return Err(WorkerError::LeaseLost(why)),
            Heard::Unreachable => backoff.wait().await,
            _ => {}
        }
    }
    let output = match result {
        Ok(output) => output,
        Err((fault, error)) => return fail(ctx, &run, fault, error).await,
    };
    // The last checkpoint is worth a few tries (a preempted run resumes from it), not a
    // run: a coordinator that cannot store it (its storage is failing) gets the outcome
    // anyway, and the run resumes from an earlier checkpoint if it must.
    for _ in 0..FINAL_UPLOAD_TRIES {
        match upload(&ctx.client, &run, &mut pending_ckpt).await {
            Heard::Lost(why) => return Err(WorkerError::LeaseLost(why)),
            Heard::Unreachable => tokio::time::sleep(ctx.heartbeat.min(UPLOAD_PAUSE)).await,
            _ if pending_ckpt.is_none() => break,
            _ => {}
        }
    }
    if let Some((step, _)) = &pending_ckpt {
        tracing::warn!(run = %run.run, "the checkpoint of step {step} could not be delivered; reporting the outcome without it");
    }
    let RunOutput {
        summary,
        samples,
        stopped,
    } = output;
    if stopped && preempting && !told_to_stop {
        let reason = format!(
            "preempted: the worker stopped at step {}; the run continues from there",
            summary.steps
        );
        return finish(
            ctx,
            &run,
            Outcome::Preempted,
            reason,
            Vec::new(),
            String::new(),
        )
        .await;
    }
    let texts = samples
        .into_iter()
        .map(|(o, text)| Sample {
            prompt: o.prompt,
            text,
            seed: o.seed,
        })
        .collect();
    // A run told to stop is stopped even when its last steps were done before the word
    // came (a tiny model trains tens of steps in one round trip): the scheduler decided,
    // and the sweep's counts do not hang on the worker's speed.
    let outcome = if stopped || told_to_stop {
        Outcome::Stopped
    } else {
        Outcome::Finished
    };
    finish(
        ctx,
        &run,
        outcome,
        String::new(),
        texts,
        serde_json::to_string(&summary).unwrap_or_default(),
    )
    .await
}

/// The text of a panic on the training thread.
fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(panic) => gptsweep_api::panic::panic_text(panic.as_ref()),
        Err(e) => e.to_string(),
    }
}

/// Ends the attempt as failed: the run's fault (`failed`, counted) or the worker's
/// (`worker_fault`, queued again at once).
async fn fail(ctx: &RunContext, run: &LeasedRun, fault: Fault, error: String) -> Result<Reported> {
    let outcome = match fault {
        Fault::Run => Outcome::Failed,
        Fault::Worker => Outcome::WorkerFault,
    };
    finish(ctx, run, outcome, error, Vec::new(), String::new()).await
}

/// Hands a leased run back untouched (the worker is stopping before it started it).
pub async fn release(ctx: &RunContext, run: &LeasedRun, reason: &str) -> Result<()> {
    match finish(
        ctx,
        run,
        Outcome::Preempted,
        reason.to_string(),
        Vec::new(),
        String::new(),
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

async fn finish(
    ctx: &RunContext,
    run: &LeasedRun,
    outcome: Outcome,
    error: String,
    samples: Vec<Sample>,
    summary_json: String,
) -> Result<Reported> {
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
