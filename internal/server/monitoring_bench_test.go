package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/store/pgtest"
)

// BenchmarkMonitoring measures, on SQLite and PostgreSQL with BENCH_RUNS (100,000)
// completed runs a minute apart ending now (so all fall in the 90-day period) of
// BENCH_CONFIGS (1,000) configurations on BENCH_AGENTS (500) agents, the server time
// of the dashboard and GET /api/metrics?period=90d (BENCH_REQUESTS, 50, each: median
// and p95), and one CSV, JSON and PDF report of all of them (time and heap growth).
// Use -benchtime 1x.
func BenchmarkMonitoring(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchMonitoring(b, "") })
	b.Run("postgres", func(b *testing.B) { benchMonitoring(b, pgtest.New(b)) })
}

func benchMonitoring(b *testing.B, databaseURL string) {
	nRuns, rounds := envInt("BENCH_RUNS", 100_000), envInt("BENCH_REQUESTS", 50)
	nConfigs, nAgents := envInt("BENCH_CONFIGS", 1000), envInt("BENCH_AGENTS", 500)
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	cfg := config.Register(fs)
	cfg.DataDir = b.TempDir()
	cfg.DatabaseURL = databaseURL
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	m := seedManyRuns(b, cfg, nRuns, time.Now().UTC().Add(-time.Minute), 30*time.Second, nConfigs, nAgents)
	h, cookie := m.app.Handler(), m.cookie

	get := func(path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d", path, rec.Code)
		}
		return rec
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for b.Loop() {
		for _, path := range []string{"/dashboard", "/api/metrics?period=90d"} {
			// Wall time, and the process's CPU time over the request (with SQLite
			// that is all of the server's work; PostgreSQL's own is not in it): on
			// a machine others load, the CPU time says what the request costs.
			var times, cpu []time.Duration
			for range rounds {
				t, c := time.Now(), cpuTime()
				get(path)
				times = append(times, time.Since(t))
				cpu = append(cpu, cpuTime()-c)
			}
			slices.Sort(times)
			slices.Sort(cpu)
			fmt.Printf("%s %-26s median %7.2f ms  p95 %7.2f ms  (CPU median %6.2f ms, p95 %6.2f ms)\n", b.Name(), path,
				ms(times[len(times)/2]), ms(times[len(times)*95/100]), ms(cpu[len(cpu)/2]), ms(cpu[len(cpu)*95/100]))
		}
		// Each report once more in a child process, for its peak resident memory.
		for _, f := range []string{"csv", "json", "pdf"} {
			fmt.Printf("%s %s\n", b.Name(), reportRSS(b, cfg, "admin@example.com", f))
		}
		for _, f := range []string{"csv", "json", "pdf"} {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			t := time.Now()
			rec := get("/api/reports?period=90d&format=" + f)
			took := time.Since(t)
			runtime.ReadMemStats(&after)
			fmt.Printf("%s report %-4s %d runs: %7.0f ms, %6.1f MB out, heap allocated %6.1f MB, heap in use %+6.1f MB\n", b.Name(), f, nRuns, ms(took),
				float64(rec.Body.Len())/1e6, float64(after.TotalAlloc-before.TotalAlloc)/1e6, (float64(after.HeapInuse)-float64(before.HeapInuse))/1e6)
		}
	}
}
