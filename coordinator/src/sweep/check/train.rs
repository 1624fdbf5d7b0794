//! `train:`: the fixed hyperparameters of every run, merged onto the defaults through the
//! hyperparameter table ([`Hyperparams::with_overrides`]), so names and types are the
//! table's.

use std::collections::BTreeMap;

use gptsweep_gpt::{HyperparamDef, Hyperparams};

use super::Checker;
use crate::sweep::file::SweepFile;

/// The base hyperparameters of every run; the defaults when `train:` has a bad value.
pub(super) fn check(c: &mut Checker, f: &SweepFile) -> Hyperparams {
    let defaults = Hyperparams::default();
    let Some(train) = &f.train else {
        return defaults;
    };
    let mut overrides = BTreeMap::new();
    let mut locs = BTreeMap::new();
    for (k, v) in &train.value {
        if let Err(e) = HyperparamDef::named(k) {
            c.err(v.referenced, format!("train.{e}"));
            continue;
        }
        overrides.insert(k.clone(), v.value.to_json());
        locs.insert(k.clone(), v.referenced);
    }
    match defaults.with_overrides(&overrides) {
        Ok(hp) => hp,
        Err(e) => {
            c.err(locs[e.name()], format!("train.{e}"));
            defaults
        }
    }
}
