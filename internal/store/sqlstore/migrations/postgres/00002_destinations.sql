-- Storage destinations (S3 and the built-in local directory). Credentials are sealed
-- by the application (AES-256-GCM under the master key, the row id as associated
-- data): the database never sees them in clear.

-- +goose Up
CREATE TABLE storage_destinations (
    id          uuid PRIMARY KEY,
    -- NULL for shared destinations (the built-in local one).
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('s3', 'local')),
    -- endpoint, region, bucket, pathStyle, storageClass, sse, sseKmsKeyId; no secrets.
    settings    jsonb NOT NULL DEFAULT '{}',
    credentials bytea,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX idx_storage_destinations_user_name ON storage_destinations (user_id, name);
-- One built-in local destination, even when replicas start together.
CREATE UNIQUE INDEX idx_storage_destinations_shared_local ON storage_destinations (kind)
    WHERE user_id IS NULL AND kind = 'local';

-- +goose Down
DROP TABLE storage_destinations;
