//! What a run's name and note may hold (`gptsweep annotate`), checked by the CLI before it
//! sends them and by the coordinator before it stores them: a name is one short line for
//! tables, a note a few lines of prose. Neither may hold control characters (a note may
//! hold line breaks), which would garble a terminal or a table.

/// A name's limit, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// A note's limit, in bytes (UTF-8).
pub const MAX_NOTE_BYTES: usize = 4096;

/// Why `name` may not be a run's name.
pub fn check_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(format!(
            "a run name is at most {MAX_NAME_CHARS} characters; this one has {chars}"
        ));
    }
    refuse_controls("name", name, false)
}

/// Why `note` may not be a run's note.
pub fn check_note(note: &str) -> Result<(), String> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(format!(
            "a run note is at most {MAX_NOTE_BYTES} bytes; this one has {}",
            note.len()
        ));
    }
    refuse_controls("note", note, true)
}

fn refuse_controls(what: &str, text: &str, line_breaks: bool) -> Result<(), String> {
    match text
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !(line_breaks && *c == '\n'))
    {
        Some((at, c)) => Err(format!(
            "a run {what} may not hold control characters ({:?} at character {})",
            c,
            at + 1
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_single_lines_and_notes_may_break_lines() {
        assert_eq!(check_name("baseline"), Ok(()));
        assert_eq!(check_name(&"é".repeat(100)), Ok(()));
        assert_eq!(
            check_name(&"é".repeat(101)),
            Err("a run name is at most 100 characters; this one has 101".into())
        );
        assert_eq!(
            check_name("a\nb"),
            Err("a run name may not hold control characters ('\\n' at character 2)".into())
        );
        assert_eq!(check_note("two\nlines"), Ok(()));
        assert_eq!(
            check_note("bell\u{7}"),
            Err("a run note may not hold control characters ('\\u{7}' at character 5)".into())
        );
        assert_eq!(check_note(&"x".repeat(4096)), Ok(()));
        assert_eq!(
            check_note(&"x".repeat(4097)),
            Err("a run note is at most 4096 bytes; this one has 4097".into())
        );
    }
}
