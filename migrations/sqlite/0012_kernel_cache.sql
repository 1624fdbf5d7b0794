-- The fleet's kernel cache: the records of cubecl's cache files (compiled GPU kernels,
-- autotune results) that workers uploaded, by scope (device, driver, build), content-addressed
-- (api/src/kernel_entries.rs; coordinator/src/kernels.rs). seq orders them for a worker's
-- "what is new since"; the oldest go first past the cache's bound.
CREATE TABLE kernel_records (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    scope       TEXT NOT NULL,
    digest      TEXT NOT NULL,
    file        TEXT NOT NULL,
    data        BLOB NOT NULL,
    bytes       BIGINT NOT NULL,
    worker_id   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (scope, digest)
);
CREATE INDEX kernel_records_scope_seq ON kernel_records (scope, seq);
