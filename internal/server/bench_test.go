package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/server"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
)

// BenchmarkAuthLatency measures sign-in and signed-in page latency with 100
// concurrent clients against PostgreSQL, with production password hashing (bcrypt
// cost 10). Run it with `make bench`; it does a fixed amount of work per iteration, so
// use -benchtime 1x. It prints p50/p95/p99 and throughput.
func BenchmarkAuthLatency(b *testing.B) {
	const clients = 100
	logins, pages := envInt("BENCH_LOGINS", 1000), envInt("BENCH_PAGES", 20000)
	db := pgtest.New(b)
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	cfg := config.Register(fs)
	cfg.DataDir = b.TempDir()
	cfg.DatabaseURL = db
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	app, err := server.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close()
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: clients, DialContext: (&net.Dialer{}).DialContext}
	hc := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	post := func(path, body string) (*http.Response, error) {
		return hc.Post(srv.URL+path, "application/json", strings.NewReader(body))
	}
	// One account per client, created directly: registration from one address is
	// rate limited, and the benchmark measures sign-in, not sign-up.
	for i := range clients {
		in := auth.RegisterInput{Email: fmt.Sprintf("u%d@example.com", i), Password: "correct horse battery", Name: fmt.Sprintf("U%d", i)}
		if _, err := app.Auth.CreateUser(context.Background(), in, store.RoleUser, "", auth.Meta{IP: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	cookies := make([]string, clients)

	for b.Loop() {
		loginLat := run(b, clients, logins, func(c int) error {
			resp, err := post("/api/auth/login", fmt.Sprintf(`{"email":"u%d@example.com","password":"correct horse battery"}`, c))
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("login: %s", resp.Status)
			}
			cookies[c] = resp.Cookies()[0].String()
			return nil
		})
		pageLat := run(b, clients, pages, func(c int) error {
			req, _ := http.NewRequest("GET", srv.URL+"/dashboard", nil)
			req.Header.Set("Cookie", cookies[c])
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("dashboard: %s", resp.Status)
			}
			return nil
		})
		report(b, "login", loginLat)
		report(b, "page", pageLat)
	}
}

func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err == nil && n > 0 {
		return n
	}
	return def
}

type latencies struct {
	d     []time.Duration
	total time.Duration
}

// run performs n calls of fn spread over clients goroutines (goroutine c calls fn(c)).
func run(b *testing.B, clients, n int, fn func(c int) error) latencies {
	b.Helper()
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := c; i < n; i += clients {
				t0 := time.Now()
				if err := fn(c); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	slices.Sort(all)
	return latencies{d: all, total: time.Since(start)}
}

func (l latencies) pct(p float64) time.Duration { return l.d[int(float64(len(l.d)-1)*p)] }

func report(b *testing.B, name string, l latencies) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(l.pct(0.50)), name+"-p50-ms")
	b.ReportMetric(ms(l.pct(0.95)), name+"-p95-ms")
	b.ReportMetric(ms(l.pct(0.99)), name+"-p99-ms")
	b.ReportMetric(float64(len(l.d))/l.total.Seconds(), name+"-req/s")
	fmt.Printf("%-6s %6d requests, 100 clients: p50 %7.1f ms  p95 %7.1f ms  p99 %7.1f ms  %7.0f req/s\n",
		name, len(l.d), ms(l.pct(0.50)), ms(l.pct(0.95)), ms(l.pct(0.99)), float64(len(l.d))/l.total.Seconds())
}
