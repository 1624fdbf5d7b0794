//! Located messages about a sweep file: `file:line:column: message`, the form editors and
//! terminals turn into links.

use std::fmt;

/// One problem in a sweep file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
    /// What is wrong, naming the field.
    pub message: String,
}

impl Diagnostic {
    /// A problem at `loc`.
    pub fn at(loc: serde_saphyr::Location, message: impl Into<String>) -> Self {
        Self {
            line: loc.line() as u32,
            column: loc.column() as u32,
            message: message.into(),
        }
    }

    /// A problem about the file as a whole.
    pub fn whole(message: impl Into<String>) -> Self {
        Self {
            line: 0,
            column: 0,
            message: message.into(),
        }
    }
}

/// Every problem found in one sweep file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecErrors {
    /// The file's name as the user gave it.
    pub file: String,
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if d.line > 0 {
                write!(f, "{}:{}:{}: {}", self.file, d.line, d.column, d.message)?;
            } else {
                write!(f, "{}: {}", self.file, d.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}
