-- Which run shapes are warm in which kernel scope (coordinator/src/warm_shapes.rs): a
-- worker of the scope trained the shape (a run or a warm-up) and uploaded its kernels, so
-- workers warming ahead (`--warm-ahead`) skip it. Forgotten when the kernel cache drops
-- records past its bound.
CREATE TABLE warm_shapes (
    scope       TEXT NOT NULL,
    shape       TEXT NOT NULL,
    worker_id   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, shape)
);
