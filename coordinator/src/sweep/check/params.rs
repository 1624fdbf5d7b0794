//! `parameters:`: each swept hyperparameter as one value, a list, or a range (`range.rs`),
//! checked for what the search method can do with it and for the hyperparameter's type
//! (through the hyperparameter table, as the planner will apply it).

use std::collections::BTreeMap;

use serde_saphyr::{Location, Spanned};

use gptsweep_core::{HyperparamDef, Hyperparams};

use super::Checker;
use super::{range, reach, wandb};
use crate::sweep::file::{ParamFile, Scalar, SweepFile};
use crate::sweep::metric::Method;
use crate::sweep::param::{Distribution, Param};
use crate::sweep::spec::MAX_RUNS;

/// The swept parameters that passed, by name.
pub(super) fn check(
    c: &mut Checker,
    f: &SweepFile,
    base: &Hyperparams,
    method: Option<Method>,
) -> BTreeMap<String, Param> {
    let mut out = BTreeMap::new();
    let Some(params) = &f.parameters else {
        return out;
    };
    for (name, p) in &params.value {
        if wandb::param_keys(c, name, p) {
            continue;
        }
        if let Err(e) = HyperparamDef::named(name) {
            c.err(p.referenced, format!("parameters.{e}"));
            continue;
        }
        if let Some(fixed) = f.train.as_ref().and_then(|t| t.value.get(name)) {
            c.err(
                p.referenced,
                format!(
                    "parameters.{name}: also fixed under train: (line {}); a key is either \
                     swept or fixed, not both",
                    fixed.referenced.line()
                ),
            );
            continue;
        }
        if let Some(param) = check_param(c, name, p, base, method) {
            out.insert(name.clone(), param);
        }
    }
    // A grid names its invalid points when planned.
    if method != Some(Method::Grid) {
        reach::check(c, &params.value, &out, base);
    }
    out
}

fn check_param(
    c: &mut Checker,
    name: &str,
    p: &Spanned<ParamFile>,
    base: &Hyperparams,
    method: Option<Method>,
) -> Option<Param> {
    let loc = p.referenced;
    let pf = &p.value;
    let dist = match &pf.distribution {
        Some(d) => match Distribution::parse(&d.value) {
            Some(x) => Some(x),
            None => {
                let msg = wandb::distribution(name, &d.value, pf).unwrap_or_else(|| format!("parameters.{name}.distribution: unknown {:?}; expected uniform, int_uniform, log_uniform_values or categorical", d.value));
                c.err(d.referenced, msg);
                return None;
            }
        },
        None => None,
    };
    let kinds = [
        pf.value.is_some(),
        pf.values.is_some(),
        pf.min.is_some() || pf.max.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        c.err(
            loc,
            format!("parameters.{name}: give exactly one of value, values, or min and max"),
        );
        return None;
    }
    let param = if let Some(v) = &pf.value {
        Param::Value(v.value.to_json())
    } else if let Some(vs) = &pf.values {
        if vs.value.is_empty() {
            c.err(
                vs.referenced,
                format!("parameters.{name}.values: must not be empty"),
            );
            return None;
        }
        if let Some(d) = dist.filter(|d| *d != Distribution::Categorical) {
            c.err(
                vs.referenced,
                format!("parameters.{name}: distribution {d:?} needs min and max, not values"),
            );
            return None;
        }
        if method == Some(Method::Grid)
            && let Some(dup) = vs
                .value
                .iter()
                .enumerate()
                .find(|(i, v)| vs.value[..*i].contains(v))
                .map(|(_, v)| v)
        {
            c.err(
                vs.referenced,
                format!(
                    "parameters.{name}.values: {} is listed twice; a grid takes each value once",
                    dup.to_json()
                ),
            );
            return None;
        }
        Param::Values(vs.value.iter().map(Scalar::to_json).collect())
    } else {
        range::check(c, name, p, dist)?
    };
    if let Param::Range {
        min,
        max,
        distribution: Distribution::IntUniform,
    } = &param
        && method == Some(Method::Grid)
        && (*max as i128 - *min as i128 + 1) > MAX_RUNS as i128
    {
        c.err(
            loc,
            format!(
                "parameters.{name}: a grid over [{min}, {max}] has more than {MAX_RUNS} values"
            ),
        );
        return None;
    }
    if method == Some(Method::Grid) && param.grid_values().is_none() {
        c.err(loc, format!("parameters.{name}: a grid cannot enumerate a continuous range; give values, or int_uniform bounds"));
        return None;
    }
    // Every listed value must have the hyperparameter's type and keep its rule, even
    // when a draw might miss it.
    let candidates: Vec<(serde_json::Value, String, Location)> = match &param {
        Param::Value(v) => vec![(v.clone(), "value".into(), loc)],
        Param::Values(vs) => {
            let at = pf.values.as_ref().map_or(loc, |v| v.referenced);
            vs.iter()
                .map(|v| (v.clone(), "values".into(), at))
                .collect()
        }
        Param::Range {
            min,
            max,
            distribution,
        } => {
            let at = |b: &Option<Spanned<Scalar>>| b.as_ref().map_or(loc, |v| v.referenced);
            let json = |x: f64| -> serde_json::Value {
                if *distribution == Distribution::IntUniform {
                    (x as i64).into()
                } else {
                    x.into()
                }
            };
            vec![
                (json(*min), "min".into(), at(&pf.min)),
                (json(*max), "max".into(), at(&pf.max)),
            ]
        }
    };
    let def = HyperparamDef::named(name).expect("checked by the caller");
    for (v, which, at) in candidates {
        if let Err(e) = base.clone().set(name, &v) {
            c.err(at, format!("parameters.{e}"));
            return None;
        }
        if let Some(rule) = def.broken_rule(&v) {
            c.err(
                at,
                format!("parameters.{name}.{which}: {v} breaks {name}'s rule ({rule})"),
            );
            return None;
        }
    }
    Some(param)
}
