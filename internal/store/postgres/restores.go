package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/backapp/backapp/internal/store"
)

const restoreColumns = `id, user_id, run_id, COALESCE(agent_id::text, ''), target_dir, paths, overwrite, status,
	cancel_requested, error, files_written, bytes_written, created_at, started_at, finished_at, reported_at`

func scanRestore(row pgx.Row, r *store.Restore) error {
	var paths []byte
	if err := row.Scan(&r.ID, &r.UserID, &r.RunID, &r.AgentID, &r.TargetDir, &paths, &r.Overwrite, &r.Status,
		&r.CancelRequested, &r.Error, &r.FilesWritten, &r.BytesWritten, &r.CreatedAt,
		&r.StartedAt, &r.FinishedAt, &r.ReportedAt); err != nil {
		return err
	}
	r.Paths = nil
	if err := json.Unmarshal(paths, &r.Paths); err != nil {
		return fmt.Errorf("scan restore paths: %w", err)
	}
	if len(r.Paths) == 0 {
		r.Paths = nil
	}
	r.CreatedAt = r.CreatedAt.UTC()
	r.StartedAt, r.FinishedAt, r.ReportedAt = utcPtr(r.StartedAt), utcPtr(r.FinishedAt), utcPtr(r.ReportedAt)
	return nil
}

// CreateRestore inserts r. An empty ID gets a new UUID v7, an empty Status queued.
func (s *Store) CreateRestore(ctx context.Context, r *store.Restore) error {
	v := *r
	op := "create restore of run " + v.RunID
	if !validID(v.RunID) || !validID(v.UserID) || v.AgentID != "" && !validID(v.AgentID) {
		return notFound(op)
	}
	if v.ID == "" {
		id, err := newUUID(op)
		if err != nil {
			return err
		}
		v.ID = id
	}
	if v.Status == "" {
		v.Status = store.RestoreQueued
	}
	paths := v.Paths
	if paths == nil {
		paths = []string{}
	}
	pj, err := json.Marshal(paths)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	v.CreatedAt = norm(v.CreatedAt)
	v.StartedAt, v.FinishedAt = normPtr(v.StartedAt), normPtr(v.FinishedAt)
	_, err = s.pool.Exec(ctx, `INSERT INTO restores (id, user_id, run_id, agent_id, target_dir, paths, overwrite,
		status, cancel_requested, error, files_written, bytes_written, created_at, started_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		v.ID, v.UserID, v.RunID, nullStr(v.AgentID), v.TargetDir, string(pj), v.Overwrite, v.Status,
		v.CancelRequested, v.Error, v.FilesWritten, v.BytesWritten, v.CreatedAt, v.StartedAt, v.FinishedAt)
	if err != nil {
		return mapErr(op, err)
	}
	*r = v
	return nil
}

// GetRestore returns the restore with the given id.
func (s *Store) GetRestore(ctx context.Context, id string) (store.Restore, error) {
	op := "get restore " + id
	if !validID(id) {
		return store.Restore{}, notFound(op)
	}
	var r store.Restore
	if err := scanRestore(s.pool.QueryRow(ctx, `SELECT `+restoreColumns+` FROM restores WHERE id = $1`, id), &r); err != nil {
		return store.Restore{}, mapErr(op, err)
	}
	return r, nil
}

func (s *Store) queryRestores(ctx context.Context, op, rest string, args ...any) ([]store.Restore, error) {
	return queryAll(ctx, s, op, `SELECT `+restoreColumns+` FROM restores `+rest, scanRestore, args...)
}

// ListRestores lists a user's restores (all when userID is ""), newest first.
func (s *Store) ListRestores(ctx context.Context, userID string, limit, offset int) ([]store.Restore, error) {
	if limit <= 0 {
		limit = 50
	}
	if userID == "" {
		return s.queryRestores(ctx, "list restores", `ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2`, limit, max(offset, 0))
	}
	if !validID(userID) {
		return nil, nil
	}
	return s.queryRestores(ctx, "list restores", `WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`,
		userID, limit, max(offset, 0))
}

// PendingRestores lists an agent's queued restores and running ones to cancel.
func (s *Store) PendingRestores(ctx context.Context, agentID string) ([]store.Restore, error) {
	if !validID(agentID) {
		return nil, nil
	}
	return s.queryRestores(ctx, "pending restores of agent "+agentID, `WHERE agent_id = $1 AND status IN ('queued', 'running')
		AND (status = 'queued' OR cancel_requested) ORDER BY created_at, id`, agentID)
}

// StartRestore moves a queued restore to running, or gives ErrConflict.
func (s *Store) StartRestore(ctx context.Context, id string, at time.Time) error {
	op := "start restore " + id
	if !validID(id) {
		return notFound(op)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE restores SET status = 'running', started_at = $1
		WHERE id = $2 AND status = 'queued'`, norm(at), id)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := s.GetRestore(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("%s: not queued: %w", op, store.ErrConflict)
	}
	return nil
}

// FinishRestore records the outcome of a restore that has not finished yet.
func (s *Store) FinishRestore(ctx context.Context, id string, r store.RestoreResult) error {
	op := "finish restore " + id
	switch r.Status {
	case store.RestoreCompleted, store.RestoreFailed, store.RestoreCancelled:
	default:
		return fmt.Errorf("%s: invalid status %q", op, r.Status)
	}
	if !validID(id) {
		return notFound(op)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE restores SET status = $1, error = $2, files_written = $3, bytes_written = $4,
		finished_at = $5, started_at = COALESCE(started_at, $5)
		WHERE id = $6 AND status IN ('queued', 'running')`,
		r.Status, r.Error, r.FilesWritten, r.BytesWritten, norm(r.At), id)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := s.GetRestore(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("%s: already finished: %w", op, store.ErrConflict)
	}
	return nil
}

// CancelRestore cancels a queued restore or asks a running one to stop.
func (s *Store) CancelRestore(ctx context.Context, id string, at time.Time) (store.Restore, error) {
	op := "cancel restore " + id
	if !validID(id) {
		return store.Restore{}, notFound(op)
	}
	_, err := s.pool.Exec(ctx, `UPDATE restores SET
		status = CASE status WHEN 'queued' THEN 'cancelled' ELSE status END,
		finished_at = CASE status WHEN 'queued' THEN $1 ELSE finished_at END,
		cancel_requested = (status = 'running') OR cancel_requested
		WHERE id = $2 AND status IN ('queued', 'running')`, norm(at), id)
	if err != nil {
		return store.Restore{}, mapErr(op, err)
	}
	return s.GetRestore(ctx, id)
}

// validIDs keeps the ids that can name a row.
func validIDs(ids []string) []string {
	var out []string
	for _, id := range ids {
		if validID(id) {
			out = append(out, id)
		}
	}
	return out
}

// TouchRestores records that agentID reported its running restores ids at at.
func (s *Store) TouchRestores(ctx context.Context, agentID string, ids []string, at time.Time) error {
	ids = validIDs(ids)
	if len(ids) == 0 || !validID(agentID) {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE restores SET reported_at = $1
		WHERE agent_id = $2 AND status = 'running' AND id = ANY($3::uuid[])`, norm(at), agentID, ids)
	return mapErr("touch restores of agent "+agentID, err)
}

// ProgressRestore records a running restore's progress.
func (s *Store) ProgressRestore(ctx context.Context, id, agentID string, files, bytes int64, at time.Time) error {
	op := "progress of restore " + id
	if !validID(id) || !validID(agentID) {
		return notFound(op)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE restores SET files_written = $1, bytes_written = $2, reported_at = $3
		WHERE id = $4 AND agent_id = $5 AND status = 'running'`, max(files, 0), max(bytes, 0), norm(at), id, agentID)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: not running on agent %s: %w", op, agentID, store.ErrConflict)
	}
	return nil
}

// StaleRestores lists running restores last reported before before.
func (s *Store) StaleRestores(ctx context.Context, before time.Time) ([]store.Restore, error) {
	return s.queryRestores(ctx, "stale restores", `WHERE status = 'running' AND reported_at IS NOT NULL
		AND reported_at < $1 ORDER BY reported_at, id`, norm(before))
}
