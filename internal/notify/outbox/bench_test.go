package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/mail"
	"github.com/backapp/backapp/internal/notify"
	"github.com/backapp/backapp/internal/notify/outbox"
	"github.com/backapp/backapp/internal/notify/webhook"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/postgres"
)

// BenchmarkOutboxDelivery: 2,000 queued webhook notifications, one worker with its
// defaults (batches of 64, 16 in flight) on PostgreSQL, a local receiver that
// answers 204: how many webhooks a second the outbox delivers, each claimed, signed,
// sent and recorded with its attempt (issue 15: ≥ 200/s).
func BenchmarkOutboxDelivery(b *testing.B) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, pgtest.New(b))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var got atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	now := time.Now().UTC()
	u := store.User{Email: "bench@example.com", Name: "B", PasswordHash: "x", Role: store.RoleUser, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, &u, false); err != nil {
		b.Fatal(err)
	}
	ch := store.Channel{UserID: u.ID, Name: "hook", Kind: store.ChannelWebhook, Preset: webhook.Generic, Target: recv.URL,
		Secret: "0123456789abcdef", Events: notify.Events, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateChannel(ctx, &ch); err != nil {
		b.Fatal(err)
	}
	g, _ := webhook.ParseAllow("127.0.0.1")
	const n = 2000
	payload, _ := json.Marshal(notify.Payload{Version: 1, Event: "failure", Title: "Failed: backup \"x\"", Text: "disk full", Timestamp: now})
	for range b.N {
		for i := range n {
			m := store.Message{ChannelID: ch.ID, UserID: u.ID, Event: "failure", Dedupe: fmt.Sprintf("%d-%d", b.N, i),
				Payload: payload, NextAttemptAt: now, CreatedAt: now}
			if _, err := st.Enqueue(ctx, &m); err != nil {
				b.Fatal(err)
			}
		}
		got.Store(0)
		w := &outbox.Worker{Store: st, Sender: &notify.Dispatcher{Mail: mail.Disabled{}, Client: g.Client()}, ID: "bench"}
		b.ResetTimer()
		start := time.Now()
		for got.Load() < n {
			if _, err := w.Pass(ctx); err != nil {
				b.Fatal(err)
			}
		}
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(n)/el.Seconds(), "webhooks/s")
	}
	counts, err := st.CountMessagesByState(ctx)
	if err != nil || counts[store.MessageDelivered] != n {
		b.Fatalf("outbox = %v, %v; want %d delivered", counts, err, n)
	}
}
