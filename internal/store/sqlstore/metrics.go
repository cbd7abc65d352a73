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

// StorageUsage sums the completed runs' archives and manifests per destination,
// configuration and agent.
func (s *Store) StorageUsage(ctx context.Context, userID string) ([]store.StorageUse, error) {
	const op = "sum storage usage"
	if userID != "" && !s.validID(userID) {
		return nil, nil
	}
	where, args := userClause(userID)
	return queryAll(ctx, s, op, `SELECT COALESCE(destination_id, ''), CAST(config_id AS TEXT),
		COALESCE(CAST(agent_id AS TEXT), ''), COALESCE(SUM(archive_size + manifest_size + catalog_size), 0),
		SUM(CASE WHEN archive_size > 0 THEN 1 ELSE 0 END + CASE WHEN manifest_size > 0 THEN 1 ELSE 0 END + CASE WHEN catalog_size > 0 THEN 1 ELSE 0 END), COUNT(*)
		FROM backup_logs WHERE status = 'completed'`+where+`
		GROUP BY destination_id, config_id, agent_id ORDER BY 1, 2, 3`,
		func(row scanner, u *store.StorageUse) error {
			return row.Scan(&u.DestinationID, &u.ConfigID, &u.AgentID, &u.Bytes, &u.Objects, &u.Runs)
		}, args...)
}

// LastSuccesses returns the newest completed (or since expired) run's end per config.
func (s *Store) LastSuccesses(ctx context.Context, userID string) (map[string]time.Time, error) {
	const op = "read last successes"
	if userID != "" && !s.validID(userID) {
		return map[string]time.Time{}, nil
	}
	where, args := userClause(userID)
	type last struct {
		id string
		at time.Time
	}
	rows, err := queryAll(ctx, s, op, `SELECT CAST(config_id AS TEXT), MAX(COALESCE(end_time, start_time)) FROM backup_logs
		WHERE status IN ('completed', 'expired')`+where+` GROUP BY config_id`,
		func(row scanner, l *last) error { return row.Scan(&l.id, timeCol{&l.at}) }, args...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(rows))
	for _, l := range rows {
		out[l.id] = l.at
	}
	return out, nil
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
		SELECT ?, user_id, COALESCE(destination_id, ''), CAST(config_id AS TEXT), COALESCE(CAST(agent_id AS TEXT), ''),
			SUM(archive_size + manifest_size + catalog_size),
			SUM(CASE WHEN archive_size > 0 THEN 1 ELSE 0 END + CASE WHEN manifest_size > 0 THEN 1 ELSE 0 END + CASE WHEN catalog_size > 0 THEN 1 ELSE 0 END)
		FROM backup_logs WHERE status = 'completed'
		GROUP BY user_id, destination_id, config_id, agent_id`, d); err != nil {
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

// RunDays aggregates by UTC day and status in the database: one row per day and
// status however many runs there are.
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
	days, err := queryAll(ctx, s, op, `SELECT `+day+`, status, COUNT(*), COALESCE(SUM(archive_size + manifest_size + catalog_size), 0),
		COALESCE(SUM(duration), 0), COUNT(duration)
		FROM backup_logs WHERE start_time >= ?`+where+` GROUP BY 1, 2 ORDER BY 1, 2`,
		func(row scanner, d *store.RunDay) error {
			return row.Scan(&d.Day, &d.Status, &d.Runs, &d.Stored, &d.DurationMS, &d.Timed)
		}, append([]any{s.t(since)}, args...)...)
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
