-- The store's identity: one id, also written in the state directory's store-id file, so that a
-- coordinator never pairs a database with another store's blobs (coordinator/src/store/identity.rs);
-- and when the health probe last wrote (a real write, so that a full disk shows at once).
CREATE TABLE store_identity (
    id          TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    probed_at   BIGINT NOT NULL DEFAULT 0
);
