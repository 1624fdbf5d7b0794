//! A command line clap refused, said in one line (exit 2), as every other bad input is:
//! what is wrong or missing, a suggestion where one is near (`tpo`: did you mean `top`?),
//! and the verb's plain usage. clap's own message runs over several lines and its usage
//! line repeats the flags the user gave, the environment's included, which hid what was
//! missing; under `--output json` the same line is the error object's message.

use clap::CommandFactory;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::Cli;

/// Ends the process for a command line clap refused: help and version as clap prints
/// them; a usage error as one line on stderr (and a JSON error object on stdout when JSON
/// output was asked for), exit code 2.
pub fn usage_error(usage: clap::Error) -> ! {
    if matches!(
        usage.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        usage.exit()
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let line = one_line(&usage, &args);
    eprintln!("error: {}", super::terminal::escape_line(&line));
    let json_wanted = args
        .windows(2)
        .any(|w| w[0] == "--output" && w[1] == "json")
        || args.iter().any(|a| a == "--output=json")
        || std::env::var("GPTSWEEP_OUTPUT").is_ok_and(|v| v == "json");
    if json_wanted {
        println!(
            "{}",
            serde_json::json!({"error": {"kind": "usage", "message": line, "exit_code": 2}})
        );
    }
    std::process::exit(2)
}

/// clap's error as one line: its message with the list it introduces (`...were not
/// provided: <SWEEP>`), its tips, a verb suggestion clap missed, and the verb's usage
/// without the flags given.
fn one_line(usage: &clap::Error, args: &[String]) -> String {
    let rendered = usage.render().to_string();
    let mut lines = rendered.lines();
    let mut message = lines
        .next()
        .unwrap_or("invalid command line")
        .trim_start_matches("error:")
        .trim()
        .to_string();
    let mut tips = Vec::new();
    let mut listed = Vec::new();
    for line in lines {
        let text = line.trim();
        if let Some(tip) = text.strip_prefix("tip:") {
            tips.push(tip.trim().to_string());
        } else if line.starts_with("  ") && !text.is_empty() && tips.is_empty() {
            listed.push(text.to_string());
        } else if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
    }
    if usage.kind() == ErrorKind::MissingRequiredArgument && !listed.is_empty() {
        message = format!("missing {}", listed.join(", "));
    } else if !listed.is_empty() {
        message = format!("{} {}", message, listed.join(", "));
    }
    if let Some(verb) = unknown_verb(usage)
        && let Some(near) = nearest_verb(&verb)
    {
        tips.push(format!("did you mean `{near}`?"));
    }
    let mut out = message;
    for tip in tips {
        out.push_str("; ");
        out.push_str(&tip);
    }
    match verb_usage(args) {
        Some(u) => out.push_str(&format!(" (usage: {u}; more with --help)")),
        None => out.push_str(" (gptsweep --help lists the verbs)"),
    }
    out
}

/// The verb clap did not know, when that is the error.
fn unknown_verb(usage: &clap::Error) -> Option<String> {
    if usage.kind() != ErrorKind::InvalidSubcommand {
        return None;
    }
    if usage.get(ContextKind::SuggestedSubcommand).is_some() {
        return None;
    }
    match usage.get(ContextKind::InvalidSubcommand) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// The visible verb nearest to `typed` by edit distance (a swap of two letters counts
/// once), when it is near enough to be a typo: one edit in a short word, two in a longer.
pub fn nearest_verb(typed: &str) -> Option<String> {
    let cmd = Cli::command();
    let limit = if typed.chars().count() <= 4 { 1 } else { 2 };
    cmd.get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .map(|name| (strsim::osa_distance(typed, &name), name))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

/// The plain usage of the verb on the command line (`gptsweep status [OPTIONS] <SWEEP>`),
/// none when no verb was recognised.
fn verb_usage(args: &[String]) -> Option<String> {
    let mut cmd = Cli::command();
    cmd.build();
    let verb = args.iter().find(|a| !a.starts_with('-'))?;
    let sub = cmd.find_subcommand_mut(verb)?;
    let usage = sub.render_usage().to_string();
    Some(usage.trim().trim_start_matches("Usage:").trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn a_typo_of_a_verb_finds_it_and_a_stranger_finds_nothing() {
        assert_eq!(nearest_verb("tpo").as_deref(), Some("top"));
        assert_eq!(nearest_verb("stauts").as_deref(), Some("status"));
        assert_eq!(nearest_verb("sweep").as_deref(), Some("sweeps"));
        assert_eq!(nearest_verb("frobnicate"), None);
        // The hidden verb is never offered.
        assert_eq!(nearest_verb("slot-chil"), None);
    }

    #[test]
    fn a_missing_argument_is_named_in_one_line_without_the_given_flags() {
        let args: Vec<String> = ["status", "--coordinator", "http://h:1"]
            .map(String::from)
            .to_vec();
        let err = Cli::try_parse_from(std::iter::once("gptsweep".to_string()).chain(args.clone()))
            .unwrap_err();
        let line = one_line(&err, &args);
        assert_eq!(
            line,
            "missing <SWEEP> (usage: gptsweep status [OPTIONS] <SWEEP>; more with --help)"
        );
    }
}
