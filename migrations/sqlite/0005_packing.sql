-- Packing runs by memory (--runs-per-device auto): each run's training-memory estimate,
-- and each worker's devices' memory (spec -> bytes; absent = unknown).
ALTER TABLE runs ADD COLUMN memory_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workers ADD COLUMN device_memory_json TEXT NOT NULL DEFAULT '{}';
