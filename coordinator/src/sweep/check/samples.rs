//! `samples:`: the text every finished run generates, 1 sample of 300 characters by
//! default.

use gptsweep_core::SampleOptions;
use gptsweep_core::sample::{MAX_PROMPT_CHARS, MAX_SAMPLE_LENGTH, SamplesSpec};

use super::Checker;
use crate::sweep::file::SweepFile;

/// The samples of each run.
pub(super) fn check(c: &mut Checker, f: &SweepFile) -> SamplesSpec {
    let mut spec = SamplesSpec {
        count: 1,
        options: SampleOptions {
            length: 300,
            ..SampleOptions::default()
        },
    };
    let Some(s) = &f.samples else { return spec };
    let s = &s.value;
    if let Some(p) = &s.prompt {
        let n = p.value.chars().count();
        if n > MAX_PROMPT_CHARS {
            c.err(
                p.referenced,
                format!("samples.prompt: {n} characters is over the limit of {MAX_PROMPT_CHARS}"),
            );
        }
        spec.options.prompt = p.value.clone();
    }
    if let Some(l) = &s.length {
        if !(1..=MAX_SAMPLE_LENGTH as i64).contains(&l.value) {
            c.err(
                l.referenced,
                format!(
                    "samples.length: {} must be between 1 and {MAX_SAMPLE_LENGTH}",
                    l.value
                ),
            );
        }
        spec.options.length = l.value.max(0) as usize;
    }
    if let Some(t) = &s.temperature {
        if !(t.value.is_finite() && t.value > 0.0) {
            c.err(
                t.referenced,
                format!("samples.temperature: {} must be > 0", t.value),
            );
        }
        spec.options.temperature = t.value;
    }
    if let Some(k) = &s.top_k {
        if k.value < 1 {
            c.err(
                k.referenced,
                format!("samples.top_k: {} must be >= 1", k.value),
            );
        }
        spec.options.top_k = Some(k.value.max(1) as usize);
    }
    if let Some(n) = &s.count {
        if !(0..=16).contains(&n.value) {
            c.err(
                n.referenced,
                format!("samples.count: {} must be between 0 and 16", n.value),
            );
        }
        spec.count = n.value.clamp(0, 16) as usize;
    }
    if let Some(seed) = &s.seed {
        spec.options.seed = seed.value;
    }
    spec
}
