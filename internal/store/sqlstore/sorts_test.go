package sqlstore

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
)

// TestHistorySortIndexes: the history sorted by size or duration, either way, is
// read from migration 00018's indexes (EXPLAIN of ListRunRecords' own query), not
// by sorting every run. PostgreSQL is told that sorting and scanning the table are
// dear, so that on a near-empty table it still takes an index when one serves.
func TestHistorySortIndexes(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		checkSortIndexes(t, openSQLite(t, filepath.Join(t.TempDir(), "sorts.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		checkSortIndexes(t, openPostgres(t, pgtest.New(t)))
	})
}

func checkSortIndexes(t *testing.T, s *Store) {
	ctx := context.Background()
	for _, tc := range []struct {
		sort  string
		asc   bool
		index string
	}{
		{store.RunsBySize, false, "idx_backup_logs_size"},
		{store.RunsBySize, true, "idx_backup_logs_size"},
		{store.RunsByDuration, false, "idx_backup_logs_duration_desc"},
		{store.RunsByDuration, true, "idx_backup_logs_duration"},
	} {
		query, w, _ := s.runRecordsQuery(store.RunFilter{Sort: tc.sort, Asc: tc.asc})
		plan := explain(ctx, t, s, query, append(slices.Clip(w.args), 50, 100)...)
		if !regexp.MustCompile(`\b` + tc.index + `\b`).MatchString(plan) {
			t.Errorf("sort %s asc %v: the plan does not read %s:\n%s", tc.sort, tc.asc, tc.index, plan)
		}
		t.Logf("sort %s asc %v:\n%s", tc.sort, tc.asc, plan)
	}
}

// explain is the database's plan of query, one line per step.
func explain(ctx context.Context, t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	tx, err := s.begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	prefix := "EXPLAIN QUERY PLAN "
	if s.d.name == "postgres" {
		prefix = "EXPLAIN "
		for _, set := range []string{"SET LOCAL enable_seqscan = off", "SET LOCAL enable_sort = off"} {
			if _, err := tx.exec(ctx, set); err != nil {
				t.Fatal(err)
			}
		}
	}
	rows, err := tx.query(ctx, prefix+query, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		var err error
		if s.d.name == "postgres" {
			err = rows.Scan(&line)
		} else {
			var id, parent, unused int
			err = rows.Scan(&id, &parent, &unused, &line)
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
