//! `gptsweep train`'s hyperparameter flags: one `--name` per row of the hyperparameter
//! table ([`HYPERPARAMS`]), its help the row's help and default, its value checked against
//! the row's type as clap parses it. Nothing here names a hyperparameter.

use std::sync::LazyLock;

use clap::{Arg, ArgMatches, Command, FromArgMatches};
use gptsweep_gpt::{HYPERPARAMS, HyperparamError, Hyperparams};

/// The hyperparameter flags given, in table order, with the text typed.
#[derive(Debug, Clone, Default)]
pub struct HyperparamFlags {
    given: Vec<(&'static str, String)>,
}

/// Each row's flag and value name (`--batch-size <BATCH_SIZE>`), made once so that clap
/// can borrow them for the life of the program.
static SPELLINGS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    HYPERPARAMS
        .iter()
        .map(|d| (d.name.replace('_', "-"), d.name.to_uppercase()))
        .collect()
});

impl HyperparamFlags {
    /// `base` with every given flag set.
    pub fn apply(&self, mut base: Hyperparams) -> Result<Hyperparams, HyperparamError> {
        for (name, text) in &self.given {
            base.set_text(name, text)?;
        }
        Ok(base)
    }
}

impl clap::Args for HyperparamFlags {
    fn augment_args(cmd: Command) -> Command {
        HYPERPARAMS
            .iter()
            .zip(SPELLINGS.iter())
            .fold(cmd, |cmd, (def, (long, value_name))| {
                cmd.arg(
                    Arg::new(def.name)
                        .long(long.as_str())
                        .value_name(value_name.as_str())
                        .help(format!("{} [{}]", def.help(), def.default))
                        .value_parser(move |text: &str| {
                            if def.parses(text) {
                                Ok(text.to_string())
                            } else {
                                Err(format!("expected {}", def.kind))
                            }
                        }),
                )
            })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for HyperparamFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Self::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for def in HYPERPARAMS {
            if let Some(text) = matches.get_one::<String>(def.name) {
                self.given.retain(|(name, _)| *name != def.name);
                self.given.push((def.name, text.clone()));
            }
        }
        Ok(())
    }
}
