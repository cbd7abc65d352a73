package sqlstore

import (
	"context"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// userClause is " AND user_id = ?" with its argument for one user, nothing for all.
func userClause(userID string) (string, []any) {
	if userID == "" {
		return "", nil
	}
	return " AND user_id = ?", []any{userID}
}

// EachRunStat streams userID's runs started at or after since, oldest first.
func (s *Store) EachRunStat(ctx context.Context, userID string, since time.Time, fn func(store.RunStat) error) error {
	const op = "read run statistics"
	if userID != "" && !s.validID(userID) {
		return nil
	}
	where, args := userClause(userID)
	rows, err := s.query(ctx, `SELECT id, config_id, COALESCE(CAST(agent_id AS TEXT), ''),
		COALESCE(destination_id, ''), status, start_time, end_time, duration,
		total_bytes, archive_size + manifest_size + catalog_size, files_processed, errors
		FROM backup_logs WHERE start_time >= ?`+where+` ORDER BY start_time, id`,
		append([]any{s.t(since)}, args...)...)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r store.RunStat
		if err := rows.Scan(&r.ID, &r.ConfigID, &r.AgentID, &r.DestinationID, &r.Status, timeCol{&r.StartTime},
			nullTimeCol{&r.EndTime}, &r.DurationMS, &r.TotalBytes, &r.Stored, &r.Files, jsonCol{&r.Errors}); err != nil {
			return mapErr(op, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return mapErr(op, rows.Err())
}

// StorageUsage reads the running totals of the completed runs' archives and
// manifests per destination, configuration and agent (storage_totals, kept by
// the triggers of migration 00015).
func (s *Store) StorageUsage(ctx context.Context, userID string) ([]store.StorageUse, error) {
	const op = "sum storage usage"
	if userID != "" && !s.validID(userID) {
		return nil, nil
	}
	where, args := userClause(userID)
	return queryAll(ctx, s, op, `SELECT destination_id, config_id, agent_id, CAST(SUM(bytes) AS bigint),
		CAST(SUM(objects) AS bigint), CAST(SUM(runs) AS bigint)
		FROM storage_totals WHERE runs > 0`+where+`
		GROUP BY destination_id, config_id, agent_id ORDER BY 1, 2, 3`,
		func(row scanner, u *store.StorageUse) error {
			return row.Scan(&u.DestinationID, &u.ConfigID, &u.AgentID, &u.Bytes, &u.Objects, &u.Runs)
		}, args...)
}

// ConfigStates reads each config with its newest run's status and newest
// success as config_run_state holds them (kept by the triggers of migration
// 00015): no query per configuration.
func (s *Store) ConfigStates(ctx context.Context, userID string) ([]store.ConfigState, error) {
	const op = "read configuration states"
	if userID != "" && !s.validID(userID) {
		return nil, nil
	}
	where, args := "", []any{}
	if userID != "" {
		where, args = " WHERE c.user_id = ?", []any{userID}
	}
	return queryAll(ctx, s, op, `SELECT CAST(c.id AS TEXT), c.name, c.enabled, c.schedule, r.last_success,
		COALESCE(r.latest_status, '') FROM backup_configs c LEFT JOIN config_run_state r ON r.config_id = c.id`+where+`
		ORDER BY c.created_at, c.id`,
		func(row scanner, c *store.ConfigState) error {
			return row.Scan(&c.ID, &c.Name, &c.Enabled, jsonCol{&c.Schedule}, nullTimeCol{&c.LastSuccess}, &c.LatestStatus)
		}, args...)
}

// RecordStorageDay replaces day's rows with the current sums, in one transaction.
func (s *Store) RecordStorageDay(ctx context.Context, day time.Time) error {
	const op = "record storage usage of the day"
	d := day.UTC().Format(time.DateOnly)
	tx, err := s.begin(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.exec(ctx, `DELETE FROM storage_usage_daily WHERE day = ?`, d); err != nil {
		return mapErr(op, err)
	}
	if _, err := tx.exec(ctx, `INSERT INTO storage_usage_daily (day, user_id, destination_id, config_id, agent_id, bytes, objects)
		SELECT ?, user_id, destination_id, config_id, agent_id, bytes, objects FROM storage_totals WHERE runs > 0`, d); err != nil {
		return mapErr(op, err)
	}
	return mapErr(op, tx.Commit())
}

// StorageHistory sums the recorded days from since on.
func (s *Store) StorageHistory(ctx context.Context, userID string, since time.Time) ([]store.StorageDay, error) {
	const op = "read storage history"
	if userID != "" && !s.validID(userID) {
		return nil, nil
	}
	where, args := userClause(userID)
	return queryAll(ctx, s, op, `SELECT day, SUM(bytes), SUM(objects) FROM storage_usage_daily
		WHERE day >= ?`+where+` GROUP BY day ORDER BY day`,
		func(row scanner, d *store.StorageDay) error { return row.Scan(&d.Day, &d.Bytes, &d.Objects) },
		append([]any{since.UTC().Format(time.DateOnly)}, args...)...)
}

// RunDays reads the running totals by UTC day and status (run_days, kept by the
// triggers of migration 00015) for the whole days after since's, and aggregates
// the runs of since's own day from since on: one row per day and status however
// many runs there are.
func (s *Store) RunDays(ctx context.Context, userID string, since, recent time.Time) ([]store.RunDay, int, error) {
	const op = "aggregate runs by day"
	if userID != "" && !s.validID(userID) {
		return nil, 0, nil
	}
	where, args := userClause(userID)
	day := `substr(start_time, 1, 10)` // fixed-width UTC text
	if s.d.name == "postgres" {
		day = `to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
	}
	first := since.UTC().Truncate(24 * time.Hour)
	qargs := append([]any{first.Format(time.DateOnly)}, args...)
	qargs = append(append(qargs, s.t(since), s.t(first.Add(24*time.Hour))), args...)
	days, err := queryAll(ctx, s, op, `SELECT day, status, CAST(SUM(runs) AS bigint), CAST(SUM(stored) AS bigint),
			CAST(SUM(duration_ms) AS bigint), CAST(SUM(timed) AS bigint)
		FROM run_days WHERE day > ?`+where+` GROUP BY day, status HAVING SUM(runs) > 0
		UNION ALL
		SELECT `+day+`, status, COUNT(*), COALESCE(SUM(archive_size + manifest_size + catalog_size), 0), COALESCE(SUM(duration), 0), COUNT(duration)
		FROM backup_logs WHERE start_time >= ? AND start_time < ?`+where+` GROUP BY 1, 2
		ORDER BY 1, 2`,
		func(row scanner, d *store.RunDay) error {
			return row.Scan(&d.Day, &d.Status, &d.Runs, &d.Stored, &d.DurationMS, &d.Timed)
		}, qargs...)
	if err != nil {
		return nil, 0, err
	}
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM backup_logs WHERE start_time >= ?`+where,
		append([]any{s.t(recent)}, args...)...).Scan(&n); err != nil {
		return nil, 0, mapErr(op, err)
	}
	return days, n, nil
}
