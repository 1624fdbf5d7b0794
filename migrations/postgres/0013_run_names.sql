-- A run's name and note, set by `gptsweep annotate RUN --name .. --note ..` (W&B's run
-- name and notes): shown by show, top, --output json and the dashboard. Empty = none.
ALTER TABLE runs ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN note TEXT NOT NULL DEFAULT '';
