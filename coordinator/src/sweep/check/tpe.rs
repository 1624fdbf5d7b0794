//! `tpe:`: the options of `method: tpe`, each with its default (Optuna's; the reasons are
//! in [`crate::sweep::tpe`]). A block under another method, and a start-up phase that
//! would leave no run to the model, are refused rather than ignored.

use gptsweep_api::Named;

use super::Checker;
use crate::sweep::file::SweepFile;
use crate::sweep::metric::Method;
use crate::sweep::tpe::TpeOptions;

/// Most candidates per proposal: each costs a density evaluation over every result.
const MAX_CANDIDATES: i64 = 10_000;

/// The tpe options of a `method: tpe` sweep; `None` for other methods.
pub(super) fn check(
    c: &mut Checker,
    f: &SweepFile,
    method: Option<Method>,
    run_cap: Option<usize>,
) -> Option<TpeOptions> {
    if method != Some(Method::Tpe) {
        if let (Some(block), Some(m)) = (&f.tpe, method) {
            c.err(
                block.referenced,
                format!(
                    "tpe: options of method: tpe, but this sweep's method is {}",
                    m.as_str()
                ),
            );
        }
        return None;
    }
    let mut opts = TpeOptions::default();
    let block = f.tpe.as_ref().map(|b| &b.value);
    let startup = block.and_then(|b| b.n_startup.as_ref());
    if let Some(n) = startup {
        if n.value < 1 {
            c.err(
                n.referenced,
                format!("tpe.n_startup: {} must be >= 1", n.value),
            );
        } else {
            opts.n_startup = n.value as usize;
        }
    }
    if let Some(n) = block.and_then(|b| b.n_ei_candidates.as_ref()) {
        if !(1..=MAX_CANDIDATES).contains(&n.value) {
            c.err(
                n.referenced,
                format!(
                    "tpe.n_ei_candidates: {} must be between 1 and {MAX_CANDIDATES}",
                    n.value
                ),
            );
        } else {
            opts.n_ei_candidates = n.value as usize;
        }
    }
    if let Some(g) = block.and_then(|b| b.gamma.as_ref()) {
        if !(g.value > 0.0 && g.value <= 1.0) {
            c.err(
                g.referenced,
                format!("tpe.gamma: {} must be in (0, 1]", g.value),
            );
        } else {
            opts.gamma = g.value;
        }
    }
    if let Some(cap) = run_cap
        && opts.n_startup >= cap
    {
        let (at, given) = match startup {
            Some(n) => (n.referenced, ""),
            None => (f.method.referenced, " (the default)"),
        };
        c.err(
            at,
            format!(
                "tpe.n_startup: {}{given} random runs come first, and run_cap is {cap}: no run \
                 would be left to the model; set tpe.n_startup below run_cap, or use method: random",
                opts.n_startup
            ),
        );
    }
    Some(opts)
}
