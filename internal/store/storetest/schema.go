package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/backapp/backapp/internal/store"
)

// SQL runs raw statements on an implementation's database, for checking the seed's
// tables that the Store interface does not reach yet. Statements use literals only,
// in SQL both dialects accept.
type SQL struct {
	Exec  func(ctx context.Context, query string) error
	Count func(ctx context.Context, query string) (int, error)
}

// RunSchema checks the seed's tables: they exist, take the seed's columns, enforce
// their checks and cascade from users as the seed says. s must be empty.
func RunSchema(t *testing.T, s store.Store, db SQL) {
	ctx := context.Background()
	exec := func(q string) {
		t.Helper()
		if err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	count := func(q string) int {
		t.Helper()
		n, err := db.Count(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}

	owner := mkUser(t, s, "owner@example.com", t0, true)
	other := mkUser(t, s, "other@example.com", t0, true)
	ids := map[string]string{}
	for _, k := range []string{"agent", "agent2", "log", "config", "config2", "run", "alert", "alert2", "otheragent"} {
		ids[k] = newID(t)
	}
	ts := "'2025-03-14T15:09:26.535897Z'"
	exec(fmt.Sprintf(`INSERT INTO agents (id, user_id, name, api_key_hash, last_seen, status, platform, version)
		VALUES ('%s', '%s', 'laptop', 'keyhash-1', %s, 'online', 'linux', '1.0.0')`, ids["agent"], owner.ID, ts))
	exec(fmt.Sprintf(`INSERT INTO agents (id, user_id, name, api_key_hash) VALUES ('%s', '%s', 'desktop', 'keyhash-2')`, ids["agent2"], owner.ID))
	exec(fmt.Sprintf(`INSERT INTO agents (id, user_id, name, api_key_hash) VALUES ('%s', '%s', 'theirs', 'keyhash-3')`, ids["otheragent"], other.ID))
	exec(fmt.Sprintf(`INSERT INTO agent_logs (id, agent_id, level, message, metadata, timestamp)
		VALUES ('%s', '%s', 'info', 'hello', '{"k": "v"}', %s)`, ids["log"], ids["agent"], ts))
	exec(fmt.Sprintf(`INSERT INTO backup_configs (id, user_id, name, enabled, execution_mode, agent_id, sources, destination, schedule, options)
		VALUES ('%s', '%s', 'home', true, 'agent', '%s', '["/home"]', '{"bucket": "b"}', '{"cron": "0 2 * * *"}', '{}')`,
		ids["config"], owner.ID, ids["agent2"]))
	exec(fmt.Sprintf(`INSERT INTO backup_configs (id, user_id, name, sources, destination, options)
		VALUES ('%s', '%s', 'server-side', '[]', '{}', '{}')`, ids["config2"], owner.ID))
	exec(fmt.Sprintf(`INSERT INTO backup_logs (id, config_id, user_id, start_time, end_time, status, s3_path,
		files_processed, files_skipped, total_bytes, bytes_transferred, errors, duration)
		VALUES ('%s', '%s', '%s', %s, %s, 'completed', 'users/u/agents/a/configs/c/backup-2025-03-14-150926.tar.gz',
		3, 1, 6000000000, 5000000000, '[]', 1234)`, ids["run"], ids["config"], owner.ID, ts, ts))
	exec(fmt.Sprintf(`INSERT INTO alerts (id, user_id, config_id, type, message) VALUES ('%s', '%s', '%s', 'failure', 'it broke')`,
		ids["alert"], owner.ID, ids["config"]))
	exec(fmt.Sprintf(`INSERT INTO alerts (id, user_id, type, message, acknowledged) VALUES ('%s', '%s', 'agent_offline', 'gone', true)`,
		ids["alert2"], owner.ID))

	// Checks and unique indexes.
	rejected := []struct{ what, query string }{
		{"unknown execution_mode", fmt.Sprintf(`INSERT INTO backup_configs (id, user_id, name, execution_mode, sources, destination, options)
			VALUES ('%s', '%s', 'x', 'cloud', '[]', '{}', '{}')`, newID(t), owner.ID)},
		{"invalid JSON in sources", fmt.Sprintf(`INSERT INTO backup_configs (id, user_id, name, sources, destination, options)
			VALUES ('%s', '%s', 'x', 'not json', '{}', '{}')`, newID(t), owner.ID)},
		{"duplicate agent key hash", fmt.Sprintf(`INSERT INTO agents (id, user_id, name, api_key_hash) VALUES ('%s', '%s', 'dup', 'keyhash-1')`, newID(t), owner.ID)},
		{"agent of an unknown user", fmt.Sprintf(`INSERT INTO agents (id, user_id, name, api_key_hash) VALUES ('%s', '%s', 'orphan', 'keyhash-9')`, newID(t), newID(t))},
		{"unknown role", fmt.Sprintf(`UPDATE users SET role = 'root' WHERE id = '%s'`, owner.ID)},
	}
	for _, r := range rejected {
		if err := db.Exec(ctx, r.query); err == nil {
			t.Errorf("%s: accepted, want an error", r.what)
		}
	}

	// Deleting an agent keeps its configs, now without an agent (ON DELETE SET NULL).
	exec(fmt.Sprintf(`DELETE FROM agents WHERE id = '%s'`, ids["agent2"]))
	if n := count(fmt.Sprintf(`SELECT count(*) FROM backup_configs WHERE id = '%s' AND agent_id IS NULL`, ids["config"])); n != 1 {
		t.Errorf("config of a deleted agent: %d rows with agent_id NULL, want 1", n)
	}

	// Deleting the user removes everything that is theirs, and nothing else.
	if err := s.DeleteUser(ctx, owner.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	for _, table := range []string{"agents", "agent_logs", "backup_configs", "backup_logs", "alerts"} {
		want := 0
		if table == "agents" {
			want = 1 // the other user's
		}
		if n := count("SELECT count(*) FROM " + table); n != want {
			t.Errorf("rows in %s after deleting their owner = %d, want %d", table, n, want)
		}
	}
}
