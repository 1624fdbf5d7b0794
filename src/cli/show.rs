//! `gptsweep show RUN`: a run's parameters, every evaluation, its samples and attempts.

use gptsweep_coordinator::server::convert::run_detail_from_pb;
use gptsweep_proto::pb;
use serde::Serialize;

use super::ctx::Ctx;
use super::output::{OutputMode, print_json};
use super::table;

/// Flags of `gptsweep show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run id (from `top`).
    pub run: i64,
}

#[derive(Serialize)]
struct EvalJson {
    step: usize,
    train_loss: f32,
    val_loss: f32,
    tokens_per_sec: f64,
}

#[derive(Serialize)]
struct AttemptJson<'a> {
    worker: &'a str,
    device: &'a str,
    state: &'a str,
    reason: &'a str,
    started_at_ms: i64,
    ended_at_ms: Option<i64>,
    resumed_from: u64,
}

#[derive(Serialize)]
struct ShowJson<'a> {
    run: i64,
    sweep: &'a str,
    state: &'a str,
    params: &'a serde_json::Value,
    swept: &'a serde_json::Value,
    num_params: u64,
    evals: Vec<EvalJson>,
    samples: Vec<&'a str>,
    attempts: Vec<AttemptJson<'a>>,
    error: &'a str,
}

/// Runs `gptsweep show`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    let reply = ctx
        .client
        .show_run(pb::ShowRunRequest { run_id: args.run })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    let d = run_detail_from_pb(&reply);
    match ctx.output {
        OutputMode::Json => print_json(&ShowJson {
            run: d.run_id,
            sweep: &d.sweep,
            state: &d.state,
            params: &d.hyperparams,
            swept: &d.swept,
            num_params: d.num_params,
            evals: d
                .evals
                .iter()
                .map(|e| EvalJson {
                    step: e.step,
                    train_loss: e.train_loss,
                    val_loss: e.val_loss,
                    tokens_per_sec: e.tokens_per_sec,
                })
                .collect(),
            samples: d.samples.iter().map(|s| s.text.as_str()).collect(),
            attempts: d
                .attempts
                .iter()
                .map(|a| AttemptJson {
                    worker: &a.worker,
                    device: &a.device,
                    state: &a.state,
                    reason: &a.reason,
                    started_at_ms: a.started_at_ms,
                    ended_at_ms: a.ended_at_ms,
                    resumed_from: a.resumed_from,
                })
                .collect(),
            error: &d.error,
        })?,
        OutputMode::Text => {
            println!(
                "run {} of sweep {}: {} ({} parameters)",
                d.run_id, d.sweep, d.state, d.num_params
            );
            if !d.error.is_empty() {
                println!("error: {}", d.error);
            }
            println!("swept: {}", d.swept);
            println!("hyperparameters: {}", d.hyperparams);
            let rows: Vec<Vec<String>> = d
                .evals
                .iter()
                .map(|e| {
                    vec![
                        e.step.to_string(),
                        format!("{:.4}", e.train_loss),
                        format!("{:.4}", e.val_loss),
                        format!("{:.0}", e.tokens_per_sec),
                    ]
                })
                .collect();
            print!(
                "\n{}",
                table::render(&["STEP", "TRAIN", "VAL", "TOK/S"], &rows)
            );
            let rows: Vec<Vec<String>> = d
                .attempts
                .iter()
                .map(|a| {
                    vec![
                        a.lease_id.to_string(),
                        a.worker.clone(),
                        a.device.clone(),
                        a.state.clone(),
                        a.reason.clone(),
                    ]
                })
                .collect();
            print!(
                "\n{}",
                table::render(&["LEASE", "WORKER", "DEVICE", "STATE", "REASON"], &rows)
            );
            for (i, s) in d.samples.iter().enumerate() {
                println!(
                    "\n--- sample {} (seed {}) ---\n{}{}",
                    i + 1,
                    s.seed,
                    s.prompt,
                    s.text
                );
            }
        }
    }
    Ok(())
}
