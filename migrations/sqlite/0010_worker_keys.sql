-- Each worker's key: the sha256 (hex) of the secret the coordinator hands it at
-- registration, which it sends on every later call. The secret itself is never stored.
-- Workers registered before have none and must register again.
ALTER TABLE workers ADD COLUMN key_sha256 TEXT;
