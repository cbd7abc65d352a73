package agentapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentkey"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/store"
)

func TestProtocolAndKeys(t *testing.T) {
	e := newEnv(t, openSQLite(t), false)
	ctx := context.Background()
	u := e.user("u@example.com")
	a := e.agent(u, "a")
	hb := agentproto.HeartbeatRequest{}

	code, msg := e.do(a.key, "", "POST", agentproto.PathHeartbeat, hb, nil)
	wantStatus(t, "no protocol header", code, msg, http.StatusUpgradeRequired)
	code, msg = e.do(a.key, "2", "POST", agentproto.PathHeartbeat, hb, nil)
	wantStatus(t, "protocol 2", code, msg, http.StatusUpgradeRequired)
	if !strings.Contains(msg, "protocol 1") || !strings.HasPrefix(msg, "unsupported_protocol") {
		t.Errorf("426 message %q does not say what the server speaks", msg)
	}

	code, msg = a.call("POST", agentproto.PathHeartbeat, hb, nil)
	mustOK(t, "heartbeat", code, msg)
	code, msg = a.call("GET", agentproto.PathHeartbeat, nil, nil)
	wantStatus(t, "GET heartbeat", code, msg, http.StatusMethodNotAllowed)
	code, msg = a.call("GET", "/api/agent/nope", nil, nil)
	wantStatus(t, "unknown endpoint", code, msg, http.StatusNotFound)

	// Rotation: the old key stops at once, the new one works.
	newKey, hash, prefix := agentkey.Generate()
	if err := e.st.SetAgentKey(ctx, a.ID, hash, prefix, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	code, msg = a.call("POST", agentproto.PathHeartbeat, hb, nil)
	wantStatus(t, "old key after rotation", code, msg, http.StatusUnauthorized)
	a.key = newKey
	code, msg = a.call("POST", agentproto.PathHeartbeat, hb, nil)
	mustOK(t, "new key after rotation", code, msg)

	// Revocation: refused on the next request.
	if err := e.st.RevokeAgent(ctx, a.ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	code, msg = a.call("POST", agentproto.PathHeartbeat, hb, nil)
	wantStatus(t, "revoked key", code, msg, http.StatusUnauthorized)
	if !strings.HasPrefix(msg, "unauthorized") {
		t.Errorf("401 code: %q", msg)
	}
}

// Two agents behind one address (the server sees one client IP, as behind a NAT):
// one sends 100 bad keys, the other's heartbeats all succeed. Guessing stays
// throttled: past AuthFailures, every bad key from that address gets the same 429,
// whatever was wrong with it, until the window passes.
func TestBadKeysDoNotLockOutAgentsAtTheSameAddress(t *testing.T) {
	e := newEnv(t, openSQLite(t), false)
	ctx := context.Background()
	u := e.user("u@example.com")
	good, broken := e.agent(u, "good"), e.agent(u, "broken")
	revoked := e.agent(u, "revoked")
	if err := e.st.RevokeAgent(ctx, revoked.ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	// broken's key was rotated on the server: it keeps sending the old one.
	newKey, hash, prefix := agentkey.Generate()
	if err := e.st.SetAgentKey(ctx, broken.ID, hash, prefix, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	stale := broken.key
	hb := agentproto.HeartbeatRequest{}

	const bad, limit = 100, 5 // AuthFailures: 5
	for i := range bad {
		code, msg := e.do(stale, "1", "POST", agentproto.PathHeartbeat, hb, nil)
		want := http.StatusUnauthorized
		if i >= limit {
			want = http.StatusTooManyRequests
		}
		wantStatus(t, fmt.Sprintf("bad key %d", i+1), code, msg, want)
		code, msg = good.call("POST", agentproto.PathHeartbeat, hb, nil)
		mustOK(t, fmt.Sprintf("good agent's heartbeat after %d bad keys", i+1), code, msg)
	}
	broken.key = newKey
	code, msg := broken.call("POST", agentproto.PathHeartbeat, hb, nil)
	mustOK(t, "the blocked agent with its new key", code, msg)

	// Blocked: every kind of bad key gets one and the same answer.
	type answer struct {
		status     int
		body       string
		retryAfter string
	}
	raw := func(key string) answer {
		t.Helper()
		req, _ := http.NewRequest("POST", e.srv.URL+agentproto.PathHeartbeat, strings.NewReader("{}"))
		if key != "-" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		req.Header.Set(agentproto.HeaderProtocol, "1")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var eb agentproto.ErrorBody
		_ = json.Unmarshal(b, &eb)
		return answer{resp.StatusCode, eb.Error.Code + ": " + eb.Error.Message, resp.Header.Get("Retry-After")}
	}
	unknown, _, _ := agentkey.Generate()
	last := "A"
	if strings.HasSuffix(good.key, last) {
		last = "B"
	}
	kinds := map[string]string{"no key": "-", "empty": "", "malformed": "nonsense", "unknown": unknown,
		"rotated": stale, "revoked": revoked.key, "near miss": good.key[:len(good.key)-1] + last}
	want := raw(unknown)
	if want.status != http.StatusTooManyRequests || want.retryAfter == "" {
		t.Fatalf("bad key from a blocked address: %+v; want 429 with Retry-After", want)
	}
	for what, key := range kinds {
		if got := raw(key); got != want {
			t.Errorf("%s key from a blocked address: %+v; want the same answer as any bad key %+v", what, got, want)
		}
	}
	if got := raw(good.key); got.status != http.StatusOK {
		t.Errorf("valid key from the blocked address: %+v; want 200", got)
	}

	// The window passes: a bad key is refused as such again, and counted again.
	e.clock.Add(time.Minute)
	code, msg = e.do(stale, "1", "POST", agentproto.PathHeartbeat, hb, nil)
	wantStatus(t, "bad key after the window", code, msg, http.StatusUnauthorized)
}

// Log lines are stored, levels normalised, batches bounded.
func TestLogs(t *testing.T) {
	e := newEnv(t, openSQLite(t), false)
	a := e.agent(e.user("u@example.com"), "a")
	now := e.clock.Now()
	code, msg := a.call("POST", agentproto.PathLog, agentproto.LogRequest{Entries: []agentproto.LogEntry{
		{Level: "warn", Message: "disk slow", Timestamp: now, Metadata: map[string]string{"run": "r"}},
		{Level: "error", Message: strings.Repeat("x", 20000), Timestamp: now.Add(time.Second)},
	}}, nil)
	mustOK(t, "log", code, msg)
	logs, err := e.st.ListAgentLogs(context.Background(), storeFilter(a.ID))
	if err != nil || len(logs) != 2 {
		t.Fatalf("logs = %v, %v", logs, err)
	}
	if logs[1].Level != "warning" || logs[1].Metadata["run"] != "r" || len(logs[0].Message) > 8<<10+4 {
		t.Errorf("stored logs: %+v", logs)
	}
	many := make([]agentproto.LogEntry, 501)
	code, msg = a.call("POST", agentproto.PathLog, agentproto.LogRequest{Entries: many}, nil)
	wantStatus(t, "501 lines", code, msg, http.StatusRequestEntityTooLarge)
}

func storeFilter(agentID string) store.AgentLogFilter { return store.AgentLogFilter{AgentID: agentID} }
