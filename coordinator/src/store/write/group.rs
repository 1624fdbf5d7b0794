//! What a group of writes applied together (`Write::apply_many`) needs: the group split
//! so that each run appears once in each part, and placeholders for the set-based
//! statements that apply a part at once (an `IN` list, or the rows of a `VALUES` list).
//! Both backends name a `VALUES` list's columns `column1`, `column2`...; they differ in
//! the placeholders worth generating (see [`Params::of`]).

use std::collections::HashSet;
use std::hash::Hash;

use sqlx::AnyConnection;

use super::Write;
use crate::error::{CoordinatorError, Result};

/// Most rows one set-based statement carries: 10 values a row stays well inside SQLite's
/// 32,766 and PostgreSQL's 65,535 bound parameters a statement.
pub(super) const MAX_ROWS: usize = 1_000;

/// Splits `writes` in order into parts in which no two writes share a key (`key` of a
/// write: its run, or its device), so that each row of a part's statements is one write's
/// (a retried call can queue beside the original), and none outgrows a statement.
pub(super) fn distinct<W, K: Hash + Eq>(writes: Vec<W>, key: impl Fn(&W) -> K) -> Vec<Vec<W>> {
    let mut parts: Vec<Vec<W>> = Vec::new();
    let mut keys = HashSet::new();
    for w in writes {
        let full = parts.last().is_none_or(|p| p.len() >= MAX_ROWS);
        if full || !keys.insert(key(&w)) {
            keys.clear();
            keys.insert(key(&w));
            parts.push(Vec::new());
        }
        parts.last_mut().expect("pushed above").push(w);
    }
    parts
}

/// Applies `write` as a group of one: for a write whose [`Write::apply_many`] is the
/// real implementation, so that one code path serves a write alone (in its savepoint,
/// after a batch failed) and a group.
pub(super) async fn alone<W: Write>(write: W, c: &mut AnyConnection) -> Result<W::Output> {
    W::apply_many(vec![write], c)
        .await?
        .pop()
        .unwrap_or_else(|| Err(CoordinatorError::Storage("a write went unanswered".into())))
}

/// A statement being built over the `Any` driver.
pub(super) type AnyQuery = sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>;

/// Runs a set-based statement once a chunk of at most [`MAX_ROWS`] `items`: `sql` makes its
/// text from the chunk's rows of `cols` placeholders each, `bind` binds one item's values.
pub(super) async fn each_chunk<T: Sync>(
    c: &mut AnyConnection,
    items: &[T],
    cols: usize,
    sql: impl Fn(&str) -> String + Send + Sync,
    bind: impl Fn(AnyQuery, &T) -> AnyQuery + Send + Sync,
) -> Result<()> {
    let params = Params::of(c);
    for chunk in items.chunks(MAX_ROWS) {
        let rows = params.rows(chunk.len(), cols);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql(&rows)));
        for item in chunk {
            query = bind(query, item);
        }
        query.execute(&mut *c).await?;
    }
    Ok(())
}

/// How a generated statement numbers its placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Params {
    /// `$1, $2, ...`: PostgreSQL's only form.
    Numbered,
    /// `?, ?, ...`, bound in the order they appear.
    Anonymous,
}

impl Params {
    /// The form for `c`'s database. For SQLite, anonymous: sqlx-sqlite binds a numbered
    /// placeholder by asking SQLite its name, which SQLite finds by walking a list of every
    /// name in the statement, so binding n numbered values costs n² (a 5,000-value insert
    /// spent 45% of the coordinator's time there); anonymous ones are bound in order.
    pub(super) fn of(c: &AnyConnection) -> Self {
        if super::on_postgres(c) {
            Params::Numbered
        } else {
            Params::Anonymous
        }
    }

    /// `n` placeholders for a list of values, the first of them the statement's `first`th.
    pub(super) fn list(self, first: usize, n: usize) -> String {
        (first..first + n)
            .map(|i| match self {
                Params::Numbered => format!("${i}"),
                Params::Anonymous => "?".to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `rows` parenthesised rows of `cols` placeholders each, the first of them the
    /// statement's first.
    pub(super) fn rows(self, rows: usize, cols: usize) -> String {
        (0..rows)
            .map(|r| format!("({})", self.list(1 + r * cols, cols)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_seen_again_starts_a_new_part() {
        let parts = distinct(vec![1, 2, 1, 3, 3], |&r| r);
        assert_eq!(parts, vec![vec![1, 2], vec![1, 3], vec![3]]);
        assert!(distinct(Vec::<i64>::new(), |&r| r).is_empty());
    }

    #[test]
    fn numbers_every_value_once_in_order() {
        assert_eq!(Params::Numbered.list(2, 3), "$2, $3, $4");
        assert_eq!(Params::Numbered.list(1, 0), "");
        assert_eq!(Params::Numbered.rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(Params::Anonymous.rows(2, 2), "(?, ?), (?, ?)");
        assert_eq!(Params::Anonymous.list(5, 2), "?, ?");
    }
}
