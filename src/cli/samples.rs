//! `gptsweep samples SWEEP [--top N]`: the best runs' generated text side by side, each
//! headed by the sweep's metric (bits per character on a sweep ranked by them), and a line
//! saying why fewer than N are shown (runs store samples when they finish).

use gptsweep_api::{LeaderboardRow, MetricName, Named, RunState};
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
    /// Column width in characters [the terminal's width shared by the columns; 40 when
    /// stdout is not a terminal].
    #[arg(long, value_parser = clap::value_parser!(u16).range(8..=1000))]
    pub width: Option<u16>,
}

/// Narrowest and widest column the terminal's width gives.
const AUTO_WIDTH: (usize, usize) = (20, 100);

/// The column width for `columns` side by side: `--width`, else what the terminal fits.
pub fn column_width(asked: Option<u16>, columns: usize) -> usize {
    if let Some(w) = asked {
        return w as usize;
    }
    let term = console::Term::stdout();
    if !term.is_term() {
        return 40;
    }
    let (_, cols) = term.size();
    let n = columns.max(1);
    // " | " between columns.
    ((cols as usize).saturating_sub(3 * (n - 1)) / n).clamp(AUTO_WIDTH.0, AUTO_WIDTH.1)
}

/// One run's samples as JSON (`samples` and `local` print the same entries).
#[derive(Serialize)]
struct Entry<'a> {
    run: i64,
    rank: u32,
    best_val_loss: Option<f64>,
    samples: Vec<&'a str>,
}

/// `text` in lines of at most `width` characters, broken after the last space that fits
/// (a word longer than a line is cut); the text's own line breaks are kept.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for line in text.split('\n') {
        let mut rest: Vec<char> = line.chars().collect();
        if rest.is_empty() {
            out.push(String::new());
        }
        while !rest.is_empty() {
            if rest.len() <= width {
                out.push(rest.drain(..).collect());
                break;
            }
            // The last space within the first width + 1 characters ends the line there.
            let cut = match rest[..=width].iter().rposition(|&c| c == ' ') {
                Some(space) if space > 0 => space,
                _ => width,
            };
            out.push(
                rest[..cut]
                    .iter()
                    .collect::<String>()
                    .trim_end()
                    .to_string(),
            );
            rest.drain(..cut);
            if rest.first() == Some(&' ') {
                rest.remove(0);
            }
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
    /// The metric that ranks them, shown in each column's header.
    pub metric: MetricName,
    /// How many runs were asked for (`--top`).
    pub asked: usize,
}

/// A run's value as its header shows it: the metric's name and the value the row has for
/// it (a training metric's latest value; bits per character from the best validation).
fn metric_value(metric: MetricName, r: &LeaderboardRow) -> String {
    let (name, value) = match metric {
        MetricName::ValLoss => ("val_loss", r.best_val_loss),
        MetricName::ValBpc | MetricName::TrainBpc => ("val_bpc", r.best_val_bpc),
        MetricName::TrainLoss => ("train_loss", r.last_train_loss),
    };
    format!("{name} {}", table::loss(value))
}

/// Why fewer columns than `asked` are shown, if they are: the sweep has fewer runs, or
/// some of the best have no samples yet (not finished) or never will (stopped early,
/// failed, cancelled).
fn shortfall(runs: &[LeaderboardRow], shown: usize, asked: usize) -> Option<String> {
    if shown >= asked {
        return None;
    }
    let mut why = Vec::new();
    if runs.len() < asked {
        why.push(format!(
            "the sweep has {}",
            table::plural(runs.len() as u64, "run")
        ));
    }
    let without: Vec<String> = runs
        .iter()
        .filter(|r| r.samples.is_empty())
        .map(|r| {
            let state = match r.state {
                RunState::Queued | RunState::Running => "not finished",
                other => other.as_str(),
            };
            format!("run {} ({state})", r.run)
        })
        .collect();
    if !without.is_empty() {
        why.push(format!(
            "{} {} no samples: a run stores its samples when it finishes",
            without.join(", "),
            if without.len() == 1 { "has" } else { "have" }
        ));
    }
    Some(format!(
        "{shown} of --top {asked} shown: {}\n",
        why.join("; ")
    ))
}

impl Document for SamplesDoc<'_> {
    fn text(&self) -> String {
        let width = self.width;
        let with: Vec<&LeaderboardRow> =
            self.runs.iter().filter(|r| !r.samples.is_empty()).collect();
        let note = shortfall(self.runs, with.len(), self.asked).unwrap_or_default();
        if with.is_empty() {
            return format!("no samples yet: runs store theirs when they finish\n{note}");
        }
        let headers: Vec<String> = with
            .iter()
            .map(|r| {
                format!(
                    "#{} run {} ({})",
                    r.rank,
                    r.run,
                    metric_value(self.metric, r)
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
        out + &note
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
    let columns = board.rows.iter().filter(|r| !r.samples.is_empty()).count();
    ctx.print(&SamplesDoc {
        runs: &board.rows,
        width: column_width(args.width, columns),
        metric: board.sweep.metric,
        asked: args.top as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn lines_break_at_word_boundaries_and_long_words_are_cut() {
        assert_eq!(wrap("to be or not to be", 9), ["to be or", "not to be"]);
        assert_eq!(
            wrap("ROMEO:\nabcdefghij kl", 4),
            ["ROME", "O:", "abcd", "efgh", "ij", "kl"]
        );
        assert_eq!(wrap("a\n\nb", 5), ["a", "", "b"]);
        for line in wrap("the quick brown fox jumps over the lazy dog", 10) {
            assert!(line.chars().count() <= 10, "{line:?}");
        }
    }
}
