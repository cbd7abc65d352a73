package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/pflag"

	"github.com/backapp/backapp/internal/agentkey"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/server"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
)

// BenchmarkEventStream measures live event delivery: BENCH_STREAMS (1,000) open
// GET /api/events streams on one server on PostgreSQL — ten per user, plus ten
// administrators' streams that receive everything — while agents post
// BENCH_REPORTS_PER_S (200) progress reports a second for BENCH_SECONDS (10 s) through
// the real agent API (open loop). Latency is from sending a report to each stream
// that must see it reading its event: through the handler, the store, the
// PostgreSQL NOTIFY round trip and the SSE write. Run with -benchtime 1x.
func BenchmarkEventStream(b *testing.B) {
	streams, rate, seconds := envInt("BENCH_STREAMS", 1000), envInt("BENCH_REPORTS_PER_S", 200), envInt("BENCH_SECONDS", 10)
	const perUser, admins = 10, 10
	users := max((streams-admins)/perUser, 1)
	db := pgtest.New(b)
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	cfg := config.Register(fs)
	cfg.DataDir = b.TempDir()
	cfg.DatabaseURL = db
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	app, err := server.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{PasswordCost: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close()
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	ctx := context.Background()

	// Accounts, sessions, one agent with one running run per user.
	newSession := func(i int, role string) (store.User, string) {
		in := auth.RegisterInput{Email: fmt.Sprintf("%s%d@example.com", role, i), Password: "correct horse battery", Name: fmt.Sprintf("U%d", i)}
		u, err := app.Auth.CreateUser(ctx, in, role, "", auth.Meta{IP: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		tok, err := app.Auth.NewSession(ctx, u.ID, auth.Meta{IP: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		return u, auth.CookieName + "=" + tok
	}
	type runner struct{ key, runID string }
	runners := make([]runner, users)
	var cookies []string
	now := time.Now().UTC()
	for i := range users {
		u, cookie := newSession(i, store.RoleUser)
		for range perUser {
			cookies = append(cookies, cookie)
		}
		key, hash, prefix := agentkey.Generate()
		ag := store.Agent{ID: uuid.Must(uuid.NewV7()).String(), UserID: u.ID, Name: "box", KeyHash: hash, KeyPrefix: prefix, Status: store.AgentOffline, CreatedAt: now, UpdatedAt: now}
		if err := app.Store.CreateAgent(ctx, &ag); err != nil {
			b.Fatal(err)
		}
		c := store.BackupConfig{UserID: u.ID, Name: "c", Enabled: true, ExecutionMode: "agent", AgentID: ag.ID,
			Sources: json.RawMessage(`[{"path":"/srv"}]`), Destination: json.RawMessage(`{"destinationId":""}`), Options: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
		if err := app.Store.CreateConfig(ctx, &c); err != nil {
			b.Fatal(err)
		}
		run := store.Run{ID: uuid.Must(uuid.NewV7()).String(), ConfigID: c.ID, UserID: u.ID, AgentID: ag.ID, StartTime: now, CreatedAt: now, Status: "running", ProgressAt: &now}
		if err := app.Store.CreateRun(ctx, &run); err != nil {
			b.Fatal(err)
		}
		runners[i] = runner{key: key, runID: run.ID}
	}
	for i := range admins {
		_, cookie := newSession(i, store.RoleAdmin)
		cookies = append(cookies, cookie)
	}

	total := rate * seconds
	sent := make([]atomic.Int64, total+1) // report seq → send time (unix ns)
	want := total * (perUser + admins)
	var got atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	tr := &http.Transport{MaxIdleConnsPerHost: 200, DialContext: (&net.Dialer{}).DialContext}
	hc := &http.Client{Transport: tr}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var open sync.WaitGroup
	var readers sync.WaitGroup
	for _, cookie := range cookies {
		open.Add(1)
		readers.Go(func() {
			req, _ := http.NewRequestWithContext(sctx, "GET", srv.URL+"/api/events", nil)
			req.Header.Set("Cookie", cookie)
			resp, err := hc.Do(req)
			open.Done()
			if err != nil {
				return
			}
			defer resp.Body.Close()
			var mine []time.Duration
			defer func() { mu.Lock(); lat = append(lat, mine...); mu.Unlock() }()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				line := sc.Bytes()
				if !bytes.HasPrefix(line, []byte("data: ")) {
					continue
				}
				var d struct {
					Seq int64 `json:"filesProcessed"`
				}
				if json.Unmarshal(line[6:], &d) != nil || d.Seq <= 0 || int(d.Seq) > total {
					continue
				}
				mine = append(mine, time.Duration(time.Now().UnixNano()-sent[d.Seq].Load()))
				got.Add(1)
			}
		})
	}
	open.Wait()
	for app.Events.Stats().Subscribers < len(cookies) {
		time.Sleep(10 * time.Millisecond)
	}
	b.ResetTimer()
	post := func(seq int) {
		r := runners[seq%len(runners)]
		body, _ := json.Marshal(agentproto.Progress{RunID: r.runID, FilesDone: int64(seq), BytesScanned: int64(seq) << 10, BytesUploaded: int64(seq) << 9})
		req, _ := http.NewRequest("POST", srv.URL+agentproto.PathBackupProgress, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+r.key)
		req.Header.Set(agentproto.HeaderProtocol, "1")
		sent[seq].Store(time.Now().UnixNano())
		resp, err := hc.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Errorf("progress: %s", resp.Status)
		}
	}
	start := time.Now()
	var posts sync.WaitGroup
	for seq := 1; seq <= total; seq++ {
		time.Sleep(time.Until(start.Add(time.Duration(seq-1) * time.Second / time.Duration(rate))))
		posts.Go(func() { post(seq) })
	}
	posts.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < int64(want) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	st := app.Events.Stats()
	stop()
	readers.Wait()
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatal("no event delivered")
	}
	pct := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(pct(0.50)), "p50-ms")
	b.ReportMetric(ms(pct(0.95)), "p95-ms")
	b.ReportMetric(ms(pct(0.99)), "p99-ms")
	fmt.Printf("%d streams (%d users × %d + %d admins), %d progress reports at %d/s: %d of %d deliveries in %.1f s; p50 %.1f ms  p95 %.1f ms  p99 %.1f ms  max %.1f ms; %d streams dropped\n",
		len(cookies), users, perUser, admins, total, rate, len(lat), want, elapsed.Seconds(), ms(pct(0.5)), ms(pct(0.95)), ms(pct(0.99)), ms(lat[len(lat)-1]), st.Drops)
}
