//! Text bound for a terminal, with its control characters made visible. Sweep names,
//! descriptions, worker names, datasets and the samples trained on them come from other
//! people's files and machines: an ESC in any of them would reach the terminal as the
//! start of an escape sequence (recolouring it, moving the cursor, retitling the window,
//! or worse), a BEL would ring it, a CR would overwrite the line. Every text document and
//! every error line passes through here on its way out; `--output json` and CSV keep the
//! exact characters (JSON escapes them itself).

use std::borrow::Cow;

/// `text` with every control character except line feed, tab and the CR of a CRLF line
/// end written as an escape (`\x1b`, `\x07`, `\r`, `\u{9b}`), for text printed as lines.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_where(text, |c, next| {
        c.is_control() && !matches!(c, '\n' | '\t') && !(c == '\r' && next == Some('\n'))
    })
}

/// `text` with every control character written as an escape, line feeds included, for
/// text that must stay on one line (an error message).
pub fn escape_line(text: &str) -> Cow<'_, str> {
    escape_where(text, |c, _| c.is_control())
}

/// `text` with each character that `hidden` (given it and the character after it) picks
/// written as an escape.
fn escape_where(text: &str, hidden: impl Fn(char, Option<char>) -> bool) -> Cow<'_, str> {
    let pairs = || {
        let mut next = text.chars().skip(1);
        text.chars().map(move |c| (c, next.next()))
    };
    if !pairs().any(|(c, next)| hidden(c, next)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (c, next) in pairs() {
        match c {
            _ if !hidden(c, next) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(escape("plain\ttext\n"), "plain\ttext\n");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\u{1b}[31mred\u{7}\r\u{9b}"),
            "a\\x1b[31mred\\x07\\r\\u{9b}"
        );
        assert_eq!(escape_line("two\nlines\u{0}"), "two\\nlines\\x00");
        assert_eq!(escape("crlf\r\nends\r"), "crlf\r\nends\\r");
        assert_eq!(escape("é ☃ 漢"), "é ☃ 漢");
    }
}
