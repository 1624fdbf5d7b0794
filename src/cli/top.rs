//! `gptsweep top SWEEP [-n N]`: the leaderboard by the sweep's metric. While runs train,
//! a STEP and an ETA column say where each running run is between its evaluations
//! ([`run_progress`]).

use gptsweep_api::{Leaderboard, LeaderboardRow, MetricName, Named, RunProgress};
use gptsweep_proto::pb;
use serde::Serialize;
use serde_json::Value;

use super::ctx::Ctx;
use super::output::{Document, csv_field, to_json};
use super::{run_progress, table, terminal};

/// Flags of `gptsweep top`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sweep name or id.
    pub sweep: String,
    /// Show the best N runs (0 = all).
    #[arg(short = 'n', long = "limit", default_value_t = 10)]
    pub limit: u32,
}

/// A leaderboard row as JSON (`top` and `local` print the same rows).
#[derive(Debug, Serialize)]
struct Row<'a> {
    rank: u32,
    run: i64,
    /// Its name and note (`gptsweep annotate`; empty = none).
    name: &'a str,
    note: &'a str,
    state: &'static str,
    params: &'a serde_json::Map<String, Value>,
    best_val_loss: Option<f64>,
    best_val_bpc: Option<f64>,
    step: Option<u64>,
    last_train_loss: Option<f64>,
    steps: u64,
    num_params: u64,
    tokens_per_sec: f64,
    train_secs: f64,
    /// A running run's latest step, throughput and ETA (null otherwise).
    progress: Option<&'a RunProgress>,
}

/// Fetches the leaderboard with up to `samples` samples per run.
pub async fn fetch(
    ctx: &mut Ctx,
    sweep: &str,
    limit: u32,
    samples: u32,
) -> anyhow::Result<Leaderboard> {
    let reply = ctx
        .client
        .top(pb::TopRequest {
            sweep: sweep.to_string(),
            limit,
            samples,
        })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    Ok(Leaderboard::try_from(&reply)?)
}

/// The leaderboard as a document: a table, or an array of rows.
pub struct TopDoc<'a>(pub &'a Leaderboard);

impl Document for TopDoc<'_> {
    fn text(&self) -> String {
        let (info, runs) = (&self.0.sweep, &self.0.rows);
        // A NAME column only where some run has a name: most sweeps name none.
        let named = runs.iter().any(|r| !r.name.is_empty());
        let mut header: Vec<&str> = vec!["RANK", "RUN", "STATE"];
        if named {
            header.insert(2, "NAME");
        }
        let live = runs.iter().any(|r| r.progress.is_some());
        if live {
            header.extend(["STEP", "ETA"]);
        }
        header.extend(info.swept.iter().map(String::as_str));
        // Bits per character when they rank the runs (losses per token of different
        // tokenizers do not compare).
        let bpc = matches!(info.metric, MetricName::ValBpc | MetricName::TrainBpc);
        header.extend(["BEST VAL", "AT STEP", "TRAIN", "PARAMS", "TOK/S", "TIME"]);
        if bpc {
            header.insert(header.len() - 6, "VAL BPC");
        }
        let rows: Vec<Vec<String>> = runs
            .iter()
            .map(|r| {
                let mut row = vec![
                    r.rank.to_string(),
                    r.run.to_string(),
                    r.state.as_str().into(),
                ];
                if named {
                    row.insert(2, terminal::escape_line(&r.name).into_owned());
                }
                if live {
                    row.extend(match &r.progress {
                        Some(p) => [
                            format!(
                                "{}/{}",
                                run_progress::grouped(p.step),
                                run_progress::grouped(p.max_iters)
                            ),
                            run_progress::eta(p),
                        ],
                        None => ["-".into(), "-".into()],
                    });
                }
                row.extend(
                    info.swept
                        .iter()
                        .map(|k| r.params.get(k).map(table::value).unwrap_or_default()),
                );
                if bpc {
                    row.push(table::loss(r.best_val_bpc));
                }
                row.extend([
                    table::loss(r.best_val_loss),
                    r.best_step
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "-".into()),
                    table::loss(r.last_train_loss),
                    r.num_params.to_string(),
                ]);
                // A run that has not reported has no speed or time yet, not zeros.
                if r.steps == 0 {
                    row.extend(["-".to_string(), "-".to_string()]);
                } else {
                    row.extend([
                        format!("{:.0}", r.tokens_per_sec),
                        table::secs(r.train_secs),
                    ]);
                }
                row
            })
            .collect();
        // A precision every run shares is named once, in the title (a swept one is a
        // column like any swept parameter).
        let precision = if info.precision.is_empty() {
            String::new()
        } else {
            format!(", {} products", info.precision)
        };
        format!(
            "{} ({} by {}, {}{precision})\n{}",
            info.name,
            info.method,
            info.metric,
            info.goal,
            table::render(&header, &rows)
        )
    }

    fn json(&self) -> Value {
        json_rows(&self.0.rows)
    }

    /// The JSON's columns, the swept hyperparameters spread out; empty where no value.
    fn csv(&self) -> Option<String> {
        let swept = &self.0.sweep.swept;
        let mut header = vec!["rank", "run", "state"];
        header.extend(swept.iter().map(String::as_str));
        header.extend([
            "best_val_loss",
            "best_val_bpc",
            "step",
            "last_train_loss",
            "steps",
            "num_params",
            "tokens_per_sec",
            "train_secs",
            "name",
            "note",
        ]);
        let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        let mut out = header
            .iter()
            .map(|h| csv_field(h))
            .collect::<Vec<_>>()
            .join(",")
            + "\n";
        for r in &self.0.rows {
            let reported = r.steps > 0;
            let mut row = vec![
                r.rank.to_string(),
                r.run.to_string(),
                r.state.as_str().into(),
            ];
            row.extend(swept.iter().map(|k| match r.params.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            }));
            row.extend([
                opt(r.best_val_loss),
                opt(r.best_val_bpc),
                r.best_step.map(|s| s.to_string()).unwrap_or_default(),
                opt(r.last_train_loss),
                r.steps.to_string(),
                r.num_params.to_string(),
                opt(reported.then_some(r.tokens_per_sec)),
                opt(reported.then_some(r.train_secs)),
                r.name.clone(),
                r.note.clone(),
            ]);
            out += &row
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(",");
            out.push('\n');
        }
        Some(out)
    }
}

/// The leaderboard's rows as JSON.
pub fn json_rows(runs: &[LeaderboardRow]) -> Value {
    to_json(
        &runs
            .iter()
            .map(|r| Row {
                rank: r.rank,
                run: r.run.get(),
                name: &r.name,
                note: &r.note,
                state: r.state.as_str(),
                params: &r.params,
                best_val_loss: r.best_val_loss,
                best_val_bpc: r.best_val_bpc,
                step: r.best_step,
                last_train_loss: r.last_train_loss,
                steps: r.steps,
                num_params: r.num_params,
                tokens_per_sec: r.tokens_per_sec,
                train_secs: r.train_secs,
                progress: r.progress.as_ref(),
            })
            .collect::<Vec<_>>(),
    )
}

/// Runs `gptsweep top`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    let board = fetch(&mut ctx, &args.sweep, args.limit, 0).await?;
    ctx.print(&TopDoc(&board))
}
