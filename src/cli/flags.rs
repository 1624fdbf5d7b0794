//! The flags several verbs share, each on the verbs where it means something (cargo's and
//! kubectl's habit): the connection to a coordinator (`--coordinator`, `--token-file`,
//! `--tls-ca`) only on verbs that connect, `--output` only on verbs that print a result,
//! and `csv` among its values only where it is accepted (`top`). They were global once, so
//! that `coordinator -h` offered `--coordinator` and `samples -h` offered `csv`.

use std::ffi::OsStr;
use std::path::PathBuf;

use clap::ValueEnum;
use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::ErrorKind;

use super::connect;
use super::output::{CSV_VERBS, OutputMode};

/// How a verb that connects reaches its coordinator.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// Coordinator address [http://127.0.0.1:50051; verbs that only look, and cancel,
    /// delete and annotate, use `gptsweep local`'s state when none is given and that state
    /// exists].
    #[arg(long, env = "GPTSWEEP_COORDINATOR")]
    pub coordinator: Option<String>,
    /// Bearer token file: worker.token, client.token, or the coordinator's access.json.
    #[arg(long, env = "GPTSWEEP_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// PEM certificate(s) of the CA to trust for an https:// coordinator [system roots].
    #[arg(long, env = "GPTSWEEP_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
}

impl Connection {
    /// The coordinator's address: the one given, else the default.
    pub fn address(&self) -> &str {
        self.coordinator
            .as_deref()
            .unwrap_or(connect::DEFAULT_COORDINATOR)
    }
}

/// `--output text|json`, for verbs that print a result but no table (`csv` is refused
/// with a line naming the verb that writes it).
#[derive(Debug, Clone, clap::Args)]
pub struct Output {
    /// How the result is printed.
    #[arg(long = "output", env = "GPTSWEEP_OUTPUT", default_value = "text",
          value_parser = ModeParser(&[OutputMode::Text, OutputMode::Json]))]
    pub mode: OutputMode,
}

/// `--output text|json|csv`, for `top`, the one verb with a table to export.
#[derive(Debug, Clone, clap::Args)]
pub struct TableOutput {
    /// How the leaderboard is printed.
    #[arg(long = "output", env = "GPTSWEEP_OUTPUT", default_value = "text",
          value_parser = ModeParser(&[OutputMode::Text, OutputMode::Json, OutputMode::Csv]))]
    pub mode: OutputMode,
}

/// The output mode a verb's flags chose.
pub trait Mode {
    /// Text, JSON or CSV.
    fn mode(&self) -> OutputMode;
}

impl Mode for Output {
    fn mode(&self) -> OutputMode {
        self.mode
    }
}

impl Mode for TableOutput {
    fn mode(&self) -> OutputMode {
        self.mode
    }
}

/// A verb that talks to a coordinator: its own flags, the connection, and `--output`.
#[derive(Debug, clap::Args)]
pub struct Client<A: clap::Args, O: clap::Args = Output> {
    /// The verb's own flags.
    #[command(flatten)]
    pub args: A,
    /// `--output`.
    #[command(flatten)]
    pub output: O,
    /// `--coordinator`, `--token-file`, `--tls-ca`.
    #[command(flatten)]
    pub conn: Connection,
}

/// A verb that prints a result but connects to nothing (`train`, `local`).
#[derive(Debug, clap::Args)]
pub struct Printing<A: clap::Args> {
    /// The verb's own flags.
    #[command(flatten)]
    pub args: A,
    /// `--output`.
    #[command(flatten)]
    pub output: Output,
}

/// A verb with no flags of its own (`sweeps`, `workers`, `kernels`).
#[derive(Debug, clap::Args)]
pub struct NoArgs {}

/// Parses `--output` into one of `allowed`; help lists exactly those.
#[derive(Clone)]
struct ModeParser(&'static [OutputMode]);

impl TypedValueParser for ModeParser {
    type Value = OutputMode;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<OutputMode, clap::Error> {
        match value
            .to_str()
            .and_then(|v| OutputMode::from_str(v, false).ok())
        {
            Some(mode) if self.0.contains(&mode) => Ok(mode),
            // The one value a verb may refuse, said with the verb that takes it.
            Some(OutputMode::Csv) => Err(clap::Error::raw(
                ErrorKind::InvalidValue,
                format!("{CSV_VERBS}\n"),
            )
            .with_cmd(cmd)),
            _ => clap::builder::PossibleValuesParser::new(
                self.0.iter().filter_map(ValueEnum::to_possible_value),
            )
            .parse_ref(cmd, arg, value)
            .and_then(|name| {
                OutputMode::from_str(&name, false)
                    .map_err(|e| clap::Error::raw(ErrorKind::InvalidValue, e).with_cmd(cmd))
            }),
        }
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            self.0.iter().filter_map(ValueEnum::to_possible_value),
        ))
    }
}

/// A verb that connects but prints no result (`worker`, whose log is its output).
#[derive(Debug, clap::Args)]
pub struct Connected<A: clap::Args> {
    /// The verb's own flags.
    #[command(flatten)]
    pub args: A,
    /// `--coordinator`, `--token-file`, `--tls-ca`.
    #[command(flatten)]
    pub conn: Connection,
}
