package pgevents_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/events/pgevents"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/postgres"
	"github.com/backapp/backapp/internal/testenv"
)

// replica is one server's half: a broker fed by a Fanout.
type replica struct {
	b     *events.Broker
	f     *pgevents.Fanout
	mu    sync.Mutex
	woken []string
}

func (r *replica) wakes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.woken...)
}

// database is a fresh, migrated PostgreSQL database.
func database(t *testing.T) string {
	url := pgtest.New(t)
	st, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	return url
}

func startReplica(t *testing.T, url string, tweak ...func(*pgevents.Config)) *replica {
	t.Helper()
	r := &replica{b: events.NewBroker(events.BrokerConfig{Buffer: 10000})}
	cfg := pgevents.Config{URL: url, Broker: r.b, Wake: func(id string) {
		r.mu.Lock()
		r.woken = append(r.woken, id)
		r.mu.Unlock()
	}}
	for _, f := range tweak {
		f(&cfg)
	}
	f, err := pgevents.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.f = f
	t.Cleanup(f.Close)
	return r
}

func ev(user, data string) events.Event {
	return events.Event{Type: events.TypeRunProgress, UserID: user, Data: json.RawMessage(data)}
}

// take reads n events from s, failing after 10 s.
func take(t *testing.T, s *events.Subscription, n int) []events.Event {
	t.Helper()
	var out []events.Event
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case e, ok := <-s.C:
			if !ok {
				t.Fatalf("subscription closed after %d of %d events", len(out), n)
			}
			if e.Type != events.TypeReset {
				out = append(out, e)
			}
		case <-timeout:
			t.Fatalf("got %d of %d events in 10 s", len(out), n)
		}
	}
	return out
}

// TestSameEventsSameIDsEverywhere: events published concurrently on two replicas
// reach both, with the same consecutive ids in the same order, so a Last-Event-ID
// means the same on either.
func TestSameEventsSameIDsEverywhere(t *testing.T) {
	url := database(t)
	a, b := startReplica(t, url), startReplica(t, url)
	sa, _, _ := a.b.Subscribe("", true, "")
	sb, _, _ := b.b.Subscribe("", true, "")
	const n = 300
	var wg sync.WaitGroup
	for _, r := range []*replica{a, b} {
		wg.Go(func() {
			for i := range n {
				r.f.Publish(ev("u", fmt.Sprintf(`{"from":%q,"i":%d}`, fmt.Sprintf("%p", r), i)))
			}
		})
	}
	wg.Wait()
	ga, gb := take(t, sa, 2*n), take(t, sb, 2*n)
	for i := range ga {
		if ga[i].ID != gb[i].ID || string(ga[i].Data) != string(gb[i].Data) {
			t.Fatalf("event %d: replica a has %d %s, replica b %d %s", i, ga[i].ID, ga[i].Data, gb[i].ID, gb[i].Data)
		}
		if i > 0 && ga[i].ID != ga[i-1].ID+1 {
			t.Fatalf("ids not consecutive: %d after %d", ga[i].ID, ga[i-1].ID)
		}
	}
	// A Last-Event-ID from replica a resumes on replica b.
	mid := ga[n].ID
	_, replay, reset := b.b.Subscribe("u", false, fmt.Sprint(mid))
	if reset || len(replay) != n-1 || replay[0].ID != mid+1 {
		t.Errorf("resume on b from a's id %d: %d events (first %v), reset %v; want %d from %d", mid, len(replay), ids(replay), reset, n-1, mid+1)
	}
}

func ids(es []events.Event) []uint64 {
	var out []uint64
	for i, e := range es {
		if i == 3 {
			break
		}
		out = append(out, e.ID)
	}
	return out
}

// TestOversizeEventThroughTable: an event over NOTIFY's 8000-byte limit arrives
// whole on the other replica, its body fetched from event_payloads.
func TestOversizeEventThroughTable(t *testing.T) {
	url := database(t)
	a, b := startReplica(t, url), startReplica(t, url)
	sb, _, _ := b.b.Subscribe("u", false, "")
	big := `{"message":"` + strings.Repeat("é", 20000) + `"}`
	a.f.Publish(ev("u", `{"small":true}`))
	a.f.Publish(ev("u", big))
	a.f.Publish(ev("u", `{"small":2}`))
	got := take(t, sb, 3)
	if string(got[1].Data) != big || string(got[0].Data) != `{"small":true}` || string(got[2].Data) != `{"small":2}` {
		t.Errorf("got %.60s / %.60s… (%d bytes) / %.60s", got[0].Data, got[1].Data, len(got[1].Data), got[2].Data)
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM event_payloads WHERE id = $1", int64(got[1].ID)).Scan(&n); err != nil || n != 1 {
		t.Errorf("event_payloads rows for the big event: %d, %v; want 1", n, err)
	}
}

// TestWakeReachesOtherReplica: a wake-up on one replica wakes the agent's polls on
// every replica, its own at once and once only.
func TestWakeReachesOtherReplica(t *testing.T) {
	url := database(t)
	a, b := startReplica(t, url), startReplica(t, url)
	a.f.Wake("agent-1")
	testenv.Eventually(t, "replica b woken", func() bool { return len(b.wakes()) == 1 && b.wakes()[0] == "agent-1" })
	// a's own notification has come back by now (b's came later in the same
	// commit order); it must not wake a twice.
	a.f.Publish(ev("u", `{}`))
	sa, _, _ := a.b.Subscribe("u", false, "")
	a.f.Publish(ev("u", `{}`))
	take(t, sa, 1)
	if got := a.wakes(); len(got) != 1 {
		t.Errorf("replica a woken %v, want once", got)
	}
}

// TestListenerReconnects: when the listening connection is killed, the replica
// reconnects and events flow again.
func TestListenerReconnects(t *testing.T) {
	url := database(t)
	a, b := startReplica(t, url), startReplica(t, url)
	sb, _, _ := b.b.Subscribe("u", false, "")
	a.f.Publish(ev("u", `{"i":0}`))
	take(t, sb, 1)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var killed int
	err = conn.QueryRow(context.Background(), "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()", pgevents.ListenerName).Scan(&killed)
	if err != nil || killed != 2 {
		t.Fatalf("terminated %d listeners (%v), want 2", killed, err)
	}
	// Events sent while b is away are missed; once back, b gets a reset and new
	// events again.
	deadline := time.Now().Add(15 * time.Second)
	for i := 1; ; i++ {
		a.f.Publish(ev("u", fmt.Sprintf(`{"i":%d}`, i)))
		select {
		case e := <-sb.C:
			if e.Type == events.TypeReset || e.ID > 0 {
				return
			}
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no event reached the replica after its listener was killed")
		}
	}
}

// TestQuietListenerStaysUp: the listener pings its connection when nothing comes
// for CheckEvery; quiet periods neither break it nor lose what comes after.
func TestQuietListenerStaysUp(t *testing.T) {
	url := database(t)
	a := startReplica(t, url)
	b := startReplica(t, url, func(c *pgevents.Config) { c.CheckEvery = 20 * time.Millisecond })
	sb, _, _ := b.b.Subscribe("u", false, "")
	for i := range 3 {
		time.Sleep(100 * time.Millisecond) // quiet: several pings
		a.f.Publish(ev("u", fmt.Sprintf(`{"i":%d}`, i)))
		if e := take(t, sb, 1)[0]; string(e.Data) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("after a quiet spell got %s", e.Data)
		}
	}
}
