//! `early_terminate:`: W&B's hyperband keys, of which only `min_iter` and `eta` are built;
//! the others are refused with a reason rather than ignored.

use super::{Checker, wandb};
use crate::sweep::early::EarlyTerminate;
use crate::sweep::file::SweepFile;

/// Early termination, if the file asks for it and asks for it rightly.
pub(super) fn check(c: &mut Checker, f: &SweepFile) -> Option<EarlyTerminate> {
    let e = &f.early_terminate.as_ref()?.value;
    if e.kind.value != "hyperband" {
        c.err(
            e.kind.referenced,
            format!(
                "early_terminate.type: {:?} is not supported; expected hyperband",
                e.kind.value
            ),
        );
    }
    let eta_given = e.eta.as_ref().map_or(3, |x| x.value);
    match (&e.max_iter, &e.s) {
        (Some(m), s) => {
            let s_value = s.as_ref().map_or(1, |s| s.value);
            let hint = match wandb::min_iter_for(m.value, s_value, eta_given) {
                Some((min_iter, rungs)) => format!(
                    "W&B's max_iter {} with s {s_value} and eta {eta_given} puts rungs at \
                     evaluations {}; here that is min_iter: {min_iter}",
                    m.value,
                    rungs
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => format!(
                    "W&B's max_iter {} with s {s_value} and eta {eta_given} puts no rung \
                     above 1 evaluation; give min_iter",
                    m.value
                ),
            };
            c.err(
                m.referenced,
                format!("early_terminate.max_iter: not supported; {hint}"),
            );
        }
        (None, Some(s)) => c.err(
            s.referenced,
            "early_terminate.s: W&B's bracket count goes with max_iter; give min_iter (and eta)",
        ),
        (None, None) => {}
    }
    if let Some(v) = &e.strict {
        c.err(
            v.referenced,
            "early_terminate.strict: not supported; give min_iter (and eta)",
        );
    }
    let min_iter = match &e.min_iter {
        Some(m) if m.value >= 1 => Some(m.value as u64),
        Some(m) => {
            c.err(
                m.referenced,
                format!("early_terminate.min_iter: {} must be >= 1", m.value),
            );
            None
        }
        None if e.max_iter.is_some() => None,
        None => {
            c.err(
                e.kind.referenced,
                "early_terminate.min_iter: required (the evaluation of the first rung)",
            );
            None
        }
    };
    let eta = match &e.eta {
        Some(x) if x.value >= 2 => x.value as u64,
        Some(x) => {
            c.err(
                x.referenced,
                format!("early_terminate.eta: {} must be >= 2", x.value),
            );
            3
        }
        None => 3,
    };
    Some(EarlyTerminate {
        min_iter: min_iter?,
        eta,
    })
}
