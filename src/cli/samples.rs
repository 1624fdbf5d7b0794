//! `gptsweep samples SWEEP [--top N]`: the best runs' generated text side by side.

use gptsweep_api::LeaderboardRow;
use serde::Serialize;
use serde_json::Value;

use super::ctx::Ctx;
use super::output::{Document, to_json};
use super::table;

/// Flags of `gptsweep samples`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sweep name or id.
    pub sweep: String,
    /// How many of the best runs.
    #[arg(long, default_value_t = 3)]
    pub top: u32,
    /// Column width in characters.
    #[arg(long, default_value_t = 40)]
    pub width: usize,
}

/// One run's samples as JSON (`samples` and `local` print the same entries).
#[derive(Serialize)]
struct Entry<'a> {
    run: i64,
    rank: u32,
    best_val_loss: Option<f64>,
    samples: Vec<&'a str>,
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let chars: Vec<char> = line.chars().collect();
        if chars.is_empty() {
            out.push(String::new());
        }
        for chunk in chars.chunks(width.max(1)) {
            out.push(chunk.iter().collect());
        }
    }
    out
}

/// The best runs' samples: the first of each run in columns, or every entry as JSON.
pub struct SamplesDoc<'a> {
    /// The runs, best first.
    pub runs: &'a [LeaderboardRow],
    /// Column width in characters.
    pub width: usize,
}

impl Document for SamplesDoc<'_> {
    fn text(&self) -> String {
        let width = self.width;
        let with: Vec<&LeaderboardRow> =
            self.runs.iter().filter(|r| !r.samples.is_empty()).collect();
        if with.is_empty() {
            return "no samples yet: runs store theirs when they finish\n".into();
        }
        let headers: Vec<String> = with
            .iter()
            .map(|r| {
                format!(
                    "#{} run {} (val {})",
                    r.rank,
                    r.run,
                    table::loss(r.best_val_loss)
                )
            })
            .collect();
        let cols: Vec<Vec<String>> = with
            .iter()
            .map(|r| {
                wrap(
                    &format!("{}{}", r.samples[0].prompt, r.samples[0].text),
                    width,
                )
            })
            .collect();
        let height = cols.iter().map(Vec::len).max().unwrap_or(0);
        let pad = |s: &str| format!("{s:<width$}", width = width);
        let mut out = headers
            .iter()
            .map(|h| pad(&h.chars().take(width).collect::<String>()))
            .collect::<Vec<_>>()
            .join(" | ");
        out = out.trim_end().to_string() + "\n";
        out += &vec!["-".repeat(width); cols.len()].join("-+-");
        out.push('\n');
        for i in 0..height {
            let line: Vec<String> = cols
                .iter()
                .map(|c| pad(c.get(i).map(String::as_str).unwrap_or("")))
                .collect();
            out += line.join(" | ").trim_end();
            out.push('\n');
        }
        out
    }

    fn json(&self) -> Value {
        to_json(
            &self
                .runs
                .iter()
                .map(|r| Entry {
                    run: r.run.get(),
                    rank: r.rank,
                    best_val_loss: r.best_val_loss,
                    samples: r.samples.iter().map(|s| s.text.as_str()).collect(),
                })
                .collect::<Vec<_>>(),
        )
    }
}

/// Runs `gptsweep samples`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    let board = super::top::fetch(&mut ctx, &args.sweep, args.top, 16).await?;
    ctx.print(&SamplesDoc {
        runs: &board.rows,
        width: args.width,
    })
}
