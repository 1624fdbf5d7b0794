//! One leased run, from lease to finish: fetch the corpus, start training on a blocking
//! thread, stream each evaluation to the coordinator as it happens, keep the lease alive
//! with heartbeats, obey a stop, and report the outcome. Reports that cannot be delivered
//! (coordinator down) are held and sent again; a lost lease abandons the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use gptsweep_gpt::sample::SamplesSpec;
use gptsweep_gpt::{DeviceSpec, Eval, Hyperparams};
use gptsweep_proto::client::Workers;
use gptsweep_proto::pb;

use crate::backoff::{retry, transient};
use crate::dataset_cache::DatasetCache;
use crate::error::{Result, WorkerError};
use crate::train_task::{RunOutput, RunTask, train_blocking};

/// What a run needs from its worker.
#[derive(Clone)]
pub struct RunContext {
    /// Client of the Workers service.
    pub client: Workers,
    /// Corpus cache.
    pub cache: DatasetCache,
    /// Interval between heartbeats.
    pub heartbeat: Duration,
}

fn eval_to_pb(e: &Eval) -> pb::EvalPoint {
    pb::EvalPoint {
        step: e.step as u64,
        train_loss: e.train_loss,
        val_loss: e.val_loss,
        tokens_per_sec: e.tokens_per_sec,
        train_secs: e.train_secs,
    }
}

enum Heard {
    Continue,
    Stop(String),
    Lost(String),
    Unreachable,
}

fn heard(directive: i32, reason: String) -> Heard {
    if directive == pb::Directive::Stop as i32 {
        Heard::Stop(reason)
    } else {
        Heard::Continue
    }
}

fn classify(status: tonic::Status) -> Heard {
    if status.code() == tonic::Code::FailedPrecondition || status.code() == tonic::Code::NotFound {
        Heard::Lost(status.message().to_string())
    } else if transient(&status) {
        Heard::Unreachable
    } else {
        Heard::Lost(format!("coordinator refused the report: {status}"))
    }
}

async fn report(client: &Workers, run: &pb::RunSpec, pending: &mut Vec<Eval>) -> Heard {
    let req = pb::ReportRequest {
        run_id: run.run_id,
        lease_id: run.lease_id,
        evals: pending.iter().map(eval_to_pb).collect(),
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

async fn heartbeat(client: &Workers, run: &pb::RunSpec, step: u64) -> Heard {
    match client
        .clone()
        .heartbeat(pb::HeartbeatRequest {
            run_id: run.run_id,
            lease_id: run.lease_id,
            step,
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

/// Trains `run` on `device` and reports it to the end.
pub async fn execute(ctx: &RunContext, run: pb::RunSpec, device: DeviceSpec) -> Result<()> {
    let prepared = prepare(ctx, &run).await;
    let (hp, samples, corpus) = match prepared {
        Ok(p) => p,
        Err(e) => {
            return finish(
                ctx,
                &run,
                pb::Outcome::Failed,
                e.to_string(),
                Vec::new(),
                String::new(),
            )
            .await;
        }
    };
    tracing::info!(run = run.run_id, sweep = %run.sweep, %device, attempt = run.attempt, "training");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let task = RunTask {
        hp,
        corpus,
        samples,
        evals: tx,
        stop: stop.clone(),
    };
    let handle = tokio::task::spawn_blocking(move || train_blocking(device, task));

    let mut pending: Vec<Eval> = Vec::new();
    let mut last_step = 0u64;
    let mut lost: Option<String> = None;
    let mut ticker = tokio::time::interval(ctx.heartbeat);
    ticker.tick().await;
    loop {
        let outcome = tokio::select! {
            e = rx.recv() => match e {
                Some(e) => {
                    last_step = e.step as u64;
                    pending.push(e);
                    report(&ctx.client, &run, &mut pending).await
                }
                None => break,
            },
            _ = ticker.tick() => {
                if pending.is_empty() { heartbeat(&ctx.client, &run, last_step).await } else { report(&ctx.client, &run, &mut pending).await }
            }
        };
        match outcome {
            Heard::Continue | Heard::Unreachable => {}
            Heard::Stop(why) => {
                tracing::info!(run = run.run_id, "stopping: {why}");
                stop.store(true, Ordering::Relaxed);
            }
            Heard::Lost(why) => {
                tracing::warn!(run = run.run_id, "abandoning: {why}");
                stop.store(true, Ordering::Relaxed);
                lost = Some(why);
            }
        }
    }
    let result = handle.await.map_err(|e| WorkerError::BadRun {
        run_id: run.run_id,
        reason: format!("training thread panicked: {e}"),
    });
    if let Some(why) = lost {
        return Err(WorkerError::LeaseLost(why));
    }
    while !pending.is_empty() {
        match report(&ctx.client, &run, &mut pending).await {
            Heard::Lost(why) => return Err(WorkerError::LeaseLost(why)),
            Heard::Unreachable => tokio::time::sleep(Duration::from_millis(500)).await,
            _ => {}
        }
    }
    match result.and_then(|r| r.map_err(WorkerError::from)) {
        Ok(RunOutput {
            summary,
            samples,
            stopped,
        }) => {
            let texts = samples
                .into_iter()
                .map(|(o, text)| pb::SampleText {
                    prompt: o.prompt,
                    text,
                    seed: o.seed,
                })
                .collect();
            let outcome = if stopped {
                pb::Outcome::Stopped
            } else {
                pb::Outcome::Finished
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
        Err(e) => {
            finish(
                ctx,
                &run,
                pb::Outcome::Failed,
                e.to_string(),
                Vec::new(),
                String::new(),
            )
            .await
        }
    }
}

async fn prepare(
    ctx: &RunContext,
    run: &pb::RunSpec,
) -> Result<(Hyperparams, SamplesSpec, Arc<gptsweep_gpt::Corpus>)> {
    let bad = |reason: String| WorkerError::BadRun {
        run_id: run.run_id,
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
        )
        .await?;
    Ok((hp, samples, corpus))
}

async fn finish(
    ctx: &RunContext,
    run: &pb::RunSpec,
    outcome: pb::Outcome,
    error: String,
    samples: Vec<pb::SampleText>,
    summary_json: String,
) -> Result<()> {
    if outcome == pb::Outcome::Failed {
        tracing::error!(run = run.run_id, "failed: {error}");
    }
    let req = pb::FinishRequest {
        run_id: run.run_id,
        lease_id: run.lease_id,
        outcome: outcome as i32,
        error,
        samples,
        summary_json,
    };
    match retry("Finish", || {
        let mut c = ctx.client.clone();
        let req = req.clone();
        async move { c.finish(req).await }
    })
    .await
    {
        Ok(_) => Ok(()),
        Err(WorkerError::Refused { status, .. })
            if status.code() == tonic::Code::FailedPrecondition =>
        {
            Err(WorkerError::LeaseLost(status.message().to_string()))
        }
        Err(e) => Err(e),
    }
}
