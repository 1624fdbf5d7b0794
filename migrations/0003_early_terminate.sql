-- Early termination: each sweep's rungs (NULL when off), why a run was asked to stop (a
-- cancel or a rung's verdict, shown with the run), and an index for the rung lookup: every
-- value of a sweep's runs at one step.
ALTER TABLE sweeps ADD COLUMN early_min_iter INTEGER;
ALTER TABLE sweeps ADD COLUMN early_eta INTEGER;
ALTER TABLE runs ADD COLUMN stop_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX evals_step ON evals(step, run_id);
