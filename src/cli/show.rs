//! `gptsweep show RUN`: a run's parameters, every evaluation, its samples and attempts.
//! A run stopped early (ASHA) or by a cancel ended as it was asked to: its reason reads
//! as an outcome (`stopped: ...`, JSON `stop_reason`), not as an `error`, which only a
//! failed run has. A running run says where it is between evaluations: its step, tok/s,
//! ETA, the report's age and its worker ([`run_progress`]).

use gptsweep_api::{Named, RunDetail, RunProgress, RunState};
use gptsweep_proto::pb;
use serde::Serialize;
use serde_json::Value;

use super::ctx::Ctx;
use super::output::{Document, to_json};
use super::{params_table, run_progress, table, terminal};

/// Flags of `gptsweep show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run id (from `top`).
    pub run: i64,
}

#[derive(Serialize)]
struct EvalJson {
    step: u64,
    train_loss: f32,
    val_loss: f32,
    train_bpc: f32,
    val_bpc: f32,
    tokens_per_sec: f64,
    /// Seconds of training up to this step (compilation included).
    train_secs: f64,
}

#[derive(Serialize)]
struct AttemptJson<'a> {
    worker: &'a str,
    device: &'a str,
    state: &'static str,
    reason: &'a str,
    started_at_ms: i64,
    ended_at_ms: Option<i64>,
    resumed_from: u64,
}

#[derive(Serialize)]
struct ShowJson<'a> {
    run: i64,
    sweep: &'a str,
    state: &'static str,
    /// Its name and note (`gptsweep annotate`; empty = none).
    name: &'a str,
    note: &'a str,
    params: &'a serde_json::Map<String, Value>,
    swept: &'a serde_json::Map<String, Value>,
    num_params: u64,
    evals: Vec<EvalJson>,
    samples: Vec<&'a str>,
    attempts: Vec<AttemptJson<'a>>,
    /// Why a failed run failed (empty otherwise).
    error: &'a str,
    /// Why a stopped or cancelled run was stopped (empty otherwise).
    stop_reason: &'a str,
    /// A running run's latest step, throughput, ETA, report age and worker (null otherwise).
    progress: Option<&'a RunProgress>,
}

/// The run's reason split by what it is: (error, stop reason).
fn reasons(d: &RunDetail) -> (&str, &str) {
    match d.state {
        RunState::Stopped | RunState::Cancelled => ("", &d.error),
        _ => (&d.error, ""),
    }
}

/// One run in full.
struct ShowDoc(RunDetail);

impl Document for ShowDoc {
    fn text(&self) -> String {
        let d = &self.0;
        let mut out = format!(
            "run {} of sweep {}: {} ({} parameters)\n",
            d.run, d.sweep, d.state, d.num_params
        );
        if !d.name.is_empty() {
            out += &format!("name: {}\n", terminal::escape_line(&d.name));
        }
        if !d.note.is_empty() {
            for (i, line) in d.note.lines().enumerate() {
                let label = if i == 0 { "note:" } else { "     " };
                out += &format!("{label} {}\n", terminal::escape_line(line));
            }
        }
        let (error, stop_reason) = reasons(d);
        if !error.is_empty() {
            out += &format!("error: {error}\n");
        }
        if !stop_reason.is_empty() {
            out += &format!("stopped: {stop_reason}\n");
        }
        if d.state == RunState::Running {
            let line = match &d.progress {
                Some(p) => run_progress::live(p),
                None => run_progress::line(&d.hyperparams, &d.evals),
            };
            out += &format!("{line}\n");
        }
        out += &format!("\n{}", params_table::render(&d.hyperparams, &d.swept));
        let rows: Vec<Vec<String>> = d
            .evals
            .iter()
            .map(|e| {
                vec![
                    e.step.to_string(),
                    format!("{:.4}", e.train_loss),
                    format!("{:.4}", e.val_loss),
                    format!("{:.4}", e.val_bpc),
                    format!("{:.0}", e.tokens_per_sec),
                ]
            })
            .collect();
        out += &format!(
            "\n{}",
            table::render(&["STEP", "TRAIN", "VAL", "VAL BPC", "TOK/S"], &rows)
        );
        let rows: Vec<Vec<String>> = d
            .attempts
            .iter()
            .map(|a| {
                vec![
                    a.lease.to_string(),
                    a.worker.clone(),
                    a.device.clone(),
                    a.state.as_str().into(),
                    match a.resumed_from {
                        0 => "scratch".into(),
                        step => format!("step {step}"),
                    },
                    a.reason.clone(),
                ]
            })
            .collect();
        out += &format!(
            "\n{}",
            table::render(
                &["LEASE", "WORKER", "DEVICE", "STATE", "FROM", "REASON"],
                &rows
            )
        );
        for (i, s) in d.samples.iter().enumerate() {
            out += &format!(
                "\n--- sample {} (seed {}) ---\n{}{}\n",
                i + 1,
                s.seed,
                s.prompt,
                s.text
            );
        }
        out
    }

    fn json(&self) -> Value {
        let d = &self.0;
        to_json(&ShowJson {
            run: d.run.get(),
            sweep: &d.sweep,
            state: d.state.as_str(),
            name: &d.name,
            note: &d.note,
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
                    train_bpc: e.train_bpc,
                    val_bpc: e.val_bpc,
                    tokens_per_sec: e.tokens_per_sec,
                    train_secs: e.train_secs,
                })
                .collect(),
            samples: d.samples.iter().map(|s| s.text.as_str()).collect(),
            attempts: d
                .attempts
                .iter()
                .map(|a| AttemptJson {
                    worker: &a.worker,
                    device: &a.device,
                    state: a.state.as_str(),
                    reason: &a.reason,
                    started_at_ms: a.started_at_ms,
                    ended_at_ms: a.ended_at_ms,
                    resumed_from: a.resumed_from,
                })
                .collect(),
            error: reasons(d).0,
            stop_reason: reasons(d).1,
            progress: d.progress.as_ref(),
        })
    }
}

/// Runs `gptsweep show`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    let reply = ctx
        .client
        .show_run(pb::ShowRunRequest { run_id: args.run })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    ctx.print(&ShowDoc(RunDetail::try_from(&reply)?))
}
