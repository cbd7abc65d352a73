package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/api"
	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/server"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv"
)

// sseEvent is one event read from GET /api/events.
type sseEvent struct {
	id, typ string
	data    map[string]any
}

// sseStream is an open GET /api/events.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	cancel context.CancelFunc
	ch     chan sseEvent // closed when the stream ends
	seen   []sseEvent
}

// stream opens the event stream as c, resuming after lastID when set.
func stream(c *client, lastID string) *sseStream {
	c.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.Base+"/api/events", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := c.HC.Do(req)
	if err != nil {
		cancel()
		c.T.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		c.T.Fatalf("GET /api/events: status %d", resp.StatusCode)
	}
	s := &sseStream{t: c.T, resp: resp, cancel: cancel, ch: make(chan sseEvent, 10000)}
	go s.read()
	c.T.Cleanup(s.close)
	return s
}

func (s *sseStream) read() {
	defer close(s.ch)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var e sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if e.typ != "" {
				s.ch <- e
			}
			e = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			e.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			e.typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			_ = json.Unmarshal([]byte(line[6:]), &e.data)
		}
	}
}

func (s *sseStream) close() { s.cancel(); s.resp.Body.Close() }

// next returns the next event of type typ whose data has key = value (any event
// of the type when key is ""), failing after 10 s.
func (s *sseStream) next(typ, key, value string) sseEvent {
	s.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-s.ch:
			if !ok {
				s.t.Fatalf("event stream ended while waiting for %s %s=%s", typ, key, value)
			}
			s.seen = append(s.seen, e)
			if e.typ == typ && (key == "" || fmt.Sprint(e.data[key]) == value) {
				return e
			}
		case <-timeout:
			s.t.Fatalf("no %s event with %s=%s within 10 s; seen %v", typ, key, value, s.seen)
		}
	}
}

// ended reports whether the stream ends within 10 s.
func (s *sseStream) ended() bool {
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-s.ch:
			if !ok {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// TestEventsAcrossReplicas: two servers on one PostgreSQL. Events raised on A (a run
// queued, an agent's heartbeat) reach SSE clients on B and A; each user sees only
// their own, the administrator everything; a Last-Event-ID from B resumes on A.
func TestEventsAcrossReplicas(t *testing.T) {
	db := pgtest.New(t)
	clock := newSchedClock(time.Now().UTC())
	a := startRuns(t, db, clock, false)
	b := startRuns(t, db, clock, false)
	admin := a.Client()
	registerID(t, admin, "root@example.com")
	ada, bob := a.Client(), a.Client()
	adaID, bobID := registerID(t, ada, "ada@example.com"), registerID(t, bob, "bob@example.com")
	adaAgent, adaKey, _ := ada.CreateAgent("ada-box")
	bobAgent, _, _ := bob.CreateAgent("bob-box")
	adaCfg := a.MkScheduled(adaID, adaAgent, "ada-manual", "", `{}`)
	bobCfg := a.MkScheduled(bobID, bobAgent, "bob-manual", "", `{}`)

	onB := func(c *client) *client { cc := *c; cc.Base = b.Base; return &cc }
	adaB, bobB, adminA := stream(onB(ada), ""), stream(onB(bob), ""), stream(admin, "")

	// Bob's run first, then Ada's: when Ada sees hers, Bob's went by already.
	r := bob.JSON("POST", "/api/backups/execute/"+bobCfg.ID, nil)
	want(t, r, http.StatusAccepted)
	bobRun := r.Body["id"].(string)
	r = ada.JSON("POST", "/api/backups/execute/"+adaCfg.ID, nil)
	want(t, r, http.StatusAccepted)
	adaRun := r.Body["id"].(string)
	queued := adaB.next(events.TypeRunStatus, "runId", adaRun)
	if queued.data["status"] != "queued" || queued.data["configId"] != adaCfg.ID || queued.id == "" {
		t.Errorf("ada's run.status on replica b: %+v", queued)
	}
	bobB.next(events.TypeRunStatus, "runId", bobRun)
	adminA.next(events.TypeRunStatus, "runId", bobRun)
	adminA.next(events.TypeRunStatus, "runId", adaRun)

	// Ada's agent heartbeats to replica A: online, seen on B.
	ada.Heartbeat(adaKey, "")
	adaB.next(events.TypeAgentStatus, "agentId", adaAgent)

	// Ada leaves replica B after the queued event and comes back on A with its id:
	// she gets what she missed (the cancel), nothing of Bob's.
	adaB.close()
	want(t, ada.JSON("POST", "/api/backups/"+adaRun+"/cancel", nil), http.StatusOK)
	want(t, bob.JSON("POST", "/api/backups/"+bobRun+"/cancel", nil), http.StatusOK)
	bobB.next(events.TypeRunStatus, "status", "cancelled")
	resumed := stream(ada, queued.id)
	e := resumed.next(events.TypeRunStatus, "status", "cancelled")
	if e.data["runId"] != adaRun {
		t.Errorf("resumed stream's cancel is of %v, want ada's run %s", e.data["runId"], adaRun)
	}

	for _, s := range []*sseStream{adaB, resumed} {
		for _, e := range s.seen {
			if e.data["runId"] == bobRun || e.data["agentId"] == bobAgent || e.data["configId"] == bobCfg.ID {
				t.Errorf("ada's stream carried bob's event %+v", e)
			}
		}
	}
	for _, e := range bobB.seen {
		if e.data["runId"] == adaRun || e.data["agentId"] == adaAgent {
			t.Errorf("bob's stream carried ada's event %+v", e)
		}
	}
	// An id this database never gave (another database's): a reset first.
	if e := stream(onB(ada), "999999999").next(events.TypeReset, "", ""); e.id != "" {
		t.Errorf("reset carries id %q; want none so the client keeps its own", e.id)
	}
}

// TestEventStream: on one server (both databases) the stream has the right headers,
// needs a session, carries a run's progress from the agent API and the agent going
// offline after five minutes, resumes, is capped per account, and ends when the
// session does.
func TestEventStream(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		clock := newSchedClock(time.Now().UTC())
		e := startRunsWith(t, db, clock, true, func(o *server.Options) {
			o.EventStream = api.EventsConfig{SessionCheck: 50 * time.Millisecond, MaxPerUser: 4}
			o.OfflineEvery = 20 * time.Millisecond
		})
		anon := e.Client()
		if r := anon.JSON("GET", "/api/events", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("without a session: status %d, want 401", r.Status)
		}
		c := e.Client()
		uid := registerID(t, c, "ada@example.com")
		agentID, key, _ := c.CreateAgent("box")
		cfg := e.MkScheduled(uid, agentID, "manual", "", `{}`)
		s := stream(c, "")
		for k, v := range map[string]string{"Content-Type": "text/event-stream; charset=utf-8", "X-Accel-Buffering": "no", "Cache-Control": "no-cache, no-store, no-transform"} {
			if got := s.resp.Header.Get(k); got != v {
				t.Errorf("header %s = %q, want %q", k, got, v)
			}
		}
		c.Heartbeat(key, "")
		s.next(events.TypeAgentStatus, "status", "online")
		r := c.JSON("POST", "/api/backups/execute/"+cfg.ID, nil)
		want(t, r, http.StatusAccepted)
		runID := r.Body["id"].(string)
		queued := s.next(events.TypeRunStatus, "status", "queued")
		run, err := e.App.Store.GetRun(context.Background(), runID)
		if err != nil {
			t.Fatal(err)
		}
		run.Status = "running"
		if err := e.App.Store.UpdateRun(context.Background(), &run); err != nil {
			t.Fatal(err)
		}
		want(t, c.AgentCall("/api/agent/backup/progress", key, map[string]any{"runId": runID, "filesProcessed": 7, "bytesScanned": 700, "bytesTransferred": 350}), http.StatusOK)
		p := s.next(events.TypeRunProgress, "runId", runID)
		if p.data["filesProcessed"] != 7.0 || p.data["bytesTransferred"] != 350.0 || p.data["totalBytes"] != 700.0 {
			t.Errorf("progress event %+v", p.data)
		}
		clock.Advance(5*time.Minute + time.Second)
		s.next(events.TypeAgentStatus, "status", "offline")

		// Resumes: from the queued event on, or a reset from before anything kept.
		resumed := stream(c, queued.id)
		if e := resumed.next(events.TypeRunProgress, "", ""); e.data["runId"] != runID || len(resumed.seen) != 1 {
			t.Errorf("resumed after %s: %v, want the progress event first", queued.id, resumed.seen)
		}
		if db == "" {
			stream(c, "1").next(events.TypeReset, "", "")
		}

		// One account's streams are capped.
		for e.App.Events.Streams(uid) < 4 {
			stream(c, "")
		}
		if r := c.JSON("GET", "/api/events", nil); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Errorf("a fifth stream: status %d, Retry-After %q; want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"))
		}

		want(t, c.JSON("POST", "/api/auth/logout", nil), http.StatusNoContent)
		if !s.ended() {
			t.Error("the stream went on after logout")
		}
	})
}

// TestEventsClientThatNeverReads: a client that opens the stream and never reads is
// dropped; publishing never waits for it.
func TestEventsClientThatNeverReads(t *testing.T) {
	clock := newSchedClock(time.Now().UTC())
	e := startRunsWith(t, "", clock, false, func(o *server.Options) {
		o.EventStream = api.EventsConfig{WriteTimeout: 200 * time.Millisecond}
	})
	c := e.Client()
	registerID(t, c, "root@example.com") // an administrator: receives every event
	u, _ := url.Parse(e.Base)
	var cookie string
	for _, k := range c.HC.Jar.Cookies(u) {
		cookie += k.Name + "=" + k.Value + "; "
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	fmt.Fprintf(conn, "GET /api/events HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\n\r\n", u.Host, cookie)
	testenv.Eventually(t, "the stream subscribed", func() bool { return e.App.Events.Stats().Subscribers == 1 })

	big := json.RawMessage(`{"pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	done := make(chan struct{})
	go func() {
		for range 2000 { // 128 MiB if anybody kept it
			e.App.Bus.Publish(events.Event{Type: events.TypeRunProgress, UserID: "someone", Data: big})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("publishing blocked on a client that does not read")
	}
	testenv.Eventually(t, "the client dropped", func() bool { return e.App.Events.Stats().Subscribers == 0 })
}
