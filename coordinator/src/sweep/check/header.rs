//! The file's top-level settings: the sweep's name, description and tags, dataset,
//! tokenizer, search method, run cap and memory limit.

use gptsweep_core::TokenizerKind;
use gptsweep_core::corpus::{BUILTIN_TINYSHAKESPEARE, is_builtin};

use gptsweep_api::Named;

use super::Checker;
use crate::sweep::file::SweepFile;
use crate::sweep::metric::Method;
use crate::sweep::spec::{DatasetRef, MAX_RUNS};

fn stem(file_name: &str) -> String {
    std::path::Path::new(file_name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".into())
}

/// What is wrong with `name` as a sweep's name, if anything (the file's `name:` and
/// `submit --name` obey the same rule).
pub fn name_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() || name.len() > 100 || name.chars().any(|ch| !printable_in_name(ch)) {
        Some(format!(
            "{name:?} must be 1-100 printable characters without '/', control, invisible or \
             bidirectional-control characters"
        ))
    } else if name.parse::<i64>().is_ok() {
        Some(format!(
            "{name:?} must not be a number (numbers refer to sweep ids)"
        ))
    } else {
        None
    }
}

/// `name:`, or the file's stem.
pub(super) fn name(c: &mut Checker, file_name: &str, f: &SweepFile) -> String {
    match &f.name {
        Some(n) => match name_problem(&n.value) {
            Some(problem) => {
                c.err(n.referenced, format!("name: {problem}"));
                String::new()
            }
            None => n.value.clone(),
        },
        None => stem(file_name),
    }
}

/// Longest `description:`, in characters.
const MAX_DESCRIPTION: usize = 2000;
/// Most `tags:`, and the longest tag in characters.
const MAX_TAGS: (usize, usize) = (20, 50);

/// `description:`: free text (line breaks allowed), at most [`MAX_DESCRIPTION`] characters.
pub(super) fn description(c: &mut Checker, f: &SweepFile) -> String {
    let Some(d) = &f.description else {
        return String::new();
    };
    let text = d.value.trim();
    if text.chars().count() > MAX_DESCRIPTION {
        c.err(
            d.referenced,
            format!(
                "description: {} characters; at most {MAX_DESCRIPTION}",
                text.chars().count()
            ),
        );
    } else if text
        .chars()
        .any(|ch| ch != '\n' && ch != '\t' && ch != '/' && !printable_in_name(ch))
    {
        c.err(
            d.referenced,
            "description: must not hold control, invisible or bidirectional-control characters (line breaks and tabs are fine)",
        );
    }
    text.to_string()
}

/// `tags:`: a list of at most [`MAX_TAGS`] distinct labels, each like a name.
pub(super) fn tags(c: &mut Checker, f: &SweepFile) -> Vec<String> {
    let Some(list) = &f.tags else {
        return Vec::new();
    };
    if list.value.len() > MAX_TAGS.0 {
        c.err(
            list.referenced,
            format!("tags: {} tags; at most {}", list.value.len(), MAX_TAGS.0),
        );
    }
    let mut tags: Vec<String> = Vec::new();
    for t in &list.value {
        let tag = t.value.trim();
        if tag.is_empty()
            || tag.chars().count() > MAX_TAGS.1
            || !tag.chars().all(|ch| printable_in_name(ch) && ch != ',')
        {
            c.err(
                t.referenced,
                format!(
                    "tags: {:?} must be 1-{} printable characters without '/', ',', control, invisible or bidirectional-control characters",
                    t.value, MAX_TAGS.1
                ),
            );
        } else if tags.iter().any(|seen| seen == tag) {
            c.err(t.referenced, format!("tags: {tag:?} is listed twice"));
        } else {
            tags.push(tag.to_string());
        }
    }
    tags
}

/// Whether `ch` may appear in a sweep name: printable, not '/', and none of the invisible
/// or bidirectional controls (U+200B..U+200F, U+202A..U+202E, U+2060, U+2066..U+2069,
/// U+FEFF) that make a name display as something it is not.
fn printable_in_name(ch: char) -> bool {
    !(ch.is_control()
        || ch == '/'
        || matches!(ch, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'))
}

/// `dataset:`, a built-in corpus by default.
pub(super) fn dataset(c: &mut Checker, f: &SweepFile) -> DatasetRef {
    match &f.dataset {
        None => DatasetRef::Builtin(BUILTIN_TINYSHAKESPEARE.into()),
        Some(d) if is_builtin(&d.value) => DatasetRef::Builtin(d.value.clone()),
        Some(d) if d.value.trim().is_empty() => {
            c.err(
                d.referenced,
                "dataset: must name a built-in corpus (tinyshakespeare) or a file",
            );
            DatasetRef::Builtin(String::new())
        }
        Some(d) => DatasetRef::Path(d.value.clone()),
    }
}

/// `tokenizer:`, every run's tokenizer: the same as `train: {tokenizer: ...}`, so it may
/// not also be fixed there or swept under `parameters:`.
pub(super) fn tokenizer(c: &mut Checker, f: &SweepFile) -> Option<TokenizerKind> {
    let t = f.tokenizer.as_ref()?;
    let elsewhere = [
        (
            "train",
            f.train
                .as_ref()
                .and_then(|m| m.value.get("tokenizer"))
                .map(|v| v.referenced),
        ),
        (
            "parameters",
            f.parameters
                .as_ref()
                .and_then(|m| m.value.get("tokenizer"))
                .map(|v| v.referenced),
        ),
    ];
    for (section, loc) in elsewhere {
        if let Some(loc) = loc {
            c.err(
                t.referenced,
                format!(
                    "tokenizer: also given under {section}: (line {}); give it once (to \
                     compare tokenizers, sweep it under parameters: and leave this out)",
                    loc.line()
                ),
            );
            return None;
        }
    }
    let kind = TokenizerKind::ALL.into_iter().find(|k| k.name() == t.value);
    if kind.is_none() {
        c.err(
            t.referenced,
            format!(
                "tokenizer: unknown tokenizer {:?}; expected char or gpt2",
                t.value
            ),
        );
    }
    kind
}

/// `method:`; `None` when it is not one that is built.
pub(super) fn method(c: &mut Checker, f: &SweepFile) -> Option<Method> {
    if let Ok(method) = Method::parse(&f.method.value) {
        return Some(method);
    }
    match f.method.value.as_str() {
        "bayes" => {
            c.err(
                f.method.referenced,
                "method: bayes is W&B's Bayesian search; gptsweep's model-based search is tpe",
            );
            None
        }
        other => {
            c.err(
                f.method.referenced,
                format!("method: unknown method {other:?}; expected grid, random or tpe"),
            );
            None
        }
    }
}

/// `run_cap:`, required by random search and tpe.
pub(super) fn run_cap(c: &mut Checker, f: &SweepFile, method: Option<Method>) -> Option<usize> {
    match &f.run_cap {
        Some(r) if r.value < 1 || r.value as usize > MAX_RUNS => {
            c.err(
                r.referenced,
                format!("run_cap: {} must be between 1 and {MAX_RUNS}", r.value),
            );
            None
        }
        Some(r) => Some(r.value as usize),
        None => {
            if let Some(m @ (Method::Random | Method::Tpe)) = method {
                c.err(
                    f.method.referenced,
                    format!("run_cap: required when method is {m}"),
                );
            }
            None
        }
    }
}

/// `max_memory_gb:` in bytes, 80 GiB by default.
pub(super) fn max_memory(c: &mut Checker, f: &SweepFile) -> u64 {
    match &f.max_memory_gb {
        Some(m) if !(m.value.is_finite() && m.value > 0.0) => {
            c.err(
                m.referenced,
                format!("max_memory_gb: {} must be > 0", m.value),
            );
            0
        }
        Some(m) => (m.value * (1u64 << 30) as f64) as u64,
        None => 80 << 30,
    }
}
