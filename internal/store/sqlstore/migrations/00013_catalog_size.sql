-- What each run stored (issue 17): besides its archive and manifest, the bytes of the
-- catalog copy its agent sent the server (encrypted runs; 0 when none), so the run's
-- page, the CLI and storage used count everything a run uploaded.

-- +goose Up
ALTER TABLE backup_logs ADD COLUMN catalog_size {{int}} NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE backup_logs DROP COLUMN catalog_size;
