//! From a sweep file's text to a checked [`SweepSpec`]: every rule of SPEC.md's "rules a
//! user can rely on", each failure a [`Diagnostic`] at the offending line and column.
//! One module per section of the file; this one parses the YAML and runs them in order;
//! `whole.rs` adds the corpus and the plan, for every problem of a file in one pass.
//! Nothing here touches the store: a file that fails leaves no trace.

mod early;
mod header;
mod metric;
mod params;
mod range;
mod reach;
mod samples;
mod tpe;
mod train;
mod unknown_keys;
mod wandb;
mod whole;
mod yaml_error;

pub use header::name_problem;
pub use whole::{Checked, check_and_plan};

use serde_saphyr::Location;

use super::diagnostic::{Diagnostic, SpecErrors};
use super::file::SweepFile;
use super::spec::SweepSpec;

/// Collects the diagnostics of one file as the sections are checked.
struct Checker {
    diags: Vec<Diagnostic>,
}

impl Checker {
    fn err(&mut self, loc: Location, msg: impl Into<String>) {
        self.diags.push(Diagnostic::at(loc, msg));
    }
}

/// Parses and checks a sweep file. `file_name` names it in diagnostics and gives the
/// default sweep name.
pub fn parse_sweep(file_name: &str, yaml: &str) -> Result<SweepSpec, SpecErrors> {
    let fail = |diagnostics| SpecErrors {
        file: file_name.to_string(),
        diagnostics,
    };
    let (file, unknown) = unknown_keys::parse(yaml, diagnose);
    let file = match file {
        Ok(f) => f,
        Err(d) => {
            let mut all = unknown;
            all.push(d);
            all.sort_by_key(|d| (d.line, d.column));
            return Err(fail(all));
        }
    };
    let mut c = Checker { diags: unknown };
    let spec = check(&mut c, file_name, file);
    if c.diags.is_empty() {
        Ok(spec.expect("no diagnostics means a spec"))
    } else {
        c.diags.sort_by_key(|d| (d.line, d.column));
        Err(fail(c.diags))
    }
}

/// A parse error of `yaml` in gptsweep's words, at its position.
fn diagnose(e: &serde_saphyr::Error, yaml: &str) -> Diagnostic {
    let msg = e.to_string();
    let first = msg.lines().next().unwrap_or("invalid YAML").trim();
    // serde-saphyr says "error: line L column C: ..."; the diagnostic carries the position.
    let first = match first.strip_prefix("error: line ") {
        Some(rest) if rest.contains("column ") => {
            rest.split_once(": ").map(|(_, m)| m).unwrap_or(first)
        }
        _ => first,
    }
    .to_string();
    match e.location() {
        Some(loc) => {
            let message =
                yaml_error::reword(&first, yaml, loc.line() as usize, loc.column() as usize);
            Diagnostic::at(loc, message)
        }
        None => Diagnostic::whole(first),
    }
}

/// Every section in the file's order of concern; `None` only with diagnostics.
fn check(c: &mut Checker, file_name: &str, f: SweepFile) -> Option<SweepSpec> {
    wandb::agent_keys(c, &f);
    wandb::metric_target(c, &f);
    let name = header::name(c, file_name, &f);
    let description = header::description(c, &f);
    let tags = header::tags(c, &f);
    let dataset = header::dataset(c, &f);
    let tokenizer = header::tokenizer(c, &f);
    let method = header::method(c, &f);
    let metric = metric::check(c, &f);
    metric::check_comparable(c, &f, &metric);
    let early_terminate = early::check(c, &f);
    let run_cap = header::run_cap(c, &f, method);
    let tpe = tpe::check(c, &f, method, run_cap);
    let mut base = train::check(c, &f);
    if let Some(t) = tokenizer {
        base.tokenizer = t;
    }
    let parameters = params::check(c, &f, &base, method);
    let samples = samples::check(c, &f);
    let max_memory_bytes = header::max_memory(c, &f);
    Some(SweepSpec {
        name,
        description,
        tags,
        dataset,
        method: method?,
        metric,
        run_cap,
        seed: f.seed.as_ref().map(|s| s.value).unwrap_or(base.seed),
        parameters,
        base,
        samples,
        max_memory_bytes,
        early_terminate,
        tpe,
        skip_impossible: f.skip_impossible.is_some_and(|s| s.value),
    })
}
