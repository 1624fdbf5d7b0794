//! A flag or value the user got wrong, found by the CLI itself: exit code 2 and kind
//! `bad_input`, like the checks of the libraries below it.

/// A bad flag, value or file named by the CLI; the message says which and why.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Fails with [`BadInput`] unless `ok`.
pub fn ensure(ok: bool, message: impl FnOnce() -> String) -> Result<(), BadInput> {
    if ok { Ok(()) } else { Err(BadInput(message())) }
}
