-- The queued runs alone, in lease order: the lease reads the first of them. The index on
-- (state, sweep_id, idx) serves that too, but PostgreSQL's planner, on statistics taken
-- while most runs were queued, read the runs in (sweep_id, idx) order instead and stepped
-- over every finished one on each lease (4 ms a lease with 5,000 finished). An index that
-- holds only queued runs is the cheapest path whatever the statistics say.
CREATE INDEX runs_queued ON runs(sweep_id, idx) WHERE state = 'queued';
