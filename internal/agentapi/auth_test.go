package agentapi_test

import (
	"context"
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

func TestFailedAuthRateLimited(t *testing.T) {
	e := newEnv(t, openSQLite(t), false)
	good := e.agent(e.user("u@example.com"), "a")
	bad := []string{"", "nonsense", "bak_" + strings.Repeat("a", 52)}
	for i := range 5 { // AuthFailures: 5
		code, msg := e.do(bad[i%len(bad)], "1", "POST", agentproto.PathHeartbeat, agentproto.HeartbeatRequest{}, nil)
		wantStatus(t, "bad key", code, msg, http.StatusUnauthorized)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+agentproto.PathHeartbeat, strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+good.key)
	req.Header.Set(agentproto.HeaderProtocol, "1")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("after 5 failures: %s, Retry-After %q; want 429 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	e.clock.Add(time.Minute)
	code, msg := good.call("POST", agentproto.PathHeartbeat, agentproto.HeartbeatRequest{}, nil)
	mustOK(t, "after the window", code, msg)
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
