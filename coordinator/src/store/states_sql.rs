//! The states as SQL literals: the one place a query's text names a run's, a sweep's or an
//! attempt's state. Every write and read formats these into its SQL (`{RUN_QUEUED}` is
//! `'queued'`), spelt from the enums' names ([`Named`]), so the table of transitions
//! (`gptsweep_api::transitions`) and the SQL cannot name a state two ways.
//!
//! They are literals in the text, not bound parameters, so that both planners see them as
//! before: SQLite uses the partial index `runs_queued` (`WHERE state = 'queued'`) only for a
//! query whose text says `state = 'queued'` (a bound `state = $1` reads every run), and
//! PostgreSQL's generic plans would estimate a bound state blind. The names are fixed
//! snake_case words (checked below), so quoting them needs no escaping.

use std::fmt;

use gptsweep_api::{AttemptState, Named, RunState, SweepState};

/// A state as an SQL string literal: `'queued'`.
#[derive(Debug, Clone, Copy)]
pub struct Lit<T>(pub T);

impl<T: Named> fmt::Display for Lit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.0.as_str())
    }
}

/// A run waiting for a worker.
pub const RUN_QUEUED: Lit<RunState> = Lit(RunState::Queued);
/// A run leased to a worker.
pub const RUN_RUNNING: Lit<RunState> = Lit(RunState::Running);
/// A run stopped while it ran.
pub const RUN_STOPPED: Lit<RunState> = Lit(RunState::Stopped);
/// A run failed for good.
pub const RUN_FAILED: Lit<RunState> = Lit(RunState::Failed);
/// A run cancelled before it ran.
pub const RUN_CANCELLED: Lit<RunState> = Lit(RunState::Cancelled);

/// The run states with work ahead ([`RunState::is_open`]) as an SQL list:
/// `'queued', 'running'`.
pub const RUN_OPEN: OpenRuns = OpenRuns;

/// See [`RUN_OPEN`].
#[derive(Debug, Clone, Copy)]
pub struct OpenRuns;

impl fmt::Display for OpenRuns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open = RunState::ALL.iter().copied().filter(|s| s.is_open());
        for (i, state) in open.enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", Lit(state))?;
        }
        Ok(())
    }
}

/// A sweep with runs queued or running.
pub const SWEEP_RUNNING: Lit<SweepState> = Lit(SweepState::Running);
/// A sweep whose runs have all ended.
pub const SWEEP_FINISHED: Lit<SweepState> = Lit(SweepState::Finished);
/// A sweep a user cancelled.
pub const SWEEP_CANCELLED: Lit<SweepState> = Lit(SweepState::Cancelled);

/// An attempt under way.
pub const ATTEMPT_RUNNING: Lit<AttemptState> = Lit(AttemptState::Running);
/// An attempt whose lease ran out.
pub const ATTEMPT_EXPIRED: Lit<AttemptState> = Lit(AttemptState::Expired);

#[cfg(test)]
mod tests {
    use super::*;

    fn plain_words<T: Named>() {
        for v in T::ALL {
            let name = v.as_str();
            assert!(
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name:?} needs no quoting"
            );
            assert_eq!(Lit(*v).to_string(), format!("'{name}'"));
        }
    }

    #[test]
    fn every_state_is_a_plain_word_quoted_once() {
        plain_words::<RunState>();
        plain_words::<SweepState>();
        plain_words::<AttemptState>();
    }

    #[test]
    fn the_open_run_states_are_queued_and_running() {
        assert_eq!(RUN_OPEN.to_string(), "'queued', 'running'");
        assert_eq!(format!("state = {RUN_QUEUED}"), "state = 'queued'");
    }
}
