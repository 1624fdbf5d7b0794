//! What a sweep says of its runs' `precision`: the one every run shares when the sweep
//! fixes it (for the leaderboard's title: runs are ranked within one precision unless the
//! precision is swept, and then it is a column like any swept parameter), and whether any
//! run may train in bf16 (for `gptsweep local`, which knows its devices before it submits).

use gptsweep_core::config::Precision;

use super::param::Param;
use super::spec::SweepSpec;

impl SweepSpec {
    /// Every run's precision where the sweep fixes one other than f32 (`bf16`); `None`
    /// where it is f32 or swept.
    pub fn fixed_precision(&self) -> Option<String> {
        (!self.parameters.contains_key("precision") && self.base.precision != Precision::F32)
            .then(|| self.base.precision.to_string())
    }

    /// Whether any run of this sweep may train in `precision`: the fixed one, or a value
    /// of the swept one.
    pub fn may_train_in(&self, precision: Precision) -> bool {
        let named = |v: &serde_json::Value| v.as_str() == Some(precision.as_str());
        match self.parameters.get("precision") {
            Some(Param::Value(v)) => named(v),
            Some(Param::Values(vs)) => vs.iter().any(named),
            Some(Param::Range { .. }) | None => self.base.precision == precision,
        }
    }
}
