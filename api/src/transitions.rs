//! The run state machine in one table: every way a run (and the attempt a lease starts)
//! changes state, with the event, the condition, the store write that performs it and what
//! it does to the run's count of attempts (its retry budget). The store's SQL performs
//! these transitions; `coordinator/tests/transitions.rs` walks this table against the store
//! on SQLite and PostgreSQL, so the two cannot drift apart unnoticed.

use crate::state::{AttemptState, Outcome, RunState};

/// What happens to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The sweep is submitted: its planned runs are made (a tpe proposal and `extend` make
    /// theirs through the same insert).
    Submit,
    /// A worker's device is handed the run: an attempt starts.
    Lease,
    /// The lease holder says how its attempt ended.
    Finish(Outcome),
    /// The lease ran out: the worker went quiet.
    Expire,
    /// The worker left while it held the run (leased as it stopped polling: it never saw it).
    Leave,
    /// A user cancels the run's sweep.
    Cancel,
    /// A user queues the sweep's ended runs again (`gptsweep retry`, by state).
    Retry,
}

/// When a transition applies, beyond its from state and event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Whatever the run's count of attempts and stop request.
    Always,
    /// The run was asked to stop (a cancel, early termination): it ends stopped.
    StopAsked,
    /// Not asked to stop, and attempts left after this one (an attempt handed back is not
    /// counted, so a hand-back always has some).
    AttemptsLeft,
    /// Not asked to stop, and this was the last allowed attempt.
    AttemptsSpent,
}

/// What a transition does to the run's count of attempts (`runs.attempts`), which a
/// failure or an expiry compares with the allowed attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// No attempt starts or ends: the count stays.
    Untouched,
    /// An attempt starts: the count goes up by one.
    Spent,
    /// The attempt ends and stays counted against the run: the count stays.
    Kept,
    /// The attempt ends handed back, not counted: the count goes down by one.
    Refunded,
    /// The run starts over: the count is zero again.
    Reset,
}

impl Count {
    /// Whether the transition's attempt counts against the run's allowed attempts.
    pub fn counts_against_run(self) -> bool {
        matches!(self, Self::Spent | Self::Kept)
    }

    /// The run's count of attempts after the transition, from `before`.
    pub fn apply(self, before: u32) -> u32 {
        match self {
            Self::Untouched | Self::Kept => before,
            Self::Spent => before + 1,
            Self::Refunded => before.saturating_sub(1),
            Self::Reset => 0,
        }
    }
}

/// One transition of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The run's state before; `None` for a run not made yet.
    pub from: Option<RunState>,
    /// What happens.
    pub event: Event,
    /// When this transition (and not another of the same from and event) applies.
    pub guard: Guard,
    /// The run's state after.
    pub to: RunState,
    /// The state of the attempt the event starts or ends; `None` where it touches none.
    pub attempt: Option<AttemptState>,
    /// The store write that performs it (its type in `coordinator::store`).
    pub write: &'static str,
    /// What it does to the run's count of attempts.
    pub count: Count,
}

/// Shorthand for the table's rows.
const fn row(
    from: Option<RunState>,
    event: Event,
    guard: Guard,
    to: RunState,
    attempt: Option<AttemptState>,
    write: &'static str,
    count: Count,
) -> Transition {
    Transition {
        from,
        event,
        guard,
        to,
        attempt,
        write,
        count,
    }
}

use AttemptState as A;
use Count::{Kept, Refunded, Reset, Spent, Untouched};
use Event::{Cancel, Expire, Finish, Lease, Leave, Retry, Submit};
use Guard::{Always, AttemptsLeft, AttemptsSpent, StopAsked};
use RunState::{Cancelled, Failed, Finished, Queued, Running, Stopped};

/// Every transition of a run, and of the attempt a lease starts.
#[rustfmt::skip]
pub const TRANSITIONS: &[Transition] = &[
    row(None, Submit, Always, Queued, None, "CreateSweep", Untouched),
    row(Some(Queued), Lease, Always, Running, Some(A::Running), "Lease", Spent),
    row(Some(Running), Finish(Outcome::Finished), Always, Finished, Some(A::Finished), "Finish", Kept),
    row(Some(Running), Finish(Outcome::Stopped), Always, Stopped, Some(A::Stopped), "Finish", Kept),
    row(Some(Running), Finish(Outcome::Failed), AttemptsLeft, Queued, Some(A::Failed), "Finish", Kept),
    row(Some(Running), Finish(Outcome::Failed), AttemptsSpent, Failed, Some(A::Failed), "Finish", Kept),
    row(Some(Running), Finish(Outcome::Failed), StopAsked, Stopped, Some(A::Failed), "Finish", Kept),
    row(Some(Running), Finish(Outcome::Preempted), AttemptsLeft, Queued, Some(A::Preempted), "Finish", Refunded),
    row(Some(Running), Finish(Outcome::Preempted), StopAsked, Stopped, Some(A::Preempted), "Finish", Refunded),
    row(Some(Running), Finish(Outcome::WorkerFault), AttemptsLeft, Queued, Some(A::WorkerFault), "Finish", Refunded),
    row(Some(Running), Finish(Outcome::WorkerFault), StopAsked, Stopped, Some(A::WorkerFault), "Finish", Refunded),
    row(Some(Running), Expire, AttemptsLeft, Queued, Some(A::Expired), "ExpireLeases", Kept),
    row(Some(Running), Expire, AttemptsSpent, Failed, Some(A::Expired), "ExpireLeases", Kept),
    row(Some(Running), Expire, StopAsked, Stopped, Some(A::Expired), "ExpireLeases", Kept),
    row(Some(Running), Leave, AttemptsLeft, Queued, Some(A::Preempted), "Deregister", Refunded),
    row(Some(Running), Leave, StopAsked, Stopped, Some(A::Preempted), "Deregister", Refunded),
    row(Some(Queued), Cancel, Always, Cancelled, None, "Cancel", Untouched),
    // Asked to stop: it stops at its worker's next call (a Finish above, StopAsked).
    row(Some(Running), Cancel, Always, Running, None, "Cancel", Untouched),
    row(Some(Failed), Retry, Always, Queued, None, "Retry", Reset),
    row(Some(Stopped), Retry, Always, Queued, None, "Retry", Reset),
    row(Some(Cancelled), Retry, Always, Queued, None, "Retry", Reset),
];

/// The transition of a run in state `from` on `event` when `guard` holds, if there is one.
pub fn after(from: Option<RunState>, event: Event, guard: Guard) -> Option<&'static Transition> {
    TRANSITIONS
        .iter()
        .find(|t| t.from == from && t.event == event && t.guard == guard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Named;

    #[test]
    fn no_two_rows_share_a_from_state_event_and_guard() {
        for (i, a) in TRANSITIONS.iter().enumerate() {
            for b in &TRANSITIONS[i + 1..] {
                assert!(
                    (a.from, a.event, a.guard) != (b.from, b.event, b.guard),
                    "{a:?} and {b:?}"
                );
            }
        }
    }

    #[test]
    fn an_ended_attempt_counts_against_the_run_as_its_state_says() {
        for t in TRANSITIONS {
            match (t.attempt, t.count) {
                (Some(A::Running), count) => assert_eq!(count, Spent, "{t:?}"),
                (Some(ended), count) => assert_eq!(
                    count.counts_against_run(),
                    ended.counts_against_run(),
                    "{t:?}"
                ),
                (None, count) => assert!(!count.counts_against_run(), "{t:?}"),
            }
        }
    }

    #[test]
    fn a_finish_records_its_outcome_and_ends_the_run_in_the_outcomes_state() {
        for &outcome in Outcome::ALL {
            let rows: Vec<&Transition> = TRANSITIONS
                .iter()
                .filter(|t| t.event == Finish(outcome))
                .collect();
            assert!(!rows.is_empty(), "{outcome} has a row");
            for t in rows {
                assert_eq!(t.from, Some(Running), "{t:?}");
                assert_eq!(t.attempt, Some(outcome.attempt_state()), "{t:?}");
                match (outcome.run_state(), t.guard) {
                    (_, StopAsked) => assert_eq!(t.to, Stopped, "{t:?}"),
                    (None, _) => assert_eq!(t.to, Queued, "handed back: {t:?}"),
                    (Some(Failed), AttemptsLeft) => assert_eq!(t.to, Queued, "{t:?}"),
                    (Some(state), _) => assert_eq!(t.to, state, "{t:?}"),
                }
            }
        }
    }

    #[test]
    fn only_an_open_run_is_leased_ended_or_cancelled_and_only_an_ended_one_retried() {
        for t in TRANSITIONS {
            let open = t.from.is_some_and(RunState::is_open);
            match t.event {
                Submit => assert_eq!(t.from, None),
                Retry => assert!(t.from.is_some() && !open, "{t:?}"),
                _ => assert!(open, "{t:?}"),
            }
        }
    }

    #[test]
    fn a_failure_with_attempts_left_queues_the_run_again() {
        let t = after(Some(Running), Finish(Outcome::Failed), AttemptsLeft).unwrap();
        assert_eq!((t.to, t.count), (Queued, Kept));
        assert_eq!(after(Some(Queued), Finish(Outcome::Failed), Always), None);
        assert_eq!(Kept.apply(2), 2);
        assert_eq!(Refunded.apply(0), 0);
        assert_eq!(Reset.apply(3), 0);
    }
}
