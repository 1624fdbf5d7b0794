-- The sweep's samples block (prompts, length, seed) as a lease hands it to a worker, kept
-- apart from the spec: reading it out of spec_json on every lease meant skipping the whole
-- spec, and a grid's spec lists every value (10,000 seeds are 60 KB of JSON). Sweeps
-- stored before get theirs from their spec.
ALTER TABLE sweeps ADD COLUMN samples_json TEXT NOT NULL DEFAULT '';
UPDATE sweeps SET samples_json = COALESCE((spec_json::jsonb -> 'samples')::text, '');
