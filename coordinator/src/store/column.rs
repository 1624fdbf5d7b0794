//! States, metrics and goals meet SQL here: stored as their names, read back into their
//! enums. A name the enum does not know means the database was edited by hand or by a
//! newer gptsweep; it is an error naming the column, never a default.

use gptsweep_api::Named;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{CoordinatorError, Result};

/// The enum stored by name in `column` of `row`.
pub fn named<T: Named>(row: &AnyRow, column: &str) -> Result<T> {
    let text: &str = row.try_get(column)?;
    parse(column, text)
}

/// The enum named `text`, read from `column`.
pub fn parse<T: Named>(column: &str, text: &str) -> Result<T> {
    T::parse(text).map_err(|e| {
        CoordinatorError::Store(sqlx::Error::Decode(format!("column {column}: {e}").into()))
    })
}

/// A JSON object stored as text in `column` of `row`.
pub fn object(row: &AnyRow, column: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    let text: &str = row.try_get(column)?;
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(CoordinatorError::Store(sqlx::Error::Decode(
            format!("column {column}: not a JSON object").into(),
        ))),
    }
}
