-- Checkpoints kept by the coordinator: the latest of each run, content-addressed under
-- <state>/checkpoints/<sha256>.ckpt, and where each attempt resumed from.
ALTER TABLE runs ADD COLUMN checkpoint_sha256 TEXT;
ALTER TABLE runs ADD COLUMN checkpoint_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN resumed_from INTEGER NOT NULL DEFAULT 0;
