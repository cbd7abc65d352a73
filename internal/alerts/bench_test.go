package alerts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/alerts"
	"github.com/backapp/backapp/internal/notify"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/postgres"
)

// BenchmarkFlood: 1,000 configurations whose runs all failed at once; one pass of
// the rules on PostgreSQL raises their 1,000 alerts and queues their 1,000
// notifications for the user's webhook channel, in the alerts' transactions (issue
// 15: < 5 s). A second pass over the same state writes nothing.
func BenchmarkFlood(b *testing.B) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, pgtest.New(b))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 8, 3, 12, 0, 0, 0, time.UTC)
	u := store.User{Email: "flood@example.com", Name: "F", PasswordHash: "x", Role: store.RoleUser, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, &u, false); err != nil {
		b.Fatal(err)
	}
	ag := store.Agent{UserID: u.ID, Name: "box", KeyHash: "h", CreatedAt: now, LastSeen: &now}
	if err := st.CreateAgent(ctx, &ag); err != nil {
		b.Fatal(err)
	}
	const n = 1000
	for i := range n {
		c := store.BackupConfig{UserID: u.ID, Name: fmt.Sprintf("c%04d", i), Enabled: true, ExecutionMode: "agent", AgentID: ag.ID,
			Sources: json.RawMessage(`[{"path":"/srv"}]`), Destination: json.RawMessage(`{"destinationId":""}`),
			Options: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
		if err := st.CreateConfig(ctx, &c); err != nil {
			b.Fatal(err)
		}
		r := store.Run{ConfigID: c.ID, UserID: u.ID, AgentID: ag.ID, StartTime: now, Status: "failed",
			Errors: json.RawMessage(`[{"path":"","message":"disk full"}]`)}
		if err := st.CreateRun(ctx, &r); err != nil {
			b.Fatal(err)
		}
	}
	ch := store.Channel{UserID: u.ID, Name: "hook", Kind: store.ChannelWebhook, Preset: "generic",
		Target: "https://hooks.example.com/x", Secret: "0123456789abcdef", Events: []string{"failure"}, Enabled: true,
		CreatedAt: now, UpdatedAt: now}
	if err := st.CreateChannel(ctx, &ch); err != nil {
		b.Fatal(err)
	}
	s, err := alerts.New(alerts.Config{Store: st, Now: func() time.Time { return now.Add(time.Minute) },
		Notice: notify.Noticer{BaseURL: "https://backup.example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := s.Evaluate(ctx); err != nil {
			b.Fatal(err)
		}
		first := time.Since(start)
		start = time.Now()
		if err := s.Evaluate(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(first.Seconds(), "s/1000-alerts+notifications")
		b.ReportMetric(time.Since(start).Seconds(), "s/idle-pass")
	}
	b.StopTimer()
	open, err := st.CountOpenAlerts(ctx, u.ID)
	if err != nil || open != n {
		b.Fatalf("open alerts = %d, %v; want %d", open, err, n)
	}
	queued, err := st.CountMessagesByState(ctx)
	if err != nil || queued[store.MessageQueued] != n {
		b.Fatalf("outbox = %v, %v; want %d queued", queued, err, n)
	}
}
