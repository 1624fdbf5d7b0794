-- Early termination: each sweep's rungs (NULL when off) and why a run was asked to stop (a
-- cancel or a rung's verdict, shown with the run). The rung lookup (every value of a
-- sweep's runs at one step) walks runs by sweep and evals by their key: no new index, so
-- storing an evaluation costs what it did.
ALTER TABLE sweeps ADD COLUMN early_min_iter INTEGER;
ALTER TABLE sweeps ADD COLUMN early_eta INTEGER;
ALTER TABLE runs ADD COLUMN stop_reason TEXT NOT NULL DEFAULT '';
