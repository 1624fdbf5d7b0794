-- Model-based search (method: tpe): the runs a sweep makes in all (a tpe sweep makes them
-- one at a time, as workers ask, up to this; grid and random record how many they planned),
-- and the corpus facts a proposal is checked against (vocabulary size for the memory
-- estimate, the shorter split's length for block_size), recorded at submit. Sweeps stored
-- before made every run at submit: 0 leaves them as they were.
ALTER TABLE sweeps ADD COLUMN run_cap INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sweeps ADD COLUMN vocab_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sweeps ADD COLUMN shortest_split INTEGER NOT NULL DEFAULT 0;
