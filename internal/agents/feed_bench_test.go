package agents

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/postgres"
	"github.com/backapp/backapp/internal/store/sqlite"
)

// BenchmarkFeed measures the backup logs page's query (Feed) with many lines: one user,
// BENCH_AGENTS agents (5) with BENCH_LINES log lines in all (200,000), on SQLite and on
// PostgreSQL. It reports the time of the newest page, of a page deep in the history
// (keyset: the same cost), and of a page filtered by one configuration whose lines are
// one in fifty (read in bounded chunks), each the median of 20.
func BenchmarkFeed(b *testing.B) {
	n := benchEnv("BENCH_LINES", 200_000)
	agentsN := benchEnv("BENCH_AGENTS", 5)
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			var st store.Store
			if dialect == "sqlite" {
				s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "feed.db"))
				if err != nil {
					b.Fatal(err)
				}
				st = s
			} else {
				s, err := postgres.Open(ctx, pgtest.New(b))
				if err != nil {
					b.Fatal(err)
				}
				st = s
			}
			b.Cleanup(func() { st.Close() })
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			u := store.User{Email: "bench@example.com", Name: "Bench", PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0}
			if err := st.CreateUser(ctx, &u, false); err != nil {
				b.Fatal(err)
			}
			var ids []string
			for i := range agentsN {
				a := store.Agent{UserID: u.ID, Name: fmt.Sprint("agent-", i), KeyHash: fmt.Sprint("hash-", i), KeyPrefix: "bak_", CreatedAt: t0, UpdatedAt: t0}
				if err := st.CreateAgent(ctx, &a); err != nil {
					b.Fatal(err)
				}
				ids = append(ids, a.ID)
			}
			start := time.Now()
			batch := make([]store.AgentLog, 0, 1000)
			for i := range n {
				l := store.AgentLog{AgentID: ids[i%agentsN], Level: "info", Message: fmt.Sprintf("line %d of the benchmark", i),
					Metadata: map[string]string{"run": "r" + strconv.Itoa(i/100), "config": "c" + strconv.Itoa(i%50)}, Timestamp: t0.Add(time.Duration(i) * time.Second)}
				batch = append(batch, l)
				if len(batch) == cap(batch) || i == n-1 {
					if err := st.AddAgentLogs(ctx, batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			b.Logf("%s: %d lines of %d agents inserted in %s", dialect, n, agentsN, time.Since(start).Round(time.Millisecond))
			svc, err := New(Config{Store: st})
			if err != nil {
				b.Fatal(err)
			}
			median := func(q FeedQuery) time.Duration {
				var ds []time.Duration
				for range 20 {
					s := time.Now()
					p, err := svc.Feed(ctx, u, q)
					if err != nil || len(p.Lines) == 0 {
						b.Fatalf("feed: %d lines, %v", len(p.Lines), err)
					}
					ds = append(ds, time.Since(s))
				}
				for i := range ds { // insertion sort: 20 values
					for j := i; j > 0 && ds[j] < ds[j-1]; j-- {
						ds[j], ds[j-1] = ds[j-1], ds[j]
					}
				}
				return ds[len(ds)/2]
			}
			b.ResetTimer()
			newest := median(FeedQuery{})
			deep := median(FeedQuery{Until: t0.Add(time.Duration(n/10) * time.Second)})
			config := median(FeedQuery{ConfigID: "c7", AgentID: ids[7%agentsN]})
			b.StopTimer()
			b.ReportMetric(float64(newest.Microseconds())/1000, "ms-newest")
			b.ReportMetric(float64(deep.Microseconds())/1000, "ms-deep")
			b.ReportMetric(float64(config.Microseconds())/1000, "ms-config")
		})
	}
}

func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
