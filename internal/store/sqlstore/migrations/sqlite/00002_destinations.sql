-- Storage destinations (S3 and the built-in local directory). Credentials are sealed
-- by the application (AES-256-GCM under the master key, the row id as associated
-- data): the database never sees them in clear.

-- +goose Up
CREATE TABLE storage_destinations (
    id          TEXT PRIMARY KEY,
    -- NULL for shared destinations (the built-in local one).
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('s3', 'local')),
    -- endpoint, region, bucket, pathStyle, storageClass, sse, sseKmsKeyId; no secrets.
    settings    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    credentials BLOB,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX idx_storage_destinations_user_name ON storage_destinations (user_id, name);
-- One built-in local destination, even when replicas start together.
CREATE UNIQUE INDEX idx_storage_destinations_shared_local ON storage_destinations (kind)
    WHERE user_id IS NULL AND kind = 'local';

-- +goose Down
DROP TABLE storage_destinations;
