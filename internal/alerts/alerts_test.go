package alerts_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/alerts"
	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/postgres"
	"github.com/backapp/backapp/internal/store/sqlite"
)

// recorder keeps the events a service published.
type recorder struct {
	mu  sync.Mutex
	evs []events.Event
}

func (r *recorder) Publish(e events.Event) { r.mu.Lock(); r.evs = append(r.evs, e); r.mu.Unlock() }

func (r *recorder) count(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

type fixture struct {
	st    store.Store
	user  store.User
	agent store.Agent
	cfg   store.BackupConfig
	now   time.Time
}

func setup(t *testing.T, st store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{st: st, now: time.Date(2026, 8, 3, 12, 0, 0, 0, time.UTC)}
	f.user = store.User{Email: "a@example.com", Name: "A", PasswordHash: "x", Role: store.RoleUser, CreatedAt: f.now, UpdatedAt: f.now}
	if err := st.CreateUser(ctx, &f.user, false); err != nil {
		t.Fatal(err)
	}
	f.agent = store.Agent{UserID: f.user.ID, Name: "box", KeyHash: "h", CreatedAt: f.now, LastSeen: &f.now}
	if err := st.CreateAgent(ctx, &f.agent); err != nil {
		t.Fatal(err)
	}
	f.cfg = store.BackupConfig{UserID: f.user.ID, Name: "docs", Enabled: true, ExecutionMode: "agent", AgentID: f.agent.ID,
		Sources: json.RawMessage(`[{"path":"/srv"}]`), Destination: json.RawMessage(`{"destinationId":""}`),
		Options: json.RawMessage(`{}`), CreatedAt: f.now, UpdatedAt: f.now}
	if err := st.CreateConfig(ctx, &f.cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

func openStores(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), pgtest.New(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
}

// TestReplicasRaiseOnce: two services (two replicas) evaluating the same state at
// once open one alert, count one occurrence and publish one alert.new between them.
func TestReplicasRaiseOnce(t *testing.T) {
	openStores(t, func(t *testing.T, st store.Store) {
		f := setup(t, st)
		ctx := context.Background()
		run := store.Run{ConfigID: f.cfg.ID, UserID: f.user.ID, AgentID: f.agent.ID, StartTime: f.now, Status: "failed",
			Errors: json.RawMessage(`[{"path":"","message":"disk full"}]`)}
		if err := st.CreateRun(ctx, &run); err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		var svcs []*alerts.Service
		for range 2 {
			s, err := alerts.New(alerts.Config{Store: st, Events: rec, Now: func() time.Time { return f.now.Add(time.Minute) }})
			if err != nil {
				t.Fatal(err)
			}
			svcs = append(svcs, s)
		}
		var wg sync.WaitGroup
		for _, s := range svcs {
			for range 3 {
				wg.Go(func() {
					if err := s.Evaluate(ctx); err != nil {
						t.Errorf("Evaluate: %v", err)
					}
				})
			}
		}
		wg.Wait()
		list, total, err := st.ListAlerts(ctx, store.AlertFilter{UserID: f.user.ID})
		if err != nil {
			t.Fatal(err)
		}
		if total != 1 || list[0].Occurrences != 1 || !strings.Contains(list[0].Message, "disk full") {
			t.Fatalf("alerts = %+v, want one run_failed counted once", list)
		}
		if n := rec.count(events.TypeAlert); n != 1 {
			t.Errorf("alert.new published %d times, want 1", n)
		}
	})
}

// TestChecksumAlert: a restore that fails because an archive's checksum does not
// match raises a checksum alert about the backup run; a later completed restore of
// that run resolves it; other failures raise nothing.
func TestChecksumAlert(t *testing.T) {
	openStores(t, func(t *testing.T, st store.Store) {
		f := setup(t, st)
		ctx := context.Background()
		s, err := alerts.New(alerts.Config{Store: st, Now: func() time.Time { return f.now }})
		if err != nil {
			t.Fatal(err)
		}
		runID := "0190f7a1-0000-7000-8000-000000000001"
		restore := func(id, status, msg string) {
			t.Helper()
			r := store.Restore{ID: id, UserID: f.user.ID, RunID: runID, AgentID: f.agent.ID, Status: status, Error: msg}
			if err := s.RestoreFinished(ctx, events.RestoreStatus(r)); err != nil {
				t.Fatal(err)
			}
		}
		open := func() []store.Alert {
			t.Helper()
			list, _, err := st.ListAlerts(ctx, store.AlertFilter{UserID: f.user.ID, State: store.AlertOpen})
			if err != nil {
				t.Fatal(err)
			}
			return list
		}
		restore("0190f7a1-0000-7000-8000-0000000000a1", "failed", "target directory is not writable")
		if l := open(); len(l) != 0 {
			t.Fatalf("an ordinary failed restore raised %+v", l)
		}
		restore("0190f7a1-0000-7000-8000-0000000000a2", "failed", "download archive: sha256 mismatch: got ab…, want cd…")
		l := open()
		if len(l) != 1 || l[0].Rule != alerts.RuleChecksum || l[0].Subject != runID || !strings.Contains(l[0].Message, "sha256 mismatch") {
			t.Fatalf("alerts after the checksum failure = %+v, want one checksum alert about the run", l)
		}
		restore("0190f7a1-0000-7000-8000-0000000000a3", "completed", "")
		if l := open(); len(l) != 0 {
			t.Errorf("alerts after a good restore = %+v, want none open", l)
		}
	})
}

func TestThreshold(t *testing.T) {
	now := time.Date(2026, 8, 3, 12, 0, 0, 0, time.UTC)
	daily := json.RawMessage(`{"cronExpression":"0 3 * * *","timezone":"Europe/Berlin"}`)
	for _, c := range []struct {
		name      string
		schedule  json.RawMessage
		options   string
		want      time.Duration
		wantAlert bool
	}{
		{"daily: twice a day's interval", daily, `{}`, 48 * time.Hour, true},
		{"hourly", json.RawMessage(`{"cronExpression":"0 * * * *","timezone":"UTC"}`), `{}`, 2 * time.Hour, true},
		{"the user's hours win", daily, `{"alertAfterHours":26}`, 26 * time.Hour, true},
		{"manual with hours", nil, `{"alertAfterHours":5}`, 5 * time.Hour, true},
		{"manual only: never", nil, `{}`, 0, false},
	} {
		got, ok := alerts.Threshold(store.ConfigAge{Schedule: c.schedule, Options: json.RawMessage(c.options)}, now)
		if got != c.want || ok != c.wantAlert {
			t.Errorf("%s: Threshold = %v, %v; want %v, %v", c.name, got, ok, c.want, c.wantAlert)
		}
	}
}

// TestWarningAlert: a run that completes with skipped files raises a warning naming
// them; a later clean run resolves it; a failure in between leaves it open.
func TestWarningAlert(t *testing.T) {
	openStores(t, func(t *testing.T, st store.Store) {
		f := setup(t, st)
		ctx := context.Background()
		now := f.now
		// The agent's heartbeat is not what this test is about.
		s, err := alerts.New(alerts.Config{Store: st, Now: func() time.Time { return now }, OfflineAfter: 1000 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		run := func(status string, skipped int64, errs string) {
			t.Helper()
			now = now.Add(time.Hour)
			end := now.Add(time.Minute)
			r := store.Run{ConfigID: f.cfg.ID, UserID: f.user.ID, AgentID: f.agent.ID, StartTime: now, EndTime: &end,
				Status: status, FilesSkipped: skipped}
			if errs != "" {
				r.Errors = json.RawMessage(errs)
			}
			if err := st.CreateRun(ctx, &r); err != nil {
				t.Fatal(err)
			}
			if err := s.Evaluate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		open := func() map[string]store.Alert {
			t.Helper()
			list, _, err := st.ListAlerts(ctx, store.AlertFilter{UserID: f.user.ID, State: store.AlertOpen})
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]store.Alert{}
			for _, a := range list {
				m[a.Rule] = a
			}
			return m
		}
		run("completed", 2, `[{"path":"/srv/locked","message":"permission denied"}]`)
		w, ok := open()[alerts.RuleRunWarning]
		if !ok || w.Type != alerts.TypeWarning || !strings.Contains(w.Message, "2 skipped files and 1 errors") {
			t.Fatalf("open alerts = %+v, want a warning with 2 skipped files and 1 error", open())
		}
		run("failed", 0, `[{"path":"","message":"agent lost"}]`)
		if _, ok := open()[alerts.RuleRunWarning]; !ok {
			t.Error("a failed run resolved the warning; only a clean run may")
		}
		run("completed", 0, "")
		if got := open(); len(got) != 0 {
			t.Errorf("open alerts after a clean run = %+v, want none", got)
		}
	})
}
