//! A sweep's size said before anything trains, for `submit` and `local`: the estimate as a
//! document (`--dry-run`), and the `--yes` a big sweep asks for.

use gptsweep_coordinator::sweep::Estimate;
use gptsweep_coordinator::sweep::estimate::{CONFIRM_ABOVE_S, duration, thousands};
use serde_json::{Value, json};

use super::bad_input::BadInput;
use super::output::Document;

/// A planned sweep that was not stored (`--dry-run`).
pub struct DryRunDoc<'a> {
    /// The sweep's name.
    pub name: &'a str,
    /// Its size.
    pub estimate: &'a Estimate,
}

impl Document for DryRunDoc<'_> {
    fn text(&self) -> String {
        format!(
            "{}dry run: nothing was stored (an estimate from BENCHMARKS.md's measured table)\n",
            self.estimate.text(self.name)
        )
    }

    fn json(&self) -> Value {
        json!({
            "dry_run": true,
            "name": self.name,
            "estimate": estimate_json(self.estimate),
        })
    }
}

/// The estimate as JSON, saying that it is one.
pub fn estimate_json(e: &Estimate) -> Value {
    let mut v = serde_json::to_value(e).expect("an estimate serialises");
    v["note"] = json!(
        "an estimate: runs one at a time on each device kind, from BENCHMARKS.md's measured table"
    );
    v
}

/// Refuses a sweep estimated over the threshold unless `yes`: bad input (exit 2), one
/// line saying the estimate and how to go on.
pub fn confirm(file: &str, e: &Estimate, yes: bool) -> Result<(), BadInput> {
    if yes || !e.needs_confirmation() {
        return Ok(());
    }
    let cpu = &e.time[0];
    Err(BadInput(format!(
        "{file}: estimated {} one run at a time on {} ({}, {} tokens to train), over the {} that \
         needs --yes: rerun with --yes, see the plan with --dry-run, or lower it (run_cap, \
         train.max_iters, a smaller model)",
        duration(cpu.seconds),
        cpu.device,
        e.runs_text(),
        thousands(e.tokens_total),
        duration(CONFIRM_ABOVE_S),
    )))
}
