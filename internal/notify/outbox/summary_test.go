package outbox_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/notify"
	"github.com/backapp/backapp/internal/store"
)

// TestDailySummary: a channel that wants the daily summary gets one a day from 07:00
// UTC, however often the job looks, with the last day's numbers of its owner only;
// a channel that does not want it gets none.
func TestDailySummary(t *testing.T) {
	openStores(t, func(t *testing.T, open func() store.Store) {
		st := open()
		f := setup(t, st)
		ctx := context.Background()
		day := time.Now().UTC().Truncate(24 * time.Hour)
		f.clock.Set(day.Add(6 * time.Hour))
		rc := newReceiver(t, "0123456789abcdef")
		sum := f.channel(t, "summary", rc.URL, "0123456789abcdef")
		sum.Events = []string{notify.EventSummary}
		if err := st.UpdateChannel(ctx, &sum); err != nil {
			t.Fatal(err)
		}
		noSummary := f.channel(t, "failures only", rc.URL+"/other", "0123456789abcdef")
		noSummary.Events = []string{notify.EventFailure}
		if err := st.UpdateChannel(ctx, &noSummary); err != nil {
			t.Fatal(err)
		}
		f.fail(t, "run1")
		// Someone else's activity stays out of it.
		other := store.User{Email: "b@example.com", Name: "B", PasswordHash: "x", Role: store.RoleUser, CreatedAt: day, UpdatedAt: day}
		if err := st.CreateUser(ctx, &other, false); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.alerts.Raise(ctx, store.Alert{UserID: other.ID, Type: "failure", Rule: "destination", Subject: other.ID, Ref: "x", Message: "theirs"}); err != nil {
			t.Fatal(err)
		}

		s := &notify.Summaries{Store: st, Now: f.clock.Now, BaseURL: "https://backup.example.com"}
		if n, err := s.Pass(ctx); n != 0 || err != nil {
			t.Fatalf("before 07:00: queued %d (%v), want 0", n, err)
		}
		f.clock.Set(day.Add(7*time.Hour + time.Minute))
		if n, err := s.Pass(ctx); n != 1 || err != nil {
			t.Fatalf("at 07:01: queued %d (%v), want 1", n, err)
		}
		f.clock.Add(10 * time.Minute)
		if n, err := s.Pass(ctx); n != 0 || err != nil {
			t.Fatalf("again the same day: queued %d (%v), want 0", n, err)
		}
		if _, err := f.worker(st, "w").Pass(ctx); err != nil {
			t.Fatal(err)
		}
		rc.mu.Lock()
		bodies := append([]string(nil), rc.bodies...)
		rc.mu.Unlock()
		var got *notify.Payload
		for _, b := range bodies {
			var p notify.Payload
			if json.Unmarshal([]byte(b), &p) == nil && p.Event == notify.EventSummary {
				if got != nil {
					t.Error("two summaries delivered")
				}
				got = &p
			}
		}
		if got == nil || got.Summary == nil {
			t.Fatalf("no summary delivered; got %v", bodies)
		}
		if got.Summary.Opened != 1 || got.Summary.Open != 1 || !strings.Contains(got.Title, "Daily summary") {
			t.Errorf("summary = %+v %q, want this user's one alert", got.Summary, got.Title)
		}
		f.clock.Add(24 * time.Hour)
		if n, err := s.Pass(ctx); n != 1 || err != nil {
			t.Fatalf("the next day: queued %d (%v), want 1", n, err)
		}
	})
}
