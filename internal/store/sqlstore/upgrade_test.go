package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
)

// todaysVersion is the newest migration of the two implementations that sqlstore
// replaced; databases they created stand at it.
const todaysVersion = 7

// appliedMigrations are the SHA-256 sums of migrations that existing databases have
// applied. goose records only version numbers, so an edited applied migration would
// leave those databases with another schema than new ones: add a migration instead.
var appliedMigrations = map[string]string{
	"postgres/00001_initial.sql":        "896388855af7c5f7205053b6963f7a5cb36acdfc1dad9751a1a556ecafea8cae",
	"postgres/00002_destinations.sql":   "99ea7b343c4ac61a40e0c60dba8c7c201fc106e9888cf556266f782696278f8e",
	"postgres/00003_agents.sql":         "b01755bc54971045f8840746c892a7852ba7357cc907008a70a5e7e1bc6b0d67",
	"postgres/00004_runs.sql":           "b654c7ec71a0fd1013042c4106748073ff534308ea48d35391ced7c459f1718b",
	"postgres/00005_restores.sql":       "7a9b8af1adb27136a68d063624dc71c88b320adb2dc1a0e06a14158b8ef0c6ba",
	"postgres/00006_builtin_agents.sql": "25c9f4d6f2dc215e3fd810b4dc755370ed82894b3eb399c95987483a5fb4818e",
	"postgres/00007_estimates.sql":      "67451ded07f943b27df804c0d096bb8fc1d08902c7173da4b41c5d9de31f7c73",
	"sqlite/00001_initial.sql":          "5c70890ec20c80be994fff6176b0b5a2aeefc8df2b405e36610af900ee0a2ff0",
	"sqlite/00002_destinations.sql":     "2e4d0948d5f4c624d68bc9ec56bccec1db4922261f0b3277970e66245cb2eeed",
	"sqlite/00003_agents.sql":           "e481612dd67a6340bcc4c47ba43736beb285477670bde1c52f19ef23cd917b23",
	"sqlite/00004_runs.sql":             "2180ff034e01a6b51723bc585adfcadcb3400b4cce4c5c498327ab5dd6398bc3",
	"sqlite/00005_restores.sql":         "c9caca4456b95f50211d24758e8b74f9245fb6e7a4ea53d4123ff3df6e5d17f8",
	"sqlite/00006_builtin_agents.sql":   "8daea34a83f306e3b096da3ac72932f228c47f134243076d82e957846ad71b88",
	"sqlite/00007_estimates.sql":        "b3394432d8f307b472bc337fbeafe35f434d56cc9c66d4547de50a6b259b1aca",
}

func TestAppliedMigrationsUnchanged(t *testing.T) {
	for name, want := range appliedMigrations {
		b, err := fs.ReadFile(migrationFiles, "migrations/"+name)
		if err != nil {
			t.Errorf("applied migration %s: %v", name, err)
			continue
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("migration %s changed (sha256 %s, want %s): databases that applied it keep the old version; add a new migration instead", name, got, want)
		}
	}
}

// TestUpgradeInPlace builds a database as the sqlite and postgres implementations
// before sqlstore left it (today's migrations, rows written in their encodings: text
// times and 0/1 on SQLite, timestamptz and booleans on PostgreSQL), then opens it
// with the store and reads every row back.
func TestUpgradeInPlace(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "old.db")
		db, err := sql.Open("sqlite", dsn(path, false))
		if err != nil {
			t.Fatal(err)
		}
		old := oldEncoding{
			time: func(t time.Time) any { return t.UTC().Format("2006-01-02T15:04:05.000000Z") },
			bool: func(b bool) any {
				if b {
					return 1
				}
				return 0
			},
		}
		writeOldDatabase(t, sqliteDialect(), db, old)
		s := openSQLite(t, path)
		checkUpgraded(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := pgtest.New(t)
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		old := oldEncoding{
			time: func(t time.Time) any { return t },
			bool: func(b bool) any { return b },
		}
		writeOldDatabase(t, postgresDialect(), db, old)
		s := openPostgres(t, url)
		checkUpgraded(t, s)
	})
}

var _ = stdlib.GetDefaultDriver // registers "pgx" with database/sql

type oldEncoding struct {
	time func(time.Time) any
	bool func(bool) any
}

var (
	upUser    = "0193a000-0000-7000-8000-000000000001"
	upAgent   = "0193a000-0000-7000-8000-000000000002"
	upConfig  = "0193a000-0000-7000-8000-000000000003"
	upRun     = "0193a000-0000-7000-8000-000000000004"
	upRestore = "0193a000-0000-7000-8000-000000000005"
	upT0      = time.Date(2026, 11, 30, 22, 1, 2, 123456000, time.UTC)
)

// writeOldDatabase migrates db to todaysVersion and writes one row of each kind the
// way the old implementations did. It closes db.
func writeOldDatabase(t *testing.T, d *dialect, db *sql.DB, old oldEncoding) {
	t.Helper()
	ctx := context.Background()
	defer db.Close()
	migrations, err := d.migrations()
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(d.goose, db, migrations)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, todaysVersion); err != nil {
		t.Fatalf("migrate to version %d: %v", todaysVersion, err)
	}
	t1 := upT0.Add(time.Hour)
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO users (id, email, name, password_hash, role, disabled, created_at, updated_at)
			VALUES (?, 'old@example.com', 'Old', 'hash', 'admin', ?, ?, ?)`,
			[]any{upUser, old.bool(false), old.time(upT0), old.time(t1)}},
		{`INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, ip, user_agent)
			VALUES ('tok', ?, 'csrf', ?, ?, ?, '10.0.0.1', 'ua')`,
			[]any{upUser, old.time(upT0), old.time(t1), old.time(upT0.Add(24 * time.Hour))}},
		{`INSERT INTO agents (id, user_id, name, api_key_hash, key_prefix, revoked, last_seen, status,
			platform, arch, version, hostname, enrolled_at, created_at, updated_at, builtin)
			VALUES (?, ?, 'box', 'keyhash', 'bk_1', ?, ?, 'online', 'linux', 'amd64', '1.0', 'box.lan', ?, ?, ?, ?)`,
			[]any{upAgent, upUser, old.bool(false), old.time(t1), old.time(upT0), old.time(upT0), old.time(upT0), old.bool(false)}},
		{`INSERT INTO backup_configs (id, user_id, name, enabled, execution_mode, agent_id, sources, destination,
			schedule, options, created_at, updated_at)
			VALUES (?, ?, 'home', ?, 'agent', ?, '["/home"]', '{"kind":"local"}', '{"cronExpression":"0 3 * * *"}', '{}', ?, ?)`,
			[]any{upConfig, upUser, old.bool(true), upAgent, old.time(upT0), old.time(upT0)}},
		{`INSERT INTO backup_logs (id, config_id, user_id, agent_id, start_time, end_time, status, full_backup,
			s3_path, archive_sha256, archive_size, encrypted, files_processed, total_bytes, errors, duration,
			created_at, late, due_at)
			VALUES (?, ?, ?, ?, ?, ?, 'completed', ?, 'users/x/backup.tar.gz', 'abc', 42, ?, 7, 4096,
			'[{"path":"/x","message":"denied"}]', 3600000, ?, ?, ?)`,
			[]any{upRun, upConfig, upUser, upAgent, old.time(upT0), old.time(t1), old.bool(true), old.bool(true),
				old.time(upT0), old.bool(true), old.time(upT0)}},
		{`INSERT INTO restores (id, user_id, run_id, agent_id, target_dir, paths, overwrite, status, created_at)
			VALUES (?, ?, ?, ?, '/srv/restore', '[]', ?, 'queued', ?)`,
			[]any{upRestore, upUser, upRun, upAgent, old.bool(false), old.time(t1)}},
		{`INSERT INTO settings (key, value, updated_at) VALUES ('k', 'kept', ?)`, []any{old.time(upT0)}},
		// Late alerts as the scheduler wrote them before alert rules: one row each time.
		{`INSERT INTO alerts (id, user_id, config_id, type, message, acknowledged, timestamp) VALUES (?, ?, ?, 'late', 'older', ?, ?)`,
			[]any{"0193a000-0000-7000-8000-0000000000a1", upUser, upConfig, old.bool(false), old.time(upT0)}},
		{`INSERT INTO alerts (id, user_id, config_id, type, message, acknowledged, timestamp) VALUES (?, ?, ?, 'late', 'newer', ?, ?)`,
			[]any{"0193a000-0000-7000-8000-0000000000a2", upUser, upConfig, old.bool(false), old.time(t1)}},
	} {
		if _, err := db.ExecContext(ctx, d.rebind(st.q), st.args...); err != nil {
			t.Fatalf("%s: %v", st.q, err)
		}
	}
}

func checkUpgraded(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	// Migration 00011: the newest late alert of the config stays open, as the rule's,
	// the older one is resolved; both are warnings about the config.
	als, _, err := s.ListAlerts(ctx, store.AlertFilter{UserID: upUser})
	if err != nil || len(als) != 2 {
		t.Fatalf("alerts after the upgrade = %+v, %v; want the two late ones", als, err)
	}
	for _, a := range als {
		if a.Rule != "late" || a.Type != "warning" || a.Subject != upConfig {
			t.Errorf("upgraded alert %+v, want rule late, type warning, subject the config", a)
		}
		if open := a.ResolvedAt == nil; open != (a.Message == "newer") {
			t.Errorf("alert %q open %v; want only the newer one open", a.Message, open)
		}
	}
	cur, latest, err := s.Version(ctx)
	if err != nil || cur != latest || cur < todaysVersion {
		t.Errorf("Version() = %d, %d, %v; want the latest, at least %d", cur, latest, err, todaysVersion)
	}
	t1 := upT0.Add(time.Hour)

	u, err := s.GetUserByEmail(ctx, "old@example.com")
	if err != nil {
		t.Fatalf("GetUserByEmail: %v", err)
	}
	if u.ID != upUser || u.Role != store.RoleAdmin || u.Disabled || !u.CreatedAt.Equal(upT0) || !u.UpdatedAt.Equal(t1) {
		t.Errorf("user = %+v", u)
	}
	sess, su, err := s.GetSession(ctx, "tok")
	if err != nil || su.ID != upUser || sess.CSRFToken != "csrf" || !sess.LastSeenAt.Equal(t1) || sess.IP != "10.0.0.1" {
		t.Errorf("GetSession = %+v, %+v, %v", sess, su, err)
	}
	a, err := s.GetAgentByKeyHash(ctx, "keyhash")
	if err != nil {
		t.Fatalf("GetAgentByKeyHash: %v", err)
	}
	if a.ID != upAgent || a.Name != "box" || a.Revoked || a.Builtin || a.Hostname != "box.lan" ||
		a.LastSeen == nil || !a.LastSeen.Equal(t1) || a.EnrolledAt == nil || !a.EnrolledAt.Equal(upT0) {
		t.Errorf("agent = %+v", a)
	}
	c, err := s.GetConfig(ctx, upConfig)
	if err != nil {
		t.Fatalf("GetConfig: %v", err)
	}
	if c.AgentID != upAgent || !c.Enabled || c.ExecutionMode != "agent" || !jsonEqual(c.Sources, `["/home"]`) ||
		!jsonEqual(c.Schedule, `{"cronExpression":"0 3 * * *"}`) || !c.CreatedAt.Equal(upT0) {
		t.Errorf("config = %+v", c)
	}
	r, err := s.GetRunRecord(ctx, upRun)
	if err != nil {
		t.Fatalf("GetRunRecord: %v", err)
	}
	if r.Status != "completed" || !r.Full || !r.Encrypted || !r.Late || r.ArchiveSize != 42 || r.FilesProcessed != 7 ||
		r.EndTime == nil || !r.EndTime.Equal(t1) || r.DurationMS == nil || *r.DurationMS != 3600000 ||
		!jsonEqual(r.Errors, `[{"path":"/x","message":"denied"}]`) || r.ConfigName != "home" || r.AgentName != "box" ||
		r.DueAt == nil || !r.DueAt.Equal(upT0) {
		t.Errorf("run = %+v", r)
	}
	if last, err := s.LastCompletedRun(ctx, upConfig); err != nil || last.ID != upRun {
		t.Errorf("LastCompletedRun = %s, %v; want %s", last.ID, err, upRun)
	}
	// Migration 00012: restores from before the choice rename what the target cannot hold.
	if rs, err := s.GetRestore(ctx, upRestore); err != nil || rs.UnportableNames != store.UnportableRename ||
		rs.TargetDir != "/srv/restore" || rs.Status != store.RestoreQueued {
		t.Errorf("GetRestore = %+v, %v; want the queued restore, unportable names renamed", rs, err)
	}
	// Migration 00017: a restore from before holds no identity; a new one keeps one.
	if _, err := s.RestoreIdentity(ctx, upRestore, t1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RestoreIdentity of the restore from before = %v; want ErrNotFound", err)
	}
	withID := store.Restore{UserID: upUser, RunID: upRun, AgentID: upAgent, TargetDir: "/new", CreatedAt: t1,
		Identity: &store.SealedIdentity{Sealed: []byte("sealed"), Until: t1.Add(time.Hour)}}
	if err := s.CreateRestore(ctx, &withID); err != nil {
		t.Errorf("CreateRestore with an identity: %v", err)
	} else if b, err := s.RestoreIdentity(ctx, withID.ID, t1); err != nil || string(b) != "sealed" {
		t.Errorf("RestoreIdentity of a new restore = %q, %v; want it", b, err)
	}
	if v, err := s.GetSetting(ctx, "k"); err != nil || v != "kept" {
		t.Errorf("GetSetting = %q, %v", v, err)
	}
	// Migration 00015: the running totals count the run written before them.
	days, _, err := s.RunDays(ctx, upUser, upT0.Add(-24*time.Hour), upT0)
	if want := []store.RunDay{{Day: "2026-11-30", Status: "completed", Runs: 1, Stored: 42, DurationMS: 3600000, Timed: 1}}; err != nil ||
		!reflect.DeepEqual(days, want) {
		t.Errorf("RunDays = %+v, %v; want %+v", days, err, want)
	}
	use, err := s.StorageUsage(ctx, upUser)
	if want := []store.StorageUse{{ConfigID: upConfig, AgentID: upAgent, Bytes: 42, Objects: 1, Runs: 1}}; err != nil ||
		!reflect.DeepEqual(use, want) {
		t.Errorf("StorageUsage = %+v, %v; want %+v", use, err, want)
	}
	if cs, err := s.ConfigStates(ctx, upUser); err != nil || len(cs) != 1 || cs[0].LastSuccess == nil || !cs[0].LastSuccess.Equal(t1) ||
		cs[0].LatestStatus != "completed" {
		t.Errorf("ConfigStates = %+v, %v; want the config's last success at %s", cs, err, t1)
	}
	// And the upgraded database takes new rows beside the old ones.
	if err := s.RecordHeartbeat(ctx, upAgent, store.AgentHeartbeat{Time: t1.Add(time.Minute), Version: "2.0"}); err != nil {
		t.Errorf("RecordHeartbeat: %v", err)
	}
	if runs, err := s.ListRuns(ctx, store.RunFilter{UserID: upUser}); err != nil || len(runs) != 1 {
		t.Errorf("ListRuns = %d runs, %v; want 1", len(runs), err)
	}
}

func jsonEqual(got json.RawMessage, want string) bool {
	var g, w any
	if json.Unmarshal(got, &g) != nil || json.Unmarshal([]byte(want), &w) != nil {
		return false
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	return string(gb) == string(wb)
}
