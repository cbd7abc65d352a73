package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/pflag"
	"golang.org/x/crypto/bcrypt"

	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/server"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
)

// BenchmarkPagesManyRuns measures the server time of every signed-in page with a long
// history: one administrator, one agent, one configuration and BENCH_RUNS (100,000)
// completed runs, on SQLite and on PostgreSQL. No page but the history itself should
// depend on the number of runs. Each page is served BENCH_REQUESTS (50) times, pages
// taking turns, straight through the server's handler (no network, one request at a
// time); it prints the median and the worst per page. Use -benchtime 1x.
// BENCH_DATA_DIR keeps the SQLite run's data directory (it must be empty).
func BenchmarkPagesManyRuns(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchPages(b, "") })
	b.Run("postgres", func(b *testing.B) { benchPages(b, pgtest.New(b)) })
}

func benchPages(b *testing.B, databaseURL string) {
	nRuns, rounds := envInt("BENCH_RUNS", 100_000), envInt("BENCH_REQUESTS", 50)
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	cfg := config.Register(fs)
	cfg.DataDir = b.TempDir()
	if dir := os.Getenv("BENCH_DATA_DIR"); dir != "" && databaseURL == "" {
		cfg.DataDir = dir // kept afterwards, to look at the SQLite database's query plans
	}
	cfg.DatabaseURL = databaseURL
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	m := seedManyRuns(b, cfg, nRuns, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Minute, 1, 1)
	h, cookie, configID, agentID := m.app.Handler(), m.cookie, m.configID, m.agentID

	pages := []struct{ name, path string }{
		{"/dashboard", "/dashboard"},
		{"/backups", "/backups"},
		{"/backups?config=", "/backups?config=" + configID},
		{"/backups?agent=", "/backups?agent=" + agentID},
		{"/backups?status=failed", "/backups?status=failed"},
		// Sorted by other keys than the start, each on its index (migration 00018 for
		// size and duration; docs/benchmarks.md).
		{"/backups?sort=size", "/backups?sort=size"},
		{"/backups?sort=duration", "/backups?sort=duration&dir=desc"},
		{"/backups?sort=status", "/backups?sort=status"},
		{"/backups?sort=started asc", "/backups?sort=started&dir=asc"},
		{"/backups/{id}", "/backups/" + m.seedID},
		{"/configs", "/configs"},
		{"/configs/new", "/configs/new"},
		{"/configs/{id}/edit", "/configs/" + configID + "/edit"},
		{"/agents", "/agents"},
		{"/agents/{id}", "/agents/" + agentID},
		{"/restores", "/restores"},
		{"/restores/new", "/restores/new"},
		{"/settings/storage", "/settings/storage"},
		{"/users", "/users"},
	}
	times := make([][]time.Duration, len(pages))
	for b.Loop() {
		for range rounds {
			for i, p := range pages {
				req := httptest.NewRequest("GET", p.path, nil)
				req.Header.Set("Cookie", cookie)
				rec := httptest.NewRecorder()
				t := time.Now()
				h.ServeHTTP(rec, req)
				times[i] = append(times[i], time.Since(t))
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d", p.path, rec.Code)
				}
			}
		}
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for i, p := range pages {
		slices.Sort(times[i])
		med, worst := times[i][len(times[i])/2], times[i][len(times[i])-1]
		fmt.Printf("%-8s %-24s median %6.2f ms  worst %7.2f ms\n", b.Name()[len("BenchmarkPagesManyRuns/"):], p.name, ms(med), ms(worst))
	}
}

// manyRuns is a server with one administrator, one agent, one configuration and a
// long history of completed runs, for the benchmarks of pages and reports.
type manyRuns struct {
	app               *server.App
	cookie            string // the administrator's session
	agentID, configID string
	seedID            string // the newest run; the others are its copies
}

// seedManyRuns opens the server of cfg (closed when the benchmark ends), makes the
// account, its agent and its configuration through the JSON API as a user would, and
// stores n completed runs of it, each taking took, the newest starting at newest and
// the others a minute apart before it, spread over configs configurations on agents
// agents (copies of the first; 1, 1 keeps them all on it).
func seedManyRuns(b *testing.B, cfg *config.Config, n int, newest time.Time, took time.Duration, configs, agents int) *manyRuns {
	b.Helper()
	ctx := context.Background()
	app, err := server.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{PasswordCost: bcrypt.MinCost})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { app.Close() })
	h := app.Handler()
	m := &manyRuns{app: app}
	var token string
	call := func(method, path string, body any) map[string]any {
		var rd io.Reader
		if body != nil {
			j, _ := json.Marshal(body)
			rd = bytes.NewReader(j)
		}
		req := httptest.NewRequest(method, path, rd)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", m.cookie)
		req.Header.Set("X-CSRF-Token", token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Value != "" {
				m.cookie = c.Name + "=" + c.Value
			}
		}
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		if t, ok := out["csrfToken"].(string); ok {
			token = t
		}
		return out
	}
	call("POST", "/api/auth/register", map[string]string{"email": "admin@example.com", "password": pw, "name": "Admin"})
	m.agentID, _ = call("POST", "/api/agents", map[string]string{"name": "laptop"})["id"].(string)
	m.configID, _ = call("POST", "/api/configs", goodConfig(m.agentID))["id"].(string)
	if m.agentID == "" || m.configID == "" {
		b.Fatalf("agent %q, config %q", m.agentID, m.configID)
	}
	a, err := app.Store.GetAgent(ctx, m.agentID)
	if err != nil {
		b.Fatal(err)
	}
	end := newest.Add(took)
	seed := store.Run{ID: "01900000-0000-7000-8000-000000000000", ConfigID: m.configID, UserID: a.UserID, AgentID: m.agentID,
		StartTime: newest, EndTime: &end, Status: "completed", Full: true, S3Path: "users/x/backup.tar.zst",
		FilesProcessed: 1000, TotalBytes: 1 << 30, BytesTransfer: 1 << 30}
	if err := app.Store.CreateRun(ctx, &seed); err != nil {
		b.Fatal(err)
	}
	m.seedID = seed.ID
	t0 := time.Now()
	copyRuns(b, cfg, seed.ID, n-1, configs, agents)
	b.Logf("%d runs stored in %s", n, time.Since(t0).Round(time.Millisecond))
	return m
}

// copyRuns stores n copies of run id, a minute apart going back in time, in one
// statement: a hundred thousand runs through the store would take minutes. With
// configs and agents above 1 it first copies the run's agent and configuration
// (agents-1 and configs-1 times; the configurations take the agents in turn) and
// spreads the copies over the configurations in turn.
func copyRuns(b *testing.B, cfg *config.Config, id string, n, configs, agents int) {
	ctx := context.Background()
	const cols = `user_id, end_time, status, s3_path, files_processed, total_bytes, bytes_transferred, full_backup`
	var stmts []string
	var args [][]any
	if cfg.DatabaseURL == "" {
		// SQLite: ids keep the UUID shape, the original's first 24 characters and a
		// counter.
		const seq = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) `
		stmts = []string{
			`CREATE TEMP TABLE seed_agents AS ` + seq + `SELECT a.* FROM n, agents a, backup_logs r WHERE r.id = ? AND a.id = r.agent_id`,
			`UPDATE seed_agents SET id = substr(id, 1, 24) || printf('%012x', rowid), name = name || ' ' || rowid,
				api_key_hash = api_key_hash || rowid, builtin = 0`,
			`INSERT INTO agents SELECT * FROM seed_agents`,
			`CREATE TEMP TABLE seed_configs AS ` + seq + `SELECT c.* FROM n, backup_configs c, backup_logs r WHERE r.id = ? AND c.id = r.config_id`,
			`UPDATE seed_configs SET id = substr(id, 1, 24) || printf('%012x', rowid), name = name || ' ' || rowid,
				agent_id = (SELECT a.id FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k, COUNT(*) OVER () AS n
					FROM agents WHERE user_id = seed_configs.user_id) a WHERE a.k = seed_configs.rowid % a.n)`,
			`INSERT INTO backup_configs SELECT * FROM seed_configs`,
			`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?),
				c AS (SELECT c.id, c.agent_id, row_number() OVER (ORDER BY c.id) - 1 AS k FROM backup_configs c, backup_logs r
					WHERE r.id = ? AND c.user_id = r.user_id)
			INSERT INTO backup_logs (id, start_time, config_id, agent_id, ` + cols + `)
			SELECT printf('%s-%08d', r.id, n.i), strftime('%Y-%m-%dT%H:%M:%f000Z', r.start_time, '-' || n.i || ' minutes'),
				c.id, c.agent_id, ` + cols + ` FROM n, backup_logs r, c WHERE r.id = ? AND c.k = n.i % ?`,
			`ANALYZE`,
		}
		args = [][]any{{agents - 1, id}, nil, nil, {configs - 1, id}, nil, nil, {n, id, id, configs}, nil}
		db, err := sql.Open("sqlite", cfg.SQLitePath())
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(1) // the temporary tables live in one connection
		for i, q := range stmts {
			if skipCopy(i, configs, agents) {
				continue
			}
			if _, err := db.ExecContext(ctx, q, args[i]...); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
		return
	}
	stmts = []string{
		`CREATE TEMP TABLE seed_agents AS SELECT a.* FROM generate_series(1, $1::int), agents a, backup_logs r WHERE r.id = $2 AND a.id = r.agent_id`,
		`UPDATE seed_agents SET id = gen_random_uuid(), name = name || ' ' || ctid, api_key_hash = md5(random()::text), builtin = false`,
		`INSERT INTO agents SELECT * FROM seed_agents`,
		`CREATE TEMP TABLE seed_configs AS SELECT c.* FROM generate_series(1, $1::int), backup_configs c, backup_logs r WHERE r.id = $2 AND c.id = r.config_id`,
		`WITH a AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k, COUNT(*) OVER () AS n FROM agents
				WHERE user_id = (SELECT user_id FROM seed_configs LIMIT 1)),
			c AS (SELECT ctid, row_number() OVER () AS k FROM seed_configs)
		UPDATE seed_configs s SET id = gen_random_uuid(), name = s.name || ' ' || c.k, agent_id = a.id
			FROM c, a WHERE c.ctid = s.ctid AND a.k = c.k % a.n`,
		`INSERT INTO backup_configs SELECT * FROM seed_configs`,
		`WITH c AS (SELECT c.id, c.agent_id, row_number() OVER (ORDER BY c.id) - 1 AS k FROM backup_configs c, backup_logs r
				WHERE r.id = $2 AND c.user_id = r.user_id)
		INSERT INTO backup_logs (id, start_time, config_id, agent_id, ` + cols + `)
		SELECT gen_random_uuid(), r.start_time - n.i * interval '1 minute', c.id, c.agent_id, ` + cols + `
		FROM generate_series(1, $1::int) n(i), backup_logs r, c WHERE r.id = $2 AND c.k = n.i % $3`,
		`ANALYZE`,
	}
	args = [][]any{{agents - 1, id}, nil, nil, {configs - 1, id}, nil, nil, {n, id, configs}, nil}
	conn, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for i, q := range stmts {
		if skipCopy(i, configs, agents) {
			continue
		}
		if _, err := conn.Exec(ctx, q, args[i]...); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
}

// skipCopy says whether copyRuns's statement i is left out: the first three copy
// the agent, the next three the configuration.
func skipCopy(i, configs, agents int) bool {
	return i < 3 && agents <= 1 || i >= 3 && i < 6 && configs <= 1
}
