package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/alerts"
	"github.com/backapp/backapp/internal/mail"
	"github.com/backapp/backapp/internal/notify"
	"github.com/backapp/backapp/internal/notify/outbox"
	"github.com/backapp/backapp/internal/notify/webhook"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/postgres"
	"github.com/backapp/backapp/internal/store/sqlite"
	"github.com/backapp/backapp/internal/testenv"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// receiver is a real webhook receiver that verifies signatures and counts each
// delivery id.
type receiver struct {
	*httptest.Server
	secret string
	status atomic.Int64 // what it answers
	mu     sync.Mutex
	byID   map[string]int
	bad    []string
	bodies []string
}

func newReceiver(t *testing.T, secret string) *receiver {
	rc := &receiver{secret: secret, byID: map[string]int{}}
	rc.status.Store(http.StatusNoContent)
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		if err := webhook.Verify(rc.secret, r.Header.Get(webhook.HeaderSignature), r.Header.Get(webhook.HeaderTimestamp), b,
			time.Now(), 48*time.Hour); err != nil { // the worker's clock is a test's
			rc.bad = append(rc.bad, err.Error())
		}
		st := int(rc.status.Load())
		if st < 300 {
			rc.byID[r.Header.Get(webhook.HeaderDelivery)]++
			rc.bodies = append(rc.bodies, string(b))
		}
		rc.mu.Unlock()
		w.WriteHeader(st)
		fmt.Fprintf(w, "answered %d", st)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) delivered() (map[string]int, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	m := map[string]int{}
	for k, v := range rc.byID {
		m[k] = v
	}
	return m, append([]string(nil), rc.bad...)
}

func openStores(t *testing.T, fn func(t *testing.T, open func() store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "db.sqlite")
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, func() store.Store { return st }) // one process owns a SQLite file
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.New(t)
		fn(t, func() store.Store {
			st, err := postgres.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		})
	})
}

type fixture struct {
	st     store.Store
	clock  *clock
	user   store.User
	cfg    store.BackupConfig
	alerts *alerts.Service
	disp   *notify.Dispatcher
}

func setup(t *testing.T, st store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{st: st, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	now := f.clock.Now()
	f.user = store.User{Email: "a@example.com", Name: "A", PasswordHash: "x", Role: store.RoleUser, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, &f.user, false); err != nil {
		t.Fatal(err)
	}
	f.cfg = store.BackupConfig{UserID: f.user.ID, Name: "docs", Enabled: true, ExecutionMode: "server",
		Sources: json.RawMessage(`[{"path":"/srv"}]`), Destination: json.RawMessage(`{"destinationId":""}`),
		Options: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
	if err := st.CreateConfig(ctx, &f.cfg); err != nil {
		t.Fatal(err)
	}
	var err error
	f.alerts, err = alerts.New(alerts.Config{Store: st, Now: f.clock.Now, Notice: notify.Noticer{BaseURL: "https://backup.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := webhook.ParseAllow("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	f.disp = &notify.Dispatcher{Mail: mail.Disabled{}, Client: g.Client(), Now: f.clock.Now}
	return f
}

func (f *fixture) channel(t *testing.T, name, url, secret string) store.Channel {
	t.Helper()
	now := f.clock.Now()
	c := store.Channel{UserID: f.user.ID, Name: name, Kind: store.ChannelWebhook, Preset: webhook.Generic, Target: url,
		Secret: secret, Events: notify.Events, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := f.st.CreateChannel(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) worker(st store.Store, id string) *outbox.Worker {
	return &outbox.Worker{Store: st, Sender: f.disp, Alerts: f.alerts, Now: f.clock.Now, ID: id, Every: 10 * time.Millisecond}
}

func (f *fixture) fail(t *testing.T, run string) {
	t.Helper()
	_, raised, err := f.alerts.Raise(context.Background(), store.Alert{UserID: f.user.ID, ConfigID: f.cfg.ID, Type: alerts.TypeFailure,
		Rule: alerts.RuleRunFailed, Subject: f.cfg.ID, Ref: run, Message: "backup \"docs\" failed: disk full (run " + run + ")"})
	if err != nil || !raised {
		t.Fatalf("raise: %v %v", raised, err)
	}
}

func messages(t *testing.T, st store.Store) []store.Message {
	t.Helper()
	ms, err := st.ListMessages(context.Background(), "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestRetriesWithBackoffThenDead: a receiver that answers 500 forever gets the
// message again after 30 s, doubling to 1 h (each ±20 %), until it is a day old; then
// the message is dead, the channel's own alert is raised and sent to the user's other
// channel (not to the failing one), and the next delivery over it resolves the alert.
func TestRetriesWithBackoffThenDead(t *testing.T) {
	openStores(t, func(t *testing.T, open func() store.Store) {
		st := open()
		f := setup(t, st)
		ctx := context.Background()
		down := newReceiver(t, "secret-of-the-failing-one")
		down.status.Store(http.StatusInternalServerError)
		other := newReceiver(t, "secret-of-the-other-one")
		bad := f.channel(t, "down", down.URL+"/hook", "secret-of-the-failing-one")
		f.channel(t, "other", other.URL+"/hook", "secret-of-the-other-one")
		f.fail(t, "run1")
		w := f.worker(st, "w1")

		var delays []time.Duration
		start := f.clock.Now()
		var msg store.Message
		for i := 0; i < 100; i++ {
			if _, err := w.Pass(ctx); err != nil {
				t.Fatal(err)
			}
			for _, m := range messages(t, st) {
				if m.ChannelID == bad.ID && m.AlertID != "" && m.Event == notify.EventFailure {
					msg = m
				}
			}
			if msg.State != store.MessageFailed {
				break
			}
			delays = append(delays, msg.NextAttemptAt.Sub(f.clock.Now()))
			f.clock.Set(msg.NextAttemptAt)
		}
		if msg.State != store.MessageDead {
			t.Fatalf("after %d attempts the message is %s, want dead", msg.Attempts, msg.State)
		}
		if age := f.clock.Now().Sub(start); age < 24*time.Hour || age > 26*time.Hour {
			t.Errorf("gave up after %s, want about a day", age)
		}
		want := 30 * time.Second
		for i, d := range delays {
			if d < want*8/10 || d > want*12/10 {
				t.Errorf("delay %d = %s, want %s ±20 %%", i+1, d, want)
			}
			want = min(2*want, time.Hour)
		}
		if len(delays) < 20 || len(delays) > 40 {
			t.Errorf("%d retries in a day, want 20-40 (30 s doubling to 1 h)", len(delays))
		}
		if !strings.Contains(msg.LastError, "status 500") {
			t.Errorf("dead message's error = %q, want the status", msg.LastError)
		}
		atts, err := st.ListAttempts(ctx, bad.ID, 200)
		if err != nil {
			t.Fatal(err)
		}
		if len(atts) != len(delays)+1 || atts[0].Status != 500 || !strings.Contains(atts[0].Response, "answered 500") {
			t.Errorf("attempts = %d (newest %+v), want %d with status and answer", len(atts), atts[0], len(delays)+1)
		}

		open1, _, err := st.ListAlerts(ctx, store.AlertFilter{UserID: f.user.ID, Rule: alerts.RuleChannelFailing, State: store.AlertOpen})
		if err != nil || len(open1) != 1 || open1[0].Subject != bad.ID || !strings.Contains(open1[0].Message, `"down"`) {
			t.Fatalf("channel alerts = %+v (%v), want one about the failing channel", open1, err)
		}
		// The other channel hears of it; the failing one is not asked again.
		if _, err := w.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		var toOther, toBad int
		for _, m := range messages(t, st) {
			if m.AlertID == open1[0].ID {
				switch m.ChannelID {
				case bad.ID:
					toBad++
				default:
					toOther++
					if m.State != store.MessageDelivered {
						t.Errorf("channel alert to the other channel: %s", m.State)
					}
				}
			}
		}
		if toOther != 1 || toBad != 0 {
			t.Errorf("channel alert messages: other %d, failing %d; want 1 and 0", toOther, toBad)
		}

		down.status.Store(http.StatusOK)
		f.fail(t, "run2")
		if _, err := w.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ := down.delivered()
		if len(got) != 1 {
			t.Errorf("the recovered receiver got %v, want the new message once", got)
		}
		if n, _ := st.CountOpenAlerts(ctx, f.user.ID); n != 1 { // run_failed stays open
			t.Errorf("open alerts after recovery = %d, want 1 (the run's; the channel's resolved)", n)
		}
		if _, bad := other.delivered(); len(bad) > 0 {
			t.Errorf("signature checks failed: %v", bad)
		}
	})
}

// TestLeaseExpiryRedelivers: a worker that claimed messages and died (SIGKILL) holds
// them until its lease ends; then another delivers each once.
func TestLeaseExpiryRedelivers(t *testing.T) {
	openStores(t, func(t *testing.T, open func() store.Store) {
		st := open()
		f := setup(t, st)
		ctx := context.Background()
		rc := newReceiver(t, "0123456789abcdef")
		f.channel(t, "hook", rc.URL, "0123456789abcdef")
		for i := range 5 {
			f.fail(t, fmt.Sprintf("run%d", i))
		}
		claimed, err := st.ClaimMessages(ctx, "killed", f.clock.Now(), outbox.DefaultLease, 100)
		if err != nil || len(claimed) != 5 {
			t.Fatalf("claimed %d (%v), want 5", len(claimed), err)
		}
		w := f.worker(st, "after-restart")
		if n, err := w.Pass(ctx); n != 0 || err != nil {
			t.Fatalf("within the lease: claimed %d (%v), want 0", n, err)
		}
		f.clock.Add(outbox.DefaultLease + time.Second)
		if n, err := w.Pass(ctx); n != 5 || err != nil {
			t.Fatalf("after the lease: claimed %d (%v), want 5", n, err)
		}
		got, bad := rc.delivered()
		if len(got) != 5 || len(bad) > 0 {
			t.Fatalf("delivered %v (bad signatures %v), want 5 once each", got, bad)
		}
		for id, n := range got {
			if n != 1 {
				t.Errorf("message %s delivered %d times", id, n)
			}
		}
		for _, m := range claimed {
			if err := st.FinishMessage(ctx, m.ID, "killed", f.clock.Now(), store.Outcome{State: store.MessageDelivered}); err == nil {
				t.Error("the dead worker could still record an outcome")
			}
		}
	})
}

// TestDeletedChannelNeverSent: messages queued for a channel deleted before they were
// delivered are dropped with the reason, and nothing reaches the receiver.
func TestDeletedChannelNeverSent(t *testing.T) {
	openStores(t, func(t *testing.T, open func() store.Store) {
		st := open()
		f := setup(t, st)
		ctx := context.Background()
		rc := newReceiver(t, "0123456789abcdef")
		ch := f.channel(t, "hook", rc.URL, "0123456789abcdef")
		f.fail(t, "run1")
		svc, err := notify.New(notify.Config{Store: st, Sender: f.disp, Now: f.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		n, err := svc.Delete(ctx, f.user, ch.ID)
		if err != nil || n != 1 {
			t.Fatalf("Delete = %d, %v; want 1 dropped", n, err)
		}
		if _, err := f.worker(st, "w").Pass(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := rc.delivered(); len(got) != 0 {
			t.Errorf("the deleted channel's receiver got %v", got)
		}
		ms := messages(t, st)
		if len(ms) != 1 || ms[0].State != store.MessageDropped || !strings.Contains(ms[0].LastError, "deleted") {
			t.Errorf("messages = %+v, want one dropped saying the channel was deleted", ms)
		}
	})
}

// TestReplicasDeliverOnce: two workers, each on its own connection pool (two
// replicas on one PostgreSQL; on SQLite two workers of one process), deliver 300
// messages together: each reaches the receiver exactly once.
func TestReplicasDeliverOnce(t *testing.T) {
	openStores(t, func(t *testing.T, open func() store.Store) {
		st := open()
		f := setup(t, st)
		ctx := context.Background()
		rc := newReceiver(t, "0123456789abcdef")
		ch := f.channel(t, "hook", rc.URL, "0123456789abcdef")
		const n = 300
		for i := range n {
			m := store.Message{ChannelID: ch.ID, UserID: f.user.ID, Event: notify.EventFailure, Dedupe: fmt.Sprint(i),
				Payload:       json.RawMessage(`{"version":1,"event":"failure","title":"t","text":"x"}`),
				NextAttemptAt: f.clock.Now(), CreatedAt: f.clock.Now()}
			if _, err := st.Enqueue(ctx, &m); err != nil {
				t.Fatal(err)
			}
		}
		wctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for i, s := range []store.Store{st, open()} {
			w := f.worker(s, fmt.Sprintf("replica-%d", i))
			w.Batch = 16
			wg.Go(func() { w.Run(wctx) })
		}
		testenv.EventuallyWithin(t, time.Minute, "every message delivered", func() bool {
			got, _ := rc.delivered()
			return len(got) == n
		})
		cancel()
		wg.Wait()
		got, bad := rc.delivered()
		for id, k := range got {
			if k != 1 {
				t.Errorf("message %s delivered %d times", id, k)
			}
		}
		if len(bad) > 0 {
			t.Errorf("bad signatures: %v", bad[:min(3, len(bad))])
		}
		counts, err := st.CountMessagesByState(ctx)
		if err != nil || counts[store.MessageDelivered] != n {
			t.Errorf("states = %v (%v), want %d delivered", counts, err, n)
		}
	})
}

// TestPruneAfterRetention: a delivered message and its attempt stay for the
// retention and are then deleted; a message still being retried is kept however old,
// and the attempts shown for its channel with it; two replicas prune at once.
func TestPruneAfterRetention(t *testing.T) {
	openStores(t, func(t *testing.T, open func() store.Store) {
		st := open()
		f := setup(t, st)
		ctx := context.Background()
		up := newReceiver(t, "secret-of-the-working-one")
		down := newReceiver(t, "secret-of-the-failing-one")
		down.status.Store(http.StatusInternalServerError)
		ok := f.channel(t, "up", up.URL+"/hook", "secret-of-the-working-one")
		bad := f.channel(t, "down", down.URL+"/hook", "secret-of-the-failing-one")
		f.fail(t, "run1")
		w1, w2 := f.worker(st, "w1"), f.worker(open(), "w2")
		w1.Retention, w2.Retention = 30*24*time.Hour, 30*24*time.Hour
		if n, err := w1.Pass(ctx); err != nil || n != 2 {
			t.Fatalf("Pass = %d, %v; want both messages claimed", n, err)
		}
		attempts := func(ch store.Channel) int {
			t.Helper()
			as, err := st.ListAttempts(ctx, ch.ID, 100)
			if err != nil {
				t.Fatal(err)
			}
			return len(as)
		}
		states := func() map[string]string {
			t.Helper()
			got := map[string]string{}
			for _, m := range messages(t, st) {
				got[m.ChannelID] = m.State
			}
			return got
		}
		want := map[string]string{ok.ID: store.MessageDelivered, bad.ID: store.MessageFailed}
		if got := states(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("states = %v, want %v", got, want)
		}

		f.clock.Add(30*24*time.Hour - time.Minute)
		if n, err := w1.Prune(ctx); err != nil || n != 0 {
			t.Errorf("Prune within the retention = %d, %v; want 0", n, err)
		}
		if got := attempts(ok); got != 1 {
			t.Errorf("attempts of the delivered one within the retention = %d, want 1", got)
		}

		f.clock.Add(2 * time.Minute)
		var wg sync.WaitGroup
		counts := make([]int, 2)
		for i, w := range []*outbox.Worker{w1, w2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := w.Prune(ctx)
				if err != nil {
					t.Errorf("Prune by %s: %v", w.ID, err)
				}
				counts[i] = n
			}()
		}
		wg.Wait()
		if counts[0]+counts[1] != 1 {
			t.Errorf("pruned by the two replicas = %v, want 1 in all", counts)
		}
		want = map[string]string{bad.ID: store.MessageFailed}
		if got := states(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("states after the retention = %v, want %v (the one being retried kept)", got, want)
		}
		if got := [2]int{attempts(ok), attempts(bad)}; got != [2]int{0, 1} {
			t.Errorf("attempts (delivered channel, retried channel) after the retention = %v, want [0 1]", got)
		}
	})
}
