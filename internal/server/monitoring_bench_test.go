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

// BenchmarkMonitoring measures, on PostgreSQL with BENCH_RUNS (100,000) completed
// runs a minute apart ending now (so all fall in the 90-day period), the server time
// of the dashboard and GET /api/metrics?period=90d (BENCH_REQUESTS, 50, each: median
// and p95), and one CSV, JSON and PDF report of all of them (time and heap growth).
// Use -benchtime 1x.
func BenchmarkMonitoring(b *testing.B) {
	nRuns, rounds := envInt("BENCH_RUNS", 100_000), envInt("BENCH_REQUESTS", 50)
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	cfg := config.Register(fs)
	cfg.DataDir = b.TempDir()
	cfg.DatabaseURL = pgtest.New(b)
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	m := seedManyRuns(b, cfg, nRuns, time.Now().UTC().Add(-time.Minute), 30*time.Second)
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
			var times []time.Duration
			for range rounds {
				t := time.Now()
				get(path)
				times = append(times, time.Since(t))
			}
			slices.Sort(times)
			fmt.Printf("monitoring %-26s median %7.2f ms  p95 %7.2f ms\n", path, ms(times[len(times)/2]), ms(times[len(times)*95/100]))
		}
		for _, f := range []string{"csv", "json", "pdf"} {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			t := time.Now()
			rec := get("/api/reports?period=90d&format=" + f)
			took := time.Since(t)
			runtime.ReadMemStats(&after)
			fmt.Printf("monitoring report %-4s %d runs: %7.0f ms, %6.1f MB out, heap allocated %6.1f MB, heap in use %+6.1f MB\n", f, nRuns, ms(took),
				float64(rec.Body.Len())/1e6, float64(after.TotalAlloc-before.TotalAlloc)/1e6, (float64(after.HeapInuse)-float64(before.HeapInuse))/1e6)
		}
	}
}
