//! `early_terminate:`: W&B's hyperband keys, of which only `min_iter` and `eta` are built;
//! the others are refused with a reason rather than ignored.

use super::Checker;
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
    for (key, v) in [
        ("max_iter", &e.max_iter),
        ("s", &e.s),
        ("strict", &e.strict),
    ] {
        if let Some(v) = v {
            c.err(
                v.referenced,
                format!("early_terminate.{key}: not supported; give min_iter (and eta)"),
            );
        }
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
        None => {
            c.err(
                e.kind.referenced,
                "early_terminate.min_iter: required (the step of the first rung)",
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
