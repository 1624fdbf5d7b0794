//! The run state machine's table (`gptsweep_api::transitions`) walked against the real
//! store, on SQLite and PostgreSQL: for every transition, a run is put in the `from` state
//! (and its guard made to hold) through the store's public writes, the event is performed
//! by the write the table names, and the run's state, its attempt's state and its count of
//! attempts are read back from the database.

mod common;

use std::any::type_name;

use common::postgres::Postgres;
use common::{config, lease, register};

use gptsweep_api::transitions::{Count, Event, Guard, TRANSITIONS, Transition};
use gptsweep_api::{AttemptState, LeaseId, Named, Outcome, RunId, RunState, SweepId, WorkerId};
use gptsweep_coordinator::Coordinator;
use gptsweep_coordinator::store::{
    Cancel, CreateSweep, Deregister, ExpireLeases, Finish, Lease, Retry, Store, open_pool,
};

/// A one-run sweep named `name` on the built-in corpus.
fn sweep(name: &str) -> String {
    format!(
        "name: {name}
method: grid
train: {{n_embd: 16, n_head: 2, n_layer: 1, block_size: 16, batch_size: 8, max_iters: 20, eval_interval: 10, eval_iters: 2}}
"
    )
}

/// The last part of a write's type name: `Finish`.
fn write_name<W>() -> &'static str {
    type_name::<W>().rsplit("::").next().unwrap()
}

/// A run's state and count of attempts, and its attempts' states (oldest first), as stored.
#[derive(Debug, Clone, PartialEq)]
struct Stored {
    state: RunState,
    attempts: u32,
    attempt_states: Vec<AttemptState>,
}

/// What the walk of one row works on.
struct Subject<'a> {
    store: &'a Store,
    pool: &'a sqlx::AnyPool,
    sweep: SweepId,
    run: RunId,
    worker: WorkerId,
    lease: Option<LeaseId>,
    /// The allowed attempts the failure or expiry is judged with.
    max_attempts: u32,
}

impl Subject<'_> {
    async fn read(&self) -> Stored {
        let (state, attempts): (String, i64) =
            sqlx::query_as("SELECT state, attempts FROM runs WHERE id = $1")
                .bind(self.run.get())
                .fetch_one(self.pool)
                .await
                .unwrap();
        let attempt_states: Vec<String> =
            sqlx::query_scalar("SELECT state FROM attempts WHERE run_id = $1 ORDER BY id")
                .bind(self.run.get())
                .fetch_all(self.pool)
                .await
                .unwrap();
        Stored {
            state: RunState::parse(&state).unwrap(),
            attempts: attempts as u32,
            attempt_states: attempt_states
                .iter()
                .map(|s| AttemptState::parse(s).unwrap())
                .collect(),
        }
    }

    /// Leases the run to the subject's worker for `lease_ms` (negative: already expired).
    async fn lease(&mut self, lease_ms: i64) {
        let leased = lease(self.store, self.worker, lease_ms)
            .await
            .expect("the walk's run is the first queued one");
        assert_eq!(leased.run, self.run, "the oldest sweep's run is leased");
        self.lease = Some(leased.lease);
    }

    async fn finish(&self, outcome: Outcome) {
        self.store
            .write(Finish {
                run: self.run,
                lease: self.lease.expect("leased"),
                worker: self.worker,
                outcome,
                error: format!("{outcome} on purpose"),
                samples: Vec::new(),
                summary_json: String::new(),
                max_attempts: self.max_attempts,
            })
            .await
            .unwrap();
    }

    async fn cancel(&self) -> (u32, u32) {
        self.store
            .write(Cancel { sweep: self.sweep })
            .await
            .unwrap()
    }

    /// Puts the run in `from` through the store's writes; a run that will expire is leased
    /// already expired.
    async fn bring_to(&mut self, from: Option<RunState>, expiring: bool) {
        match from {
            None | Some(RunState::Queued) => {}
            Some(RunState::Running) => self.lease(if expiring { -1 } else { 60_000 }).await,
            Some(RunState::Finished) => unreachable!("no transition leaves finished"),
            Some(RunState::Failed) => {
                self.max_attempts = 1;
                self.lease(60_000).await;
                self.finish(Outcome::Failed).await;
            }
            Some(RunState::Stopped) => {
                self.lease(60_000).await;
                self.finish(Outcome::Stopped).await;
            }
            Some(RunState::Cancelled) => assert_eq!(self.cancel().await, (1, 0)),
        }
    }

    /// Makes `guard` hold for the run's next event.
    async fn hold(&mut self, guard: Guard) {
        match guard {
            Guard::Always | Guard::AttemptsLeft => self.max_attempts = 3,
            Guard::AttemptsSpent => self.max_attempts = 1,
            Guard::StopAsked => {
                self.max_attempts = 3;
                assert_eq!(
                    self.cancel().await,
                    (0, 1),
                    "the running run is asked to stop"
                );
            }
        }
    }

    /// Performs `event` (of a transition from `from`); answers the write that did.
    async fn perform(&mut self, event: Event, from: Option<RunState>) -> &'static str {
        match event {
            // Made by the submit before the walk (the coordinator's submit is this write).
            Event::Submit => write_name::<CreateSweep>(),
            Event::Lease => {
                self.lease(60_000).await;
                write_name::<Lease>()
            }
            Event::Finish(outcome) => {
                self.finish(outcome).await;
                write_name::<Finish>()
            }
            Event::Expire => {
                let expired = self
                    .store
                    .write(ExpireLeases {
                        max_attempts: self.max_attempts,
                    })
                    .await
                    .unwrap();
                assert_eq!(expired, vec![self.run], "only the walk's lease had run out");
                write_name::<ExpireLeases>()
            }
            Event::Leave => {
                self.store
                    .write(Deregister {
                        worker: self.worker,
                        reason: "drained".into(),
                    })
                    .await
                    .unwrap();
                write_name::<Deregister>()
            }
            Event::Cancel => {
                self.cancel().await;
                write_name::<Cancel>()
            }
            Event::Retry => {
                let n = self
                    .store
                    .write(Retry {
                        sweep: self.sweep,
                        failed: from == Some(RunState::Failed),
                        stopped: from == Some(RunState::Stopped),
                        cancelled: from == Some(RunState::Cancelled),
                    })
                    .await
                    .unwrap();
                assert_eq!(n, 1, "the run is queued again");
                write_name::<Retry>()
            }
        }
    }
}

/// Walks row `t` on sweep `sweep` (its one run still queued, every older sweep's run out
/// of the queue) with a worker of its own; cancels the sweep after.
async fn walk_one(store: &Store, pool: &sqlx::AnyPool, i: usize, sweep: SweepId, t: &Transition) {
    let run: i64 = sqlx::query_scalar("SELECT id FROM runs WHERE sweep_id = $1")
        .bind(sweep.get())
        .fetch_one(pool)
        .await
        .unwrap();
    let mut s = Subject {
        store,
        pool,
        sweep,
        run: RunId(run),
        worker: register(store, &format!("walker{i}")).await,
        lease: None,
        max_attempts: 3,
    };
    s.bring_to(t.from, t.event == Event::Expire).await;
    s.hold(t.guard).await;
    let before = s.read().await;
    if let Some(from) = t.from {
        assert_eq!(before.state, from, "{t:?}: the run is in the from state");
    }
    // The count before the attempt this event ends (or starts) began.
    let before_attempt = match t.count {
        Count::Kept | Count::Refunded => before.attempts - 1,
        _ => before.attempts,
    };
    let write = s.perform(t.event, t.from).await;
    assert_eq!(write, t.write, "{t:?}: the table names the write");
    let after = s.read().await;
    assert_eq!(after.state, t.to, "{t:?}: the run's state after");
    assert_eq!(
        after.attempts,
        t.count.apply(before.attempts),
        "{t:?}: the count of attempts"
    );
    if matches!(t.count, Count::Spent | Count::Kept | Count::Refunded) {
        assert_eq!(
            after.attempts == before_attempt + 1,
            t.count.counts_against_run(),
            "{t:?}: the attempt counts against the run iff the table says so"
        );
    }
    match t.attempt {
        Some(AttemptState::Running) => {
            assert_eq!(after.attempt_states.len(), before.attempt_states.len() + 1);
            assert_eq!(after.attempt_states.last(), Some(&AttemptState::Running));
        }
        Some(ended) => {
            assert_eq!(before.attempt_states.last(), Some(&AttemptState::Running));
            assert_eq!(after.attempt_states.len(), before.attempt_states.len());
            assert_eq!(after.attempt_states.last(), Some(&ended), "{t:?}");
        }
        None => assert_eq!(after.attempt_states, before.attempt_states, "{t:?}"),
    }
    // Out of the queue for the rows after.
    s.cancel().await;
}

/// Walks every row of the table, each on a one-run sweep of its own in one database.
async fn walk(pg: Option<&Postgres>) {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), pg);
    let coordinator = Coordinator::open(config.clone()).await.unwrap();
    let mut sweeps = Vec::new();
    for i in 0..TRANSITIONS.len() {
        let yaml = sweep(&format!("walk{i}"));
        sweeps.push(coordinator.submit("t.yaml", &yaml, "").await.unwrap().id);
    }
    coordinator.close().await;
    drop(coordinator);
    let store = Store::start(open_pool(&config.database).await.unwrap());
    let pool = store.pool.clone();
    for (i, t) in TRANSITIONS.iter().enumerate() {
        walk_one(&store, &pool, i, sweeps[i], t).await;
    }
    // Every state but the end states is left by some row, and every event is walked.
    for &state in RunState::ALL {
        let leaves = TRANSITIONS.iter().any(|t| t.from == Some(state));
        let ends = matches!(state, RunState::Finished);
        assert_eq!(leaves, !ends, "{state}");
    }
}

#[tokio::test]
async fn every_transition_of_the_table_is_what_the_store_does_on_sqlite() {
    walk(None).await;
}

#[tokio::test]
async fn every_transition_of_the_table_is_what_the_store_does_on_postgres() {
    if let Some(pg) = Postgres::start() {
        walk(Some(&pg)).await;
    }
}
