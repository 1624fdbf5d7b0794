//! `gptsweep annotate RUN --name .. --note ..`: a run's name and note, what W&B users
//! give a run so that "the baseline" reads as such in tables and charts. Either may be
//! left as it is; an empty one clears it. Checked here too ([`gptsweep_api::annotation`]):
//! the coordinator trusts no client.

use sqlx::{AnyConnection, Row};

use gptsweep_api::RunId;
use gptsweep_api::annotation::{check_name, check_note};

use super::Write;
use crate::error::{CoordinatorError, Result};

/// Sets a run's name and/or note.
#[derive(Debug, Clone)]
pub struct Annotate {
    /// The run.
    pub run: RunId,
    /// Its new name; `None` keeps the old one.
    pub name: Option<String>,
    /// Its new note; `None` keeps the old one.
    pub note: Option<String>,
}

/// A run's name and note as stored after the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Its name (empty = none).
    pub name: String,
    /// Its note (empty = none).
    pub note: String,
}

impl Write for Annotate {
    type Output = Annotation;

    async fn apply(self, c: &mut AnyConnection) -> Result<Annotation> {
        let invalid = |why: String| CoordinatorError::Invalid(format!("run {}: {why}", self.run));
        if let Some(name) = &self.name {
            check_name(name).map_err(invalid)?;
        }
        if let Some(note) = &self.note {
            check_note(note).map_err(invalid)?;
        }
        let row = sqlx::query(
            "UPDATE runs SET name = COALESCE($1, name), note = COALESCE($2, note) WHERE id = $3 RETURNING name, note",
        )
        .bind(self.name.as_deref())
        .bind(self.note.as_deref())
        .bind(self.run.get())
        .fetch_optional(&mut *c)
        .await?
        .ok_or_else(|| CoordinatorError::NotFound(format!("no run {}", self.run)))?;
        Ok(Annotation {
            name: row.try_get("name")?,
            note: row.try_get("note")?,
        })
    }
}
