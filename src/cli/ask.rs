//! Asking a person before a verb that cannot be undone (`delete`), as kubectl and cargo
//! do not but apt and rm -i do: on a terminal a `[y/N]` question; elsewhere (a script, CI)
//! no question can be answered, so the verb needs `--yes` (or GPTSWEEP_YES=1) and says so
//! in one line (exit 2) rather than waiting on a stdin nobody writes to.

use std::io::{BufRead, IsTerminal, Write};

use super::bad_input::BadInput;

/// What the person answered.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// `y` or `yes`.
    Yes,
    /// Anything else, an empty line or the end of input included.
    No,
}

/// Asks `question` on stderr and reads the answer from stdin, when both are a terminal;
/// without one, refuses with a line that names `verb` and the flag that skips the question.
pub fn confirm(question: &str, verb: &str) -> Result<Answer, BadInput> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(BadInput(format!(
            "{verb}: not asked on a terminal, so nothing was done: add --yes (or set \
             GPTSWEEP_YES=1) to {verb} without asking"
        )));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    Ok(parse(&line))
}

/// A typed answer: yes only when it says so.
fn parse(line: &str) -> Answer {
    match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Answer::Yes,
        _ => Answer::No,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_or_yes_is_yes() {
        assert_eq!(parse("y\n"), Answer::Yes);
        assert_eq!(parse(" YES \n"), Answer::Yes);
        for no in ["", "\n", "n\n", "no", "yep", "sure"] {
            assert_eq!(parse(no), Answer::No, "{no:?}");
        }
    }
}
