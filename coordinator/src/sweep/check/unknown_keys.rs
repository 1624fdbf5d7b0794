//! Every unknown key of a sweep file in one submit. serde stops at the first unknown key,
//! so each one found is reported and its lines (the key and the block under it) are blanked
//! out, keeping every other line where it was, and the file is read again, until no
//! unknown key is left or one cannot be cut out on its own (a key inside a `{...}` flow
//! mapping). The rest of the file is then checked as usual, so a W&B file or a typo gets all
//! of its problems at once. A top-level key that is a hyperparameter (`lr: 0.001`) is
//! pointed to `train:` or `parameters:`; a near spelling of a known key is suggested.

use gptsweep_core::{HyperparamDef, nearest_name};

use crate::sweep::diagnostic::Diagnostic;
use crate::sweep::file::SweepFile;

/// Most unknown keys reported from one file (each costs a re-read).
const MAX_UNKNOWN: usize = 50;

/// The file read with its unknown keys cut out, and a diagnostic for each of them; `Err`
/// is the first error that is not an unknown key that can be cut (with the ones before).
pub(super) fn parse(
    yaml: &str,
    diagnose: impl Fn(&serde_saphyr::Error, &str) -> Diagnostic,
) -> (Result<SweepFile, Diagnostic>, Vec<Diagnostic>) {
    let mut text = yaml.to_string();
    let mut unknown = Vec::new();
    loop {
        let err = match serde_saphyr::from_str::<SweepFile>(&text) {
            Ok(f) => return (Ok(f), unknown),
            Err(e) => e,
        };
        let mut d = diagnose(&err, yaml);
        let (Some((key, known)), Some(loc)) = (unknown_field(&err), err.location()) else {
            return (Err(d), unknown);
        };
        let (line, column) = (loc.line() as usize, loc.column() as usize);
        d.message = hint(key, known, column == 1, d.message);
        if unknown.len() >= MAX_UNKNOWN || !cut(&mut text, line, column) {
            return (Err(d), unknown);
        }
        unknown.push(d);
    }
}

/// Blanks the key starting at 1-based `line`:`column` and the lines indented under it;
/// false when the key does not start its line (it is inside a flow mapping).
fn cut(text: &mut String, line: usize, column: usize) -> bool {
    let mut lines: Vec<&str> = text.split('\n').collect();
    let Some(first) = line.checked_sub(1).filter(|i| *i < lines.len()) else {
        return false;
    };
    let indent = column - 1;
    let starts_line = lines[first]
        .get(..indent)
        .is_some_and(|before| before.chars().all(|c| c == ' ' || c == '-'));
    if !starts_line {
        return false;
    }
    let mut end = first + 1;
    while end < lines.len() {
        let l = lines[end];
        let blank = l.trim().is_empty() || l.trim_start().starts_with('#');
        let deeper = l.len() - l.trim_start().len() > indent;
        if !(blank || deeper) {
            break;
        }
        end += 1;
    }
    for l in &mut lines[first..end] {
        *l = "";
    }
    *text = lines.join("\n");
    true
}

/// The unknown key serde refused and the keys it expected there, read from the error's
/// structure (under the wrappers that add an alias's location or a source snippet); `None`
/// for any other error.
fn unknown_field(mut err: &serde_saphyr::Error) -> Option<(&str, &[&'static str])> {
    use serde_saphyr::Error;
    loop {
        match err {
            Error::AliasError { error, .. } | Error::WithSnippet { error, .. } => err = error,
            Error::SerdeUnknownField {
                field, expected, ..
            } => return Some((field, expected)),
            _ => return None,
        }
    }
}

/// An unknown key's message with what the user most likely meant among the `known` keys.
fn hint(key: &str, known: &[&str], top_level: bool, message: String) -> String {
    if top_level && HyperparamDef::find(key).is_some() {
        return format!(
            "{key}: a hyperparameter, not a key of the sweep file: put it under train: (fixed \
             for every run) or parameters: (swept)"
        );
    }
    match nearest_name(key, known.iter().copied()) {
        Some(k) => message.replacen("unknown key", &format!("unknown key; did you mean {k}?"), 1),
        None => message,
    }
}
