//! Where log lines go and how they look: human text on stderr by default, or one JSON
//! object a line (`--log-format json`) for a cluster's log pipeline (Loki, Elastic, Cloud
//! Logging). JSON lines have stable keys: `timestamp` (RFC 3339, UTC), `level`, `target`
//! (the module), `message`, and each of the event's fields at the top level (`run`,
//! `sweep`, `worker`, `lease`, `device` where the event names them). `GPTSWEEP_LOG` filters
//! either (`GPTSWEEP_LOG=debug`, `GPTSWEEP_LOG=gptsweep_worker=debug`). By default cubecl's
//! runtime says only warnings: at `info` its autotuner logs a line of several hundred
//! characters for every kernel it tunes (33 for the tests' tiny model on lavapipe), which
//! buried the worker's own lines; `GPTSWEEP_LOG=info` brings them back.

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human text, coloured on a terminal.
    Text,
    /// One JSON object a line.
    Json,
}

/// Starts logging to stderr at `default` level (unless `GPTSWEEP_LOG` says otherwise).
pub fn init(default: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GPTSWEEP_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{default},cubecl_runtime=warn"))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
}

/// Says `line` to the person watching: a plain line on stderr, or an `info` event when
/// the log is JSON (so every line of it stays one object).
pub fn say(json: bool, line: &str) {
    if json {
        tracing::info!("{line}");
    } else {
        eprintln!("{line}");
    }
}
