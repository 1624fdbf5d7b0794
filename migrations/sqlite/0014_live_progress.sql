-- Live progress: a running run's latest step between evaluations, its training throughput
-- over the last seconds, when the coordinator heard it (its clock, ms since the epoch) and
-- the lease that sent it (progress counts only while that lease holds the run). Workers
-- send it with each heartbeat; the statement that renews the lease writes it, so it costs
-- no write of its own.
ALTER TABLE runs ADD COLUMN progress_step BIGINT;
ALTER TABLE runs ADD COLUMN progress_tokens_per_sec DOUBLE PRECISION;
ALTER TABLE runs ADD COLUMN progress_at BIGINT;
ALTER TABLE runs ADD COLUMN progress_lease BIGINT;
