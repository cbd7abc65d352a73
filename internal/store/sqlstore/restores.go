package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/store"
)

const restoreColumns = `id, user_id, run_id, COALESCE(CAST(agent_id AS TEXT), ''), target_dir, paths, overwrite, unportable_names, status,
	cancel_requested, error, files_written, bytes_written, created_at, started_at, finished_at, reported_at`

func scanRestore(row scanner, r *store.Restore) error {
	var paths string
	if err := row.Scan(&r.ID, &r.UserID, &r.RunID, &r.AgentID, &r.TargetDir, &paths, &r.Overwrite, &r.UnportableNames, &r.Status,
		&r.CancelRequested, &r.Error, &r.FilesWritten, &r.BytesWritten, timeCol{&r.CreatedAt},
		nullTimeCol{&r.StartedAt}, nullTimeCol{&r.FinishedAt}, nullTimeCol{&r.ReportedAt}); err != nil {
		return err
	}
	r.Paths = nil
	if err := json.Unmarshal([]byte(paths), &r.Paths); err != nil {
		return fmt.Errorf("scan restore paths: %w", err)
	}
	if len(r.Paths) == 0 {
		r.Paths = nil
	}
	return nil
}

// CreateRestore inserts r, with its sealed identity when it has one (in the same
// statement: a heartbeat on another replica must not find the restore without it).
// An empty ID gets a new UUID v7, an empty Status queued. r.Identity is cleared.
func (s *Store) CreateRestore(ctx context.Context, r *store.Restore) error {
	v := *r
	var sealed, until any
	if v.Identity != nil {
		sealed, until = v.Identity.Sealed, s.t(v.Identity.Until)
	}
	v.Identity = nil
	op := "create restore of run " + v.RunID
	if err := newID(op, &v.ID); err != nil {
		return err
	}
	if !s.validID(v.ID) || !s.validID(v.RunID) || !s.validID(v.UserID) || v.AgentID != "" && !s.validID(v.AgentID) {
		return notFound(op)
	}
	if v.Status == "" {
		v.Status = store.RestoreQueued
	}
	if v.UnportableNames == "" {
		v.UnportableNames = store.UnportableRename
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
	_, err = s.exec(ctx, `INSERT INTO restores (id, user_id, run_id, agent_id, target_dir, paths, overwrite,
		unportable_names, status, cancel_requested, error, files_written, bytes_written, created_at, started_at, finished_at,
		identity_sealed, identity_until)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.UserID, v.RunID, nullStr(v.AgentID), v.TargetDir, string(pj), v.Overwrite, v.UnportableNames, v.Status,
		v.CancelRequested, v.Error, v.FilesWritten, v.BytesWritten, s.t(v.CreatedAt),
		s.tp(v.StartedAt), s.tp(v.FinishedAt), sealed, until)
	if err != nil {
		return mapErr(op, err)
	}
	*r = v
	return nil
}

// GetRestore returns the restore with the given id.
func (s *Store) GetRestore(ctx context.Context, id string) (store.Restore, error) {
	if !s.validID(id) {
		return store.Restore{}, notFound("get restore " + id)
	}
	var r store.Restore
	row := s.queryRow(ctx, `SELECT `+restoreColumns+` FROM restores WHERE id = ?`, id)
	if err := scanRestore(row, &r); err != nil {
		return store.Restore{}, mapErr("get restore "+id, err)
	}
	return r, nil
}

func (s *Store) queryRestores(ctx context.Context, op, rest string, args ...any) ([]store.Restore, error) {
	return queryAll(ctx, s, op, `SELECT `+restoreColumns+` FROM restores `+rest, scanRestore, args...)
}

// ListRestores lists f.UserID's restores (all when ""), in f's order.
func (s *Store) ListRestores(ctx context.Context, f store.RestoreFilter) ([]store.Restore, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	var w where
	if f.UserID != "" {
		if !s.validID(f.UserID) {
			return nil, nil
		}
		w.add("user_id = ?", f.UserID)
	}
	return s.queryRestores(ctx, "list restores", w.String()+` ORDER BY `+restoreOrder(f.Sort, f.Asc)+` LIMIT ? OFFSET ?`,
		append(w.args, limit, max(f.Offset, 0))...)
}

// restoreOrder is the ORDER BY list of a restores order (store.RestoreSorts), with
// id as the last tie-breaker so pages never overlap.
func restoreOrder(by string, asc bool) string {
	dir := " DESC"
	if asc {
		dir = " ASC"
	}
	switch by {
	case store.RestoresByStatus:
		return "status" + dir + ", created_at" + dir + ", id" + dir
	case store.RestoresByTarget:
		return "target_dir" + dir + ", created_at" + dir + ", id" + dir
	}
	return "created_at" + dir + ", id" + dir
}

// PendingRestores lists an agent's queued restores, running ones to cancel and
// running ones its agent has not acknowledged.
func (s *Store) PendingRestores(ctx context.Context, agentID string) ([]store.Restore, error) {
	if !s.validID(agentID) {
		return nil, nil
	}
	return s.queryRestores(ctx, "pending restores of agent "+agentID, `WHERE agent_id = ? AND status IN ('queued', 'running')
		AND (status = 'queued' OR cancel_requested OR reported_at IS NULL OR reported_at <= started_at)
		ORDER BY created_at, id`, agentID)
}

// StartRestore moves a queued restore to running, or gives ErrConflict.
func (s *Store) StartRestore(ctx context.Context, id string, at time.Time) error {
	op := "start restore " + id
	if !s.validID(id) {
		return notFound(op)
	}
	return s.execState(ctx, op, "not queued", func() error { _, err := s.GetRestore(ctx, id); return err },
		`UPDATE restores SET status = 'running', started_at = ?
		WHERE id = ? AND status = 'queued'`, s.t(at), id)
}

// FinishRestore records the outcome of a restore that has not finished yet.
func (s *Store) FinishRestore(ctx context.Context, id string, r store.RestoreResult) error {
	op := "finish restore " + id
	switch r.Status {
	case store.RestoreCompleted, store.RestoreFailed, store.RestoreCancelled:
	default:
		return fmt.Errorf("%s: invalid status %q", op, r.Status)
	}
	if !s.validID(id) {
		return notFound(op)
	}
	return s.execState(ctx, op, "already finished", func() error { _, err := s.GetRestore(ctx, id); return err },
		`UPDATE restores SET status = ?, error = ?, files_written = ?, bytes_written = ?,
		finished_at = ?, started_at = COALESCE(started_at, ?), `+eraseIdentity+`
		WHERE id = ? AND status IN ('queued', 'running')`, r.Status, r.Error, r.FilesWritten, r.BytesWritten, s.t(r.At), s.t(r.At), id)
}

// CancelRestore cancels a queued restore or asks a running one to stop.
func (s *Store) CancelRestore(ctx context.Context, id string, at time.Time) (store.Restore, error) {
	if !s.validID(id) {
		return store.Restore{}, notFound("cancel restore " + id)
	}
	_, err := s.exec(ctx, `UPDATE restores SET
		status = CASE status WHEN 'queued' THEN 'cancelled' ELSE status END,
		finished_at = CASE status WHEN 'queued' THEN ? ELSE finished_at END,
		cancel_requested = CASE status WHEN 'running' THEN true ELSE cancel_requested END,
		`+eraseIdentity+`
		WHERE id = ? AND status IN ('queued', 'running')`, s.t(at), id)
	if err != nil {
		return store.Restore{}, mapErr("cancel restore "+id, err)
	}
	return s.GetRestore(ctx, id)
}

// TouchRestores records that agentID reported its running restores ids at at.
func (s *Store) TouchRestores(ctx context.Context, agentID string, ids []string, at time.Time) error {
	ids = s.validIDs(ids)
	if len(ids) == 0 || !s.validID(agentID) {
		return nil
	}
	args := []any{s.t(at), s.t(at), s.t(at), agentID}
	for _, id := range ids {
		args = append(args, id)
	}
	// The hand-out records its own report at StartedAt; only a later one acknowledges.
	_, err := s.exec(ctx, `UPDATE restores SET reported_at = ?,
		identity_sealed = CASE WHEN started_at < ? THEN NULL ELSE identity_sealed END,
		identity_until = CASE WHEN started_at < ? THEN NULL ELSE identity_until END
		WHERE agent_id = ? AND status = 'running' AND id IN (`+placeholders(len(ids))+`)`, args...)
	return mapErr("touch restores of agent "+agentID, err)
}

// ProgressRestore records a running restore's progress.
func (s *Store) ProgressRestore(ctx context.Context, id, agentID string, files, bytes int64, at time.Time) error {
	op := "progress of restore " + id
	if !s.validID(id) || !s.validID(agentID) {
		return notFound(op)
	}
	return s.execState(ctx, op, "not running on agent "+agentID, func() error { return nil },
		`UPDATE restores SET files_written = ?, bytes_written = ?, reported_at = ?, `+eraseIdentity+`
		WHERE id = ? AND agent_id = ? AND status = 'running'`, max(files, 0), max(bytes, 0), s.t(at), id, agentID)
}

// StaleRestores lists running restores last reported before before.
func (s *Store) StaleRestores(ctx context.Context, before time.Time) ([]store.Restore, error) {
	return s.queryRestores(ctx, "stale restores", `WHERE status = 'running' AND reported_at IS NOT NULL
		AND reported_at < ? ORDER BY reported_at, id`, s.t(before))
}

// eraseIdentity is the SET clause that erases a restore's kept identity.
const eraseIdentity = `identity_sealed = NULL, identity_until = NULL`

// RestoreIdentity returns the sealed identity kept for restore id, or ErrNotFound;
// one expired at now is erased.
func (s *Store) RestoreIdentity(ctx context.Context, id string, now time.Time) ([]byte, error) {
	op := "identity of restore " + id
	if !s.validID(id) {
		return nil, notFound(op)
	}
	var sealed []byte
	var until *time.Time
	err := s.queryRow(ctx, `SELECT identity_sealed, identity_until FROM restores WHERE id = ?`, id).Scan(&sealed, nullTimeCol{&until})
	if err != nil {
		return nil, mapErr(op, err)
	}
	if sealed == nil || until == nil {
		return nil, notFound(op)
	}
	if !now.Before(*until) {
		if _, err := s.exec(ctx, `UPDATE restores SET `+eraseIdentity+` WHERE id = ? AND identity_until <= ?`, id, s.t(now)); err != nil {
			return nil, mapErr("erase expired "+op, err)
		}
		return nil, notFound(op)
	}
	return sealed, nil
}

// EraseExpiredRestoreIdentities erases the identities kept past their time at now.
func (s *Store) EraseExpiredRestoreIdentities(ctx context.Context, now time.Time) (int, error) {
	res, err := s.exec(ctx, `UPDATE restores SET `+eraseIdentity+` WHERE identity_until <= ?`, s.t(now))
	n, err := affected("erase expired restore identities", res, err)
	return int(n), err
}
