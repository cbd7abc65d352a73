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
	m := seedManyRuns(b, cfg, nRuns, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Minute)
	h, cookie, configID, agentID := m.app.Handler(), m.cookie, m.configID, m.agentID

	pages := []struct{ name, path string }{
		{"/dashboard", "/dashboard"},
		{"/backups", "/backups"},
		{"/backups?config=", "/backups?config=" + configID},
		{"/backups?agent=", "/backups?agent=" + agentID},
		{"/backups?status=failed", "/backups?status=failed"},
		// Sorted by a column without an index: the database sorts every run the user
		// sees for each page (docs/benchmarks.md).
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
// the others a minute apart before it.
func seedManyRuns(b *testing.B, cfg *config.Config, n int, newest time.Time, took time.Duration) *manyRuns {
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
	copyRuns(b, cfg, seed.ID, n-1)
	b.Logf("%d runs stored in %s", n, time.Since(t0).Round(time.Millisecond))
	return m
}

// copyRuns stores n copies of run id, a minute apart going back in time, in one
// statement: a hundred thousand runs through the store would take minutes.
func copyRuns(b *testing.B, cfg *config.Config, id string, n int) {
	ctx := context.Background()
	const cols = `config_id, user_id, agent_id, end_time, status, s3_path, files_processed, total_bytes, bytes_transferred, full_backup`
	if cfg.DatabaseURL == "" {
		db, err := sql.Open("sqlite", cfg.SQLitePath())
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO backup_logs (id, start_time, `+cols+`)
SELECT printf('%s-%08d', r.id, n.i), strftime('%Y-%m-%dT%H:%M:%f000Z', r.start_time, '-' || n.i || ' minutes'), `+cols+`
FROM n, backup_logs r WHERE r.id = ?`, n, id)
		if err != nil {
			b.Fatal(err)
		}
		return
	}
	conn, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `INSERT INTO backup_logs (id, start_time, `+cols+`)
SELECT gen_random_uuid(), r.start_time - n.i * interval '1 minute', `+cols+`
FROM generate_series(1, $1::int) n(i), backup_logs r WHERE r.id = $2`, n, id)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE backup_logs`); err != nil {
		b.Fatal(err)
	}
}
