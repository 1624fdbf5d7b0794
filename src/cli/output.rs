//! The one output layer (HyperQueue's `Output`): every verb builds a [`Document`], which
//! renders as text for people or as one JSON document for scripts, and every error is
//! rendered here too: a line on stderr, and with `--output json` also an object on stdout
//! (`{"error": {"kind", "message", "file", "line", "column"}}`), so a script reads stdout
//! whatever happened.

use clap::ValueEnum;
use serde::Serialize;
use serde_json::{Value, json};

use gptsweep_coordinator::sweep::SpecErrors;

use super::bad_input::BadInput;
use super::connect::Remote;

/// Why `--output csv` was refused.
pub const CSV_VERBS: &str =
    "--output csv: only `top` writes CSV; --output json works for every verb";

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputMode {
    /// Tables and progress bars for people.
    Text,
    /// One JSON document on stdout; progress goes to stderr.
    Json,
    /// Comma-separated values with a header row (`top` only), for spreadsheets.
    Csv,
}

/// What a verb prints: one value, two renderings.
pub trait Document {
    /// For people: tables, lines, side-by-side columns (ends with a newline).
    fn text(&self) -> String;
    /// For scripts: the document's JSON (keys and types pinned by tests/json_e2e.rs).
    fn json(&self) -> Value;
    /// For spreadsheets: a header row and one row a record, where the document is a table
    /// (`None` elsewhere: the CLI refuses `--output csv` for those verbs up front).
    fn csv(&self) -> Option<String> {
        None
    }
}

/// One CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Prints `doc` in `mode` on stdout; text with its control characters escaped (line
/// feeds and tabs kept), JSON and CSV exact.
///
/// A reader that stops early (`| head`) closes the pipe: the rest is dropped and the verb
/// ends quietly, as command-line tools do, never with a panic or an error.
pub fn print(mode: OutputMode, doc: &impl Document) -> anyhow::Result<()> {
    use std::io::Write;
    let text = match mode {
        // Names, descriptions and samples come from others' files: no raw control
        // characters reach the terminal (super::terminal).
        OutputMode::Text => super::terminal::escape(&doc.text()).into_owned(),
        OutputMode::Json => format!("{}\n", serde_json::to_string_pretty(&doc.json())?),
        OutputMode::Csv => doc.csv().ok_or_else(|| BadInput(CSV_VERBS.into()))?,
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => Ok(written?),
    }
}

/// A serialisable value as JSON (documents that are a plain record).
pub fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("documents serialise")
}

/// What kind of failure an error is, for scripts: `bad_input` (exit 2: a file, a flag, a
/// value, an unknown sweep or run), `access` (a token), `unreachable` (no coordinator),
/// `failed` (anything else, exit 1).
pub fn error_kind(err: &anyhow::Error, exit_code: u8) -> &'static str {
    if let Some(remote) = err.downcast_ref::<Remote>() {
        use tonic::Code::*;
        match remote.code {
            PermissionDenied | Unauthenticated => return "access",
            Unavailable => return "unreachable",
            NotFound => return "not_found",
            _ => {}
        }
    }
    if exit_code == 2 {
        "bad_input"
    } else {
        "failed"
    }
}

/// The error as the JSON object printed on stdout under `--output json`. A sweep file's
/// errors carry the file, line and column of the first problem and every problem in
/// `diagnostics`.
pub fn error_json(err: &anyhow::Error, exit_code: u8) -> Value {
    let mut error = json!({
        "kind": error_kind(err, exit_code),
        "message": format!("{err:#}"),
        "exit_code": exit_code,
    });
    if let Some(spec) = err.downcast_ref::<SpecErrors>() {
        let first = spec.diagnostics.first();
        error["file"] = json!(spec.file);
        error["line"] = json!(first.map(|d| d.line));
        error["column"] = json!(first.map(|d| d.column));
        error["diagnostics"] = spec
            .diagnostics
            .iter()
            .map(|d| json!({"line": d.line, "column": d.column, "message": d.message}))
            .collect();
    }
    json!({ "error": error })
}
