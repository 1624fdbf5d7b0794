//! A W&B sweep file, read as the file of a user coming from W&B: the keys that only make
//! sense to W&B's agent or that W&B has and gptsweep does not are each named with what
//! to write instead, all in one submit, rather than failing at the first unknown key.

use serde_saphyr::{Location, Spanned};

use super::Checker;
use crate::sweep::file::{ParamFile, SweepFile};

/// `program`, `command`, `project`, `entity`: how W&B's agent runs a script and where it
/// logs; gptsweep's workers train the GPT themselves and the coordinator keeps the results.
pub(super) fn agent_keys(c: &mut Checker, f: &SweepFile) {
    let keys = [
        ("program", &f.program, "the script each run executes"),
        ("command", &f.command, "the command line of each run"),
        ("project", &f.project, "the W&B project runs are logged to"),
        (
            "entity",
            &f.entity,
            "the W&B user or team runs are logged to",
        ),
    ];
    for (key, v, what) in keys {
        if let Some(v) = v {
            c.err(
                v.referenced,
                format!(
                    "{key}: a W&B agent key ({what}); gptsweep's workers train the GPT \
                     themselves and the coordinator keeps the results, so leave it out"
                ),
            );
        }
    }
}

/// The W&B-only keys of parameter `name`; true when one was refused (the parameter is
/// then not checked further).
pub(super) fn param_keys(c: &mut Checker, name: &str, p: &Spanned<ParamFile>) -> bool {
    let pf = &p.value;
    let keys: [(&str, Option<Location>, &str); 5] = [
        (
            "parameters",
            pf.parameters.as_ref().map(|v| v.referenced),
            "nested parameters are not supported: every hyperparameter is a key of the \
             top-level parameters:",
        ),
        (
            "mu",
            pf.mu.as_ref().map(|v| v.referenced),
            "W&B's normal distributions are not supported; give min and max",
        ),
        (
            "sigma",
            pf.sigma.as_ref().map(|v| v.referenced),
            "W&B's normal distributions are not supported; give min and max",
        ),
        (
            "q",
            pf.q.as_ref().map(|v| v.referenced),
            "W&B's quantised distributions are not supported; list the values instead",
        ),
        (
            "probabilities",
            pf.probabilities.as_ref().map(|v| v.referenced),
            "weighted values are not supported: each of values is drawn equally often",
        ),
    ];
    let mut refused = false;
    for (key, loc, why) in keys {
        if let Some(loc) = loc {
            c.err(loc, format!("parameters.{name}.{key}: {why}"));
            refused = true;
        }
    }
    refused
}

/// What to write instead of W&B's distribution `d` for parameter `name`, if W&B has it.
pub(super) fn distribution(name: &str, d: &str, pf: &ParamFile) -> Option<String> {
    if d == "log_uniform" {
        let bound = |b: &Option<Spanned<crate::sweep::file::Scalar>>| {
            b.as_ref()
                .and_then(|v| v.value.as_f64())
                .map(|x| format!("{:.3e}", x.exp()))
        };
        let hint = match (bound(&pf.min), bound(&pf.max)) {
            (Some(lo), Some(hi)) => format!(" (here min: {lo}, max: {hi})"),
            _ => String::new(),
        };
        return Some(format!(
            "parameters.{name}.distribution: W&B's log_uniform takes min and max as natural \
             logarithms; write log_uniform_values with the values themselves{hint}"
        ));
    }
    let wandb = [
        "q_uniform",
        "q_log_uniform",
        "q_log_uniform_values",
        "inv_log_uniform",
        "inv_log_uniform_values",
        "normal",
        "q_normal",
        "log_normal",
        "q_log_normal",
        "beta",
        "q_beta",
        "constant",
        "categorical_w_probabilities",
    ];
    wandb.contains(&d).then(|| {
        format!(
            "parameters.{name}.distribution: W&B's {d} is not supported; expected uniform, \
             int_uniform, log_uniform_values or categorical{}",
            if d == "constant" {
                " (a constant is value: X)"
            } else {
                ""
            }
        )
    })
}

/// `metric.target`: W&B ends the sweep when a run reaches it; gptsweep runs to its cap.
pub(super) fn metric_target(c: &mut Checker, f: &SweepFile) {
    if let Some(t) = f.metric.as_ref().and_then(|m| m.value.target.as_ref()) {
        c.err(
            t.referenced,
            "metric.target: not supported (W&B ends the sweep when a run reaches it); \
             gptsweep runs to run_cap, and `gptsweep cancel` ends a sweep early",
        );
    }
}

/// W&B hyperband's `max_iter` and `s` as the `min_iter` that gives the same rungs: W&B
/// divides `max_iter` by `eta` up to `s` times, each quotient above 1 a rung.
pub(super) fn min_iter_for(max_iter: i64, s: i64, eta: i64) -> Option<(i64, Vec<i64>)> {
    let mut rungs = Vec::new();
    let mut band = max_iter as f64;
    for _ in 0..s.max(0) {
        band /= eta.max(2) as f64;
        if band <= 1.0 {
            break;
        }
        rungs.push(band as i64);
    }
    rungs.sort_unstable();
    rungs.first().map(|m| (*m, rungs.clone()))
}

#[cfg(test)]
mod tests {
    use super::min_iter_for;

    #[test]
    fn max_iter_and_s_give_the_rungs_wandb_computes() {
        assert_eq!(min_iter_for(27, 2, 3), Some((3, vec![3, 9])));
        assert_eq!(min_iter_for(81, 3, 3), Some((3, vec![3, 9, 27])));
        assert_eq!(min_iter_for(100, 2, 2), Some((25, vec![25, 50])));
        assert_eq!(min_iter_for(3, 2, 3), None);
    }
}
