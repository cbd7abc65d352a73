package agentapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentkey"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/store"
)

func benchEnv(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkAgentHeartbeats simulates BENCH_AGENTS (5,000) agents against PostgreSQL:
// open loop at BENCH_RATE (2,500) requests/s for BENCH_SECONDS (10) s, agents taking
// turns; nine requests in ten are heartbeats (key check, last_seen update, work
// lookup), one in ten a config poll; one agent in ten has a queued run, so its
// heartbeats carry a command. Latency is measured from each request's scheduled time,
// so a server falling behind shows as latency, not as a lower offered rate. Run with
// -benchtime 1x (make bench).
func BenchmarkAgentHeartbeats(b *testing.B) {
	nAgents, rate, seconds := benchEnv("BENCH_AGENTS", 5000), benchEnv("BENCH_RATE", 2500), benchEnv("BENCH_SECONDS", 10)
	st := openPostgres(b)
	e := newEnv(b, st, false)
	ctx := context.Background()
	u := store.User{Email: "bench@example.com", Name: "bench", PasswordHash: "x", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.CreateUser(ctx, &u, false); err != nil {
		b.Fatal(err)
	}
	keys := make([]string, nAgents)
	for i := range nAgents {
		key, hash, prefix := agentkey.Generate()
		a := store.Agent{UserID: u.ID, Name: fmt.Sprintf("agent-%d", i), KeyHash: hash, KeyPrefix: prefix, CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := st.CreateAgent(ctx, &a); err != nil {
			b.Fatal(err)
		}
		keys[i] = key
		if i%10 == 0 {
			c := store.BackupConfig{UserID: u.ID, Name: "c", Enabled: true, ExecutionMode: "agent", AgentID: a.ID,
				Sources: []byte(`[{"path":"/home"}]`), Destination: []byte(`{"destinationId":""}`), Options: []byte(`{}`),
				CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := st.CreateConfig(ctx, &c); err != nil {
				b.Fatal(err)
			}
			r := store.Run{ConfigID: c.ID, UserID: u.ID, AgentID: a.ID, StartTime: time.Now(), Status: "queued"}
			if err := st.CreateRun(ctx, &r); err != nil {
				b.Fatal(err)
			}
		}
	}
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, DialContext: (&net.Dialer{}).DialContext}
	hc := &http.Client{Transport: tr}
	hbBody := []byte(`{"hostname":"h","platform":"linux","arch":"amd64","version":"1.0"}`)
	call := func(i int) error {
		var req *http.Request
		if i%10 == 9 {
			req, _ = http.NewRequest("GET", e.srv.URL+agentproto.PathConfigs, nil)
		} else {
			req, _ = http.NewRequest("POST", e.srv.URL+agentproto.PathHeartbeat, bytes.NewReader(hbBody))
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+keys[i%nAgents])
		req.Header.Set(agentproto.HeaderProtocol, "1")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
		}
		return nil
	}

	// Warm up as a fleet that has been running: every agent has heartbeated once (so
	// last_seen is fresh and, as in steady state, written at most every 30 s), and the
	// client's connections are open. Not measured.
	warm := make(chan int)
	var wwg sync.WaitGroup
	for range 64 {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			for i := range warm {
				if err := call(i); err != nil { // agent i, as in the measured loop
					b.Error(err)
				}
			}
		}()
	}
	for i := range nAgents {
		warm <- i
	}
	close(warm)
	wwg.Wait()

	for b.Loop() {
		total := rate * seconds
		interval := time.Second / time.Duration(rate)
		jobs := make(chan int, total)
		lat := make([]time.Duration, total)
		var errs atomic.Int64
		var firstErr atomic.Value
		start := time.Now()
		var wg sync.WaitGroup
		for range 512 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					due := start.Add(time.Duration(i) * interval)
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
					if err := call(i); err != nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
					lat[i] = time.Since(due)
				}
			}()
		}
		for i := range total {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		elapsed := time.Since(start)
		if n := errs.Load(); n > 0 {
			b.Fatalf("%d of %d requests failed; first: %v", n, total, firstErr.Load())
		}
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)].Round(10 * time.Microsecond) }
		rps := float64(total) / elapsed.Seconds()
		b.ReportMetric(rps, "req/s")
		b.ReportMetric(rps*0.9, "heartbeats/s")
		b.ReportMetric(float64(pct(0.95).Microseconds())/1000, "p95-ms")
		b.Logf("%d agents, offered %d req/s for %d s: %d requests in %s = %.0f req/s (%.0f heartbeats/s); latency p50 %s p95 %s p99 %s max %s",
			nAgents, rate, seconds, total, elapsed.Round(time.Millisecond), rps, rps*0.9, pct(0.50), pct(0.95), pct(0.99), lat[len(lat)-1].Round(time.Millisecond))
	}
}
