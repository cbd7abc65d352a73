package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/store"
)

const estimateColumns = `id, config_id, user_id, COALESCE(CAST(agent_id AS TEXT), ''), status, files, dirs, bytes, issues, samples,
	error, requested_at, started_at, finished_at, reported_at`

func scanEstimate(row scanner, e *store.Estimate) error {
	var samples string
	if err := row.Scan(&e.ID, &e.ConfigID, &e.UserID, &e.AgentID, &e.Status, &e.Files, &e.Dirs, &e.Bytes, &e.Issues,
		&samples, &e.Error, timeCol{&e.RequestedAt}, nullTimeCol{&e.StartedAt}, nullTimeCol{&e.FinishedAt},
		nullTimeCol{&e.ReportedAt}); err != nil {
		return err
	}
	e.Samples = nil
	if err := json.Unmarshal([]byte(samples), &e.Samples); err != nil {
		return fmt.Errorf("scan estimate samples: %w", err)
	}
	if len(e.Samples) == 0 {
		e.Samples = nil
	}
	return nil
}

func samplesJSON(s []store.EstimateIssue) (string, error) {
	if s == nil {
		s = []store.EstimateIssue{}
	}
	b, err := json.Marshal(s)
	return string(b), err
}

// PutEstimate makes e, pending, its configuration's estimate, replacing any other.
func (s *Store) PutEstimate(ctx context.Context, e *store.Estimate) error {
	v := *e
	op := "put estimate of config " + v.ConfigID
	if err := newID(op, &v.ID); err != nil {
		return err
	}
	if !s.validID(v.ID) || !s.validID(v.ConfigID) || !s.validID(v.UserID) || v.AgentID != "" && !s.validID(v.AgentID) {
		return notFound(op)
	}
	v.Status = store.EstimatePending
	v.Files, v.Dirs, v.Bytes, v.Issues, v.Samples, v.Error = 0, 0, 0, 0, nil, ""
	v.RequestedAt = norm(v.RequestedAt)
	v.StartedAt, v.FinishedAt, v.ReportedAt = nil, nil, nil
	_, err := s.exec(ctx, `INSERT INTO config_estimates (id, config_id, user_id, agent_id, status, requested_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (config_id) DO UPDATE SET id = excluded.id, user_id = excluded.user_id, agent_id = excluded.agent_id,
			status = excluded.status, files = 0, dirs = 0, bytes = 0, issues = 0, samples = '[]', error = '',
			requested_at = excluded.requested_at, started_at = NULL, finished_at = NULL, reported_at = NULL`,
		v.ID, v.ConfigID, v.UserID, nullStr(v.AgentID), v.Status, s.t(v.RequestedAt))
	if err != nil {
		return mapErr(op, err)
	}
	*e = v
	return nil
}

// GetEstimate returns the estimate with the given id.
func (s *Store) GetEstimate(ctx context.Context, id string) (store.Estimate, error) {
	if !s.validID(id) {
		return store.Estimate{}, notFound("get estimate " + id)
	}
	var e store.Estimate
	row := s.queryRow(ctx, `SELECT `+estimateColumns+` FROM config_estimates WHERE id = ?`, id)
	if err := scanEstimate(row, &e); err != nil {
		return store.Estimate{}, mapErr("get estimate "+id, err)
	}
	return e, nil
}

// ConfigEstimate returns a configuration's estimate.
func (s *Store) ConfigEstimate(ctx context.Context, configID string) (store.Estimate, error) {
	if !s.validID(configID) {
		return store.Estimate{}, notFound("estimate of config " + configID)
	}
	var e store.Estimate
	row := s.queryRow(ctx, `SELECT `+estimateColumns+` FROM config_estimates WHERE config_id = ?`, configID)
	if err := scanEstimate(row, &e); err != nil {
		return store.Estimate{}, mapErr("estimate of config "+configID, err)
	}
	return e, nil
}

func (s *Store) queryEstimates(ctx context.Context, op, rest string, args ...any) ([]store.Estimate, error) {
	return queryAll(ctx, s, op, `SELECT `+estimateColumns+` FROM config_estimates `+rest, scanEstimate, args...)
}

// PendingEstimates lists an agent's pending estimates, oldest first.
func (s *Store) PendingEstimates(ctx context.Context, agentID string) ([]store.Estimate, error) {
	if !s.validID(agentID) {
		return nil, nil
	}
	return s.queryEstimates(ctx, "pending estimates of agent "+agentID,
		`WHERE agent_id = ? AND status = 'pending' ORDER BY requested_at, id`, agentID)
}

// StartEstimate moves a pending estimate to running, or gives ErrConflict.
func (s *Store) StartEstimate(ctx context.Context, id string, at time.Time) error {
	op := "start estimate " + id
	if !s.validID(id) {
		return notFound(op)
	}
	return s.execState(ctx, op, "not pending", func() error { _, err := s.GetEstimate(ctx, id); return err },
		`UPDATE config_estimates SET status = 'running', started_at = ?, reported_at = ?
		WHERE id = ? AND status = 'pending'`, s.t(at), s.t(at), id)
}

// FinishEstimate records the outcome of an estimate that has not finished yet.
func (s *Store) FinishEstimate(ctx context.Context, id string, r store.EstimateResult) error {
	op := "finish estimate " + id
	switch r.Status {
	case store.EstimateDone, store.EstimateFailed:
	default:
		return fmt.Errorf("%s: invalid status %q", op, r.Status)
	}
	if !s.validID(id) {
		return notFound(op)
	}
	samples, err := samplesJSON(r.Samples)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	at := s.t(r.At)
	return s.execState(ctx, op, "already finished", func() error { _, err := s.GetEstimate(ctx, id); return err },
		`UPDATE config_estimates SET status = ?, files = ?, dirs = ?, bytes = ?, issues = ?,
		samples = ?, error = ?, finished_at = ?, started_at = COALESCE(started_at, ?)
		WHERE id = ? AND status IN ('pending', 'running')`, r.Status, r.Files, r.Dirs, r.Bytes, r.Issues, samples, r.Error, at, at, id)
}

// TouchEstimates records agentID's report of its running estimates ids and returns
// those that are running on it.
func (s *Store) TouchEstimates(ctx context.Context, agentID string, ids []string, at time.Time) ([]string, error) {
	ids = s.validIDs(ids)
	if len(ids) == 0 || !s.validID(agentID) {
		return nil, nil
	}
	op := "touch estimates of agent " + agentID
	args := []any{s.t(at), agentID}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.writeQuery(ctx, `UPDATE config_estimates SET reported_at = ?
		WHERE agent_id = ? AND status = 'running' AND id IN (`+placeholders(len(ids))+`) RETURNING id`, args...)
	return scanIDs(op, rows, err)
}

// StaleEstimates lists running estimates last reported before before.
func (s *Store) StaleEstimates(ctx context.Context, before time.Time) ([]store.Estimate, error) {
	return s.queryEstimates(ctx, "stale estimates", `WHERE status = 'running' AND reported_at < ?
		ORDER BY reported_at, id`, s.t(before))
}
