package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/backapp/backapp/internal/store"
)

const estimateColumns = `id, config_id, user_id, COALESCE(agent_id::text, ''), status, files, dirs, bytes, issues, samples,
	error, requested_at, started_at, finished_at, reported_at`

func scanEstimate(row pgx.Row, e *store.Estimate) error {
	var samples []byte
	if err := row.Scan(&e.ID, &e.ConfigID, &e.UserID, &e.AgentID, &e.Status, &e.Files, &e.Dirs, &e.Bytes, &e.Issues,
		&samples, &e.Error, &e.RequestedAt, &e.StartedAt, &e.FinishedAt, &e.ReportedAt); err != nil {
		return err
	}
	e.Samples = nil
	if err := json.Unmarshal(samples, &e.Samples); err != nil {
		return fmt.Errorf("scan estimate samples: %w", err)
	}
	if len(e.Samples) == 0 {
		e.Samples = nil
	}
	e.RequestedAt = e.RequestedAt.UTC()
	e.StartedAt, e.FinishedAt, e.ReportedAt = utcPtr(e.StartedAt), utcPtr(e.FinishedAt), utcPtr(e.ReportedAt)
	return nil
}

// PutEstimate makes e, pending, its configuration's estimate, replacing any other.
func (s *Store) PutEstimate(ctx context.Context, e *store.Estimate) error {
	v := *e
	op := "put estimate of config " + v.ConfigID
	if !validID(v.ConfigID) || !validID(v.UserID) || v.AgentID != "" && !validID(v.AgentID) {
		return notFound(op)
	}
	if v.ID == "" {
		id, err := newUUID(op)
		if err != nil {
			return err
		}
		v.ID = id
	}
	v.Status = store.EstimatePending
	v.Files, v.Dirs, v.Bytes, v.Issues, v.Samples, v.Error = 0, 0, 0, 0, nil, ""
	v.RequestedAt = norm(v.RequestedAt)
	v.StartedAt, v.FinishedAt, v.ReportedAt = nil, nil, nil
	_, err := s.pool.Exec(ctx, `INSERT INTO config_estimates (id, config_id, user_id, agent_id, status, requested_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (config_id) DO UPDATE SET id = excluded.id, user_id = excluded.user_id, agent_id = excluded.agent_id,
			status = excluded.status, files = 0, dirs = 0, bytes = 0, issues = 0, samples = '[]', error = '',
			requested_at = excluded.requested_at, started_at = NULL, finished_at = NULL, reported_at = NULL`,
		v.ID, v.ConfigID, v.UserID, nullStr(v.AgentID), v.Status, v.RequestedAt)
	if err != nil {
		return mapErr(op, err)
	}
	*e = v
	return nil
}

// GetEstimate returns the estimate with the given id.
func (s *Store) GetEstimate(ctx context.Context, id string) (store.Estimate, error) {
	op := "get estimate " + id
	if !validID(id) {
		return store.Estimate{}, notFound(op)
	}
	var e store.Estimate
	if err := scanEstimate(s.pool.QueryRow(ctx, `SELECT `+estimateColumns+` FROM config_estimates WHERE id = $1`, id), &e); err != nil {
		return store.Estimate{}, mapErr(op, err)
	}
	return e, nil
}

// ConfigEstimate returns a configuration's estimate.
func (s *Store) ConfigEstimate(ctx context.Context, configID string) (store.Estimate, error) {
	op := "estimate of config " + configID
	if !validID(configID) {
		return store.Estimate{}, notFound(op)
	}
	var e store.Estimate
	if err := scanEstimate(s.pool.QueryRow(ctx, `SELECT `+estimateColumns+` FROM config_estimates WHERE config_id = $1`, configID), &e); err != nil {
		return store.Estimate{}, mapErr(op, err)
	}
	return e, nil
}

func (s *Store) queryEstimates(ctx context.Context, op, rest string, args ...any) ([]store.Estimate, error) {
	return queryAll(ctx, s, op, `SELECT `+estimateColumns+` FROM config_estimates `+rest, scanEstimate, args...)
}

// PendingEstimates lists an agent's pending estimates, oldest first.
func (s *Store) PendingEstimates(ctx context.Context, agentID string) ([]store.Estimate, error) {
	if !validID(agentID) {
		return nil, nil
	}
	return s.queryEstimates(ctx, "pending estimates of agent "+agentID,
		`WHERE agent_id = $1 AND status = 'pending' ORDER BY requested_at, id`, agentID)
}

// StartEstimate moves a pending estimate to running, or gives ErrConflict.
func (s *Store) StartEstimate(ctx context.Context, id string, at time.Time) error {
	op := "start estimate " + id
	if !validID(id) {
		return notFound(op)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE config_estimates SET status = 'running', started_at = $1, reported_at = $1
		WHERE id = $2 AND status = 'pending'`, norm(at), id)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := s.GetEstimate(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("%s: not pending: %w", op, store.ErrConflict)
	}
	return nil
}

// FinishEstimate records the outcome of an estimate that has not finished yet.
func (s *Store) FinishEstimate(ctx context.Context, id string, r store.EstimateResult) error {
	op := "finish estimate " + id
	switch r.Status {
	case store.EstimateDone, store.EstimateFailed:
	default:
		return fmt.Errorf("%s: invalid status %q", op, r.Status)
	}
	if !validID(id) {
		return notFound(op)
	}
	samples := r.Samples
	if samples == nil {
		samples = []store.EstimateIssue{}
	}
	sj, err := json.Marshal(samples)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE config_estimates SET status = $1, files = $2, dirs = $3, bytes = $4, issues = $5,
		samples = $6, error = $7, finished_at = $8, started_at = COALESCE(started_at, $8)
		WHERE id = $9 AND status IN ('pending', 'running')`,
		r.Status, r.Files, r.Dirs, r.Bytes, r.Issues, string(sj), r.Error, norm(r.At), id)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := s.GetEstimate(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("%s: already finished: %w", op, store.ErrConflict)
	}
	return nil
}

// TouchEstimates records agentID's report of its running estimates ids and returns
// those that are running on it.
func (s *Store) TouchEstimates(ctx context.Context, agentID string, ids []string, at time.Time) ([]string, error) {
	ids = validIDs(ids)
	if len(ids) == 0 || !validID(agentID) {
		return nil, nil
	}
	op := "touch estimates of agent " + agentID
	rows, err := s.pool.Query(ctx, `UPDATE config_estimates SET reported_at = $1
		WHERE agent_id = $2 AND status = 'running' AND id = ANY($3::uuid[]) RETURNING id::text`, norm(at), agentID, ids)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, mapErr(op, err)
}

// StaleEstimates lists running estimates last reported before before.
func (s *Store) StaleEstimates(ctx context.Context, before time.Time) ([]store.Estimate, error) {
	return s.queryEstimates(ctx, "stale estimates", `WHERE status = 'running' AND reported_at < $1
		ORDER BY reported_at, id`, norm(before))
}
