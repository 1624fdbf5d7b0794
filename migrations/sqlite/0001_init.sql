-- gptsweep's store. Times are milliseconds since the Unix epoch.

CREATE TABLE datasets (
    sha256      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    builtin     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE sweeps (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL UNIQUE,
    file_name       TEXT NOT NULL,
    yaml            TEXT NOT NULL,
    spec_json       TEXT NOT NULL,
    method          TEXT NOT NULL,
    metric          TEXT NOT NULL,
    goal            TEXT NOT NULL,
    dataset_sha256  TEXT NOT NULL REFERENCES datasets(sha256),
    state           TEXT NOT NULL CHECK (state IN ('running', 'finished', 'cancelled')),
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);

CREATE TABLE workers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL,
    devices_json    TEXT NOT NULL,
    registered_at   INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL
);

CREATE TABLE runs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    sweep_id          INTEGER NOT NULL REFERENCES sweeps(id),
    idx               INTEGER NOT NULL,
    hyperparams_json  TEXT NOT NULL,
    swept_json        TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('queued', 'running', 'finished', 'failed', 'stopped', 'cancelled')),
    stop_requested    INTEGER NOT NULL DEFAULT 0,
    attempts          INTEGER NOT NULL DEFAULT 0,
    lease_id          INTEGER,
    lease_expires_at  INTEGER,
    num_params        INTEGER NOT NULL,
    best_val_loss     REAL,
    best_step         INTEGER,
    last_train_loss   REAL,
    last_step         INTEGER NOT NULL DEFAULT 0,
    tokens_per_sec    REAL NOT NULL DEFAULT 0,
    train_secs        REAL NOT NULL DEFAULT 0,
    error             TEXT NOT NULL DEFAULT '',
    summary_json      TEXT,
    created_at        INTEGER NOT NULL,
    finished_at       INTEGER,
    UNIQUE (sweep_id, idx)
);
CREATE INDEX runs_queue ON runs(state, sweep_id, idx);

-- One row per lease: a run handed to one worker's device, until it ends.
CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    worker_id   INTEGER NOT NULL REFERENCES workers(id),
    device      TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('running', 'finished', 'stopped', 'failed', 'expired')),
    reason      TEXT NOT NULL DEFAULT '',
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER
);
CREATE INDEX attempts_run ON attempts(run_id);

CREATE TABLE evals (
    run_id          INTEGER NOT NULL REFERENCES runs(id),
    step            INTEGER NOT NULL,
    train_loss      REAL NOT NULL,
    val_loss        REAL NOT NULL,
    tokens_per_sec  REAL NOT NULL,
    train_secs      REAL NOT NULL,
    attempt_id      INTEGER NOT NULL REFERENCES attempts(id),
    recorded_at     INTEGER NOT NULL,
    PRIMARY KEY (run_id, step)
);

CREATE TABLE samples (
    run_id  INTEGER NOT NULL REFERENCES runs(id),
    idx     INTEGER NOT NULL,
    prompt  TEXT NOT NULL,
    seed    INTEGER NOT NULL,
    text    TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
);
