//! A swept parameter given as `min` and `max`: both numbers, finite and in order, with a
//! distribution that can draw from them.

use serde_saphyr::Spanned;

use super::Checker;
use crate::sweep::file::{ParamFile, Scalar};
use crate::sweep::param::{Distribution, Param};

/// The range of parameter `name` (uniform, or int_uniform when both bounds are integers,
/// unless `dist` says otherwise); `None` after a diagnostic.
pub(super) fn check(
    c: &mut Checker,
    name: &str,
    p: &Spanned<ParamFile>,
    dist: Option<Distribution>,
) -> Option<Param> {
    let loc = p.referenced;
    let (Some(min), Some(max)) = (&p.value.min, &p.value.max) else {
        c.err(
            loc,
            format!("parameters.{name}: a range needs both min and max"),
        );
        return None;
    };
    let (Some(lo), Some(hi)) = (min.value.as_f64(), max.value.as_f64()) else {
        c.err(
            min.referenced,
            format!("parameters.{name}: min and max must be numbers"),
        );
        return None;
    };
    if !lo.is_finite() || !hi.is_finite() {
        c.err(
            min.referenced,
            format!("parameters.{name}: min and max must be finite, got {lo} and {hi}"),
        );
        return None;
    }
    if lo > hi {
        c.err(
            min.referenced,
            format!("parameters.{name}: min {lo} is greater than max {hi}"),
        );
        return None;
    }
    let both_int = matches!((&min.value, &max.value), (Scalar::Int(_), Scalar::Int(_)));
    let distribution = dist.unwrap_or(if both_int {
        Distribution::IntUniform
    } else {
        Distribution::Uniform
    });
    match distribution {
        Distribution::Categorical => {
            c.err(
                loc,
                format!("parameters.{name}: categorical needs values, not min and max"),
            );
            return None;
        }
        Distribution::LogUniformValues if lo <= 0.0 => {
            c.err(
                min.referenced,
                format!("parameters.{name}: log_uniform_values needs min > 0, got {lo}"),
            );
            return None;
        }
        Distribution::IntUniform if !both_int => {
            c.err(
                min.referenced,
                format!("parameters.{name}: int_uniform needs integer min and max"),
            );
            return None;
        }
        _ => {}
    }
    Some(Param::Range {
        min: lo,
        max: hi,
        distribution,
    })
}
