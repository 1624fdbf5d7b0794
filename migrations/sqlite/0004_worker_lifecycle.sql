-- no-transaction
-- Worker lifecycle: an attempt may end `preempted` (the worker stopped on a signal and handed
-- the run back) or `worker_fault` (the worker's device, memory or disk failed); neither is
-- counted against the run. Workers leave (deregister) and devices can be disabled after
-- failing runs in a row. SQLite cannot alter a CHECK constraint, so attempts is rebuilt with
-- foreign keys off (outside a transaction, as SQLite requires), then checked.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE attempts_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        INTEGER NOT NULL REFERENCES runs(id),
    worker_id     INTEGER NOT NULL REFERENCES workers(id),
    device        TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('running', 'finished', 'stopped', 'failed', 'expired', 'preempted', 'worker_fault')),
    reason        TEXT NOT NULL DEFAULT '',
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER,
    resumed_from  INTEGER NOT NULL DEFAULT 0
);
INSERT INTO attempts_new (id, run_id, worker_id, device, state, reason, started_at, ended_at, resumed_from)
    SELECT id, run_id, worker_id, device, state, reason, started_at, ended_at, resumed_from FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_new RENAME TO attempts;
CREATE INDEX attempts_run ON attempts(run_id);
ALTER TABLE workers ADD COLUMN left_reason TEXT;
ALTER TABLE workers ADD COLUMN disabled_json TEXT NOT NULL DEFAULT '{}';
COMMIT;
PRAGMA foreign_keys = ON;
