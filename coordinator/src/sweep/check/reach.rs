//! Values no valid run can take: `n_embd` must be a multiple of `n_head`, so a listed
//! `n_embd` that no possible `n_head` divides (or an `n_head` that divides no possible
//! `n_embd`) is never drawn by random search or tpe, which redraw invalid models. Said at
//! submit rather than left to surprise the user in the results. An integer range is only
//! refused when none of its values can pair: its other values are simply drawn again.

use std::collections::BTreeMap;

use serde_saphyr::Spanned;

use gptsweep_core::Hyperparams;

use super::Checker;
use crate::sweep::file::ParamFile;
use crate::sweep::param::Param;

/// Widest integer range enumerated; wider ones are assumed to reach everything.
const MAX_ENUMERATED: f64 = 100_000.0;

/// Refuses every swept `n_embd` or `n_head` value that no value of the other can pair with.
pub(super) fn check(
    c: &mut Checker,
    files: &BTreeMap<String, Spanned<ParamFile>>,
    params: &BTreeMap<String, Param>,
    base: &Hyperparams,
) {
    let (Some(embd), Some(head)) = (
        possible(params, "n_embd", base.n_embd),
        possible(params, "n_head", base.n_head),
    ) else {
        return;
    };
    let sides = [
        ("n_embd", &embd, &head, "no n_head", "divides"),
        ("n_head", &head, &embd, "no n_embd", "is a multiple of"),
    ];
    for (name, mine, theirs, none, relation) in sides {
        let (Some(p), Some(file)) = (params.get(name), files.get(name)) else {
            continue;
        };
        let pairs = |v: u64| {
            theirs.iter().any(|t| {
                if name == "n_embd" {
                    *t > 0 && v.is_multiple_of(*t)
                } else {
                    v > 0 && t.is_multiple_of(v)
                }
            })
        };
        let never: Vec<u64> = mine.iter().copied().filter(|v| !pairs(*v)).collect();
        let whole = never.len() == mine.len();
        // A range is drawn from again until it pairs: only a range that never does is wrong.
        let ranged = matches!(p, Param::Range { .. });
        if never.is_empty() || (ranged && !whole) {
            continue;
        }
        let one = never.len() == 1;
        c.err(
            file.referenced,
            format!(
                "parameters.{name}: {} can never be drawn: n_embd must be a multiple of \
                 n_head, and {none} value ({}) {relation} {}{}",
                listed(&never),
                listed(theirs),
                if one { "it" } else { "them" },
                if whole {
                    "; no run of this sweep is a valid model"
                } else {
                    ""
                }
            ),
        );
    }
}

/// The first few values, comma-separated.
fn listed(vs: &[u64]) -> String {
    let shown: Vec<String> = vs.iter().take(8).map(u64::to_string).collect();
    let more = if vs.len() > 8 { ", ..." } else { "" };
    format!("{}{more}", shown.join(", "))
}

/// Every value `name` can take in this sweep (its fixed value when not swept), or `None`
/// when a range is too wide to list.
fn possible(params: &BTreeMap<String, Param>, name: &str, fixed: usize) -> Option<Vec<u64>> {
    let Some(p) = params.get(name) else {
        return Some(vec![fixed as u64]);
    };
    if let Param::Range { min, max, .. } = p
        && max - min > MAX_ENUMERATED
    {
        return None;
    }
    let values = p.grid_values()?;
    Some(
        values
            .iter()
            .filter_map(serde_json::Value::as_u64)
            .collect(),
    )
}
