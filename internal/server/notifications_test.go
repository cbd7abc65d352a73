package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/notify"
	"github.com/backapp/backapp/internal/notify/webhook"
	"github.com/backapp/backapp/internal/server/servertest"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/testenv"
)

// hookReceiver is a real webhook receiver: it verifies each generic delivery's
// signature and timestamp with the channel's secret and keeps the payloads.
type hookReceiver struct {
	*httptest.Server
	secret string
	mu     sync.Mutex
	got    []notify.Payload
	ids    map[string]int
	bad    []string
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	h := &hookReceiver{secret: secret, ids: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := webhook.Verify(h.secret, r.Header.Get(webhook.HeaderSignature), r.Header.Get(webhook.HeaderTimestamp), body,
			time.Now(), 5*time.Minute); err != nil {
			h.bad = append(h.bad, err.Error())
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p notify.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			h.bad = append(h.bad, err.Error())
		}
		h.got = append(h.got, p)
		h.ids[r.Header.Get(webhook.HeaderDelivery)]++
		w.Write([]byte("received " + p.Event))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) payloads() []notify.Payload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Payload(nil), h.got...)
}

func (h *hookReceiver) waitEvent(t *testing.T, event string) notify.Payload {
	t.Helper()
	var found notify.Payload
	testenv.EventuallyWithin(t, 60*time.Second, "a "+event+" webhook", func() bool {
		for _, p := range h.payloads() {
			if p.Event == event {
				found = p
				return true
			}
		}
		return false
	})
	return found
}

// TestNotificationsThroughRealRuns: a real failing server-mode run sends its owner
// the failure by e-mail (the SMTP sink gets it, naming the configuration, the agent,
// the error and a link to the run) and by a signed webhook a real receiver verifies;
// the next successful run sends the resolution. Another user's channels get nothing,
// and cannot be seen or used by the owner of the alert, nor the other way round.
func TestNotificationsThroughRealRuns(t *testing.T) {
	dialects(t, func(t *testing.T, databaseURL string) {
		e := start(t, databaseURL, func(c *config.Config) { c.WebhookAllow = "127.0.0.1" })
		e.Serve(t)
		admin := e.Client()
		admin.Register("admin@example.com")
		other := e.Client()
		other.Register("other@example.com")
		hook := newHookReceiver(t, "admin-secret-0123456789")
		otherHook := newHookReceiver(t, "other-secret-0123456789")

		r := admin.JSON("POST", "/api/notifications/channels", map[string]any{"name": "ops mail", "kind": "email",
			"target": "ops@example.com", "events": []string{"failure"}})
		want(t, r, http.StatusCreated)
		r = admin.JSON("POST", "/api/notifications/channels", map[string]any{"name": "ops hook", "kind": "webhook",
			"target": hook.URL + "/hook", "secret": "admin-secret-0123456789", "events": []string{"failure", "resolved"}})
		want(t, r, http.StatusCreated)
		hookID := r.Body["id"].(string)
		r = other.JSON("POST", "/api/notifications/channels", map[string]any{"name": "theirs", "kind": "webhook",
			"target": otherHook.URL, "secret": "other-secret-0123456789", "events": notify.Events})
		want(t, r, http.StatusCreated)
		theirs := r.Body["id"].(string)

		// Each user's channels are their own.
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			want(t, admin.JSON(m, "/api/notifications/channels/"+theirs, map[string]any{"name": "x", "kind": "email",
				"target": "x@example.com", "events": []string{"failure"}}), http.StatusNotFound)
		}
		want(t, admin.JSON("POST", "/api/notifications/channels/"+theirs+"/test", nil), http.StatusNotFound)
		want(t, admin.JSON("GET", "/api/notifications/channels/"+theirs+"/attempts", nil), http.StatusNotFound)
		if r := other.JSON("GET", "/api/notifications/channels", nil); len(r.Body["channels"].([]any)) != 1 {
			t.Errorf("the other user lists %v, want their one channel", r.Body["channels"])
		}

		allowed := t.TempDir()
		src := filepath.Join(allowed, "site")
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>hi</h1>"), 0o644); err != nil {
			t.Fatal(err)
		}
		want(t, admin.JSON("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{allowed}}), http.StatusOK)
		r = admin.JSON("POST", "/api/configs", map[string]any{"name": "site", "enabled": true, "executionMode": "server",
			"sources": []map[string]any{{"path": src}}, "destination": map[string]any{"destinationId": ""},
			"options": map[string]any{"type": "full", "compression": "gzip"}})
		want(t, r, http.StatusCreated)
		cfgID, _ := r.Body["id"].(string)
		runNow := func(wantStatus string) string {
			t.Helper()
			r := admin.JSON("POST", "/api/backups/execute/"+cfgID, nil)
			want(t, r, http.StatusAccepted)
			id, _ := r.Body["id"].(string)
			if r = admin.WaitRun(id); r.Body["status"] != wantStatus {
				t.Fatalf("run %s: %v, want %s: %s", id, r.Body["status"], wantStatus, r.Raw)
			}
			return id
		}
		want(t, admin.JSON("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{t.TempDir()}}), http.StatusOK)
		failed := runNow("failed")
		runURL := e.Srv.URL + "/backups/" + failed

		m := e.SMTP.WaitForMessage(t, "ops@example.com", 60*time.Second)
		if !strings.Contains(m.Subject, `"site"`) || !strings.Contains(m.Subject, "Failed") {
			t.Errorf("subject = %q, want it to name the failed configuration", m.Subject)
		}
		for _, s := range []string{"Configuration: site", "Agent:", "Error:", "outside the directories allowed", runURL, e.Srv.URL + "/alerts"} {
			if !strings.Contains(m.Text, s) {
				t.Errorf("the failure mail does not say %q:\n%s", s, m.Text)
			}
		}

		p := hook.waitEvent(t, notify.EventFailure)
		if p.Version != 1 || p.Alert == nil || p.Alert.ConfigID != cfgID || p.Alert.RunURL != runURL ||
			!strings.Contains(p.Alert.Message, "outside the directories allowed") {
			t.Errorf("failure payload = %+v (alert %+v)", p, p.Alert)
		}

		want(t, admin.JSON("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{allowed}}), http.StatusOK)
		ok := runNow("completed")
		res := hook.waitEvent(t, notify.EventResolved)
		if res.Alert == nil || res.Alert.ResolvedAt == nil || !strings.Contains(res.Alert.Resolution, ok) {
			t.Errorf("resolution payload = %+v", res.Alert)
		}
		if got := otherHook.payloads(); len(got) != 0 {
			t.Errorf("the other user's receiver got %+v: another user's alerts", got)
		}
		hook.mu.Lock()
		for id, n := range hook.ids {
			if n != 1 {
				t.Errorf("delivery %s received %d times", id, n)
			}
		}
		if len(hook.bad) > 0 {
			t.Errorf("the receiver refused: %v", hook.bad)
		}
		hook.mu.Unlock()

		r = admin.JSON("GET", "/api/notifications/channels/"+hookID+"/attempts", nil)
		want(t, r, http.StatusOK)
		atts := r.Body["attempts"].([]any)
		if len(atts) < 2 {
			t.Fatalf("attempts = %v, want the failure's and the resolution's", atts)
		}
		a0 := atts[0].(map[string]any)
		if a0["ok"] != true || a0["status"] != float64(200) || !strings.HasPrefix(a0["response"].(string), "received") {
			t.Errorf("newest attempt = %v", a0)
		}

		// Send test shows the remote's answer.
		r = admin.JSON("POST", "/api/notifications/channels/"+hookID+"/test", nil)
		want(t, r, http.StatusOK)
		if r.Body["ok"] != true || r.Body["response"] != "received test" {
			t.Errorf("test = %v, want the receiver's answer", r.Body)
		}
		page := visible(admin.Page("/settings/notifications", http.StatusOK))
		for _, s := range []string{"ops mail", "ops hook", "Recent attempts: ops hook", "received test", "Delivered"} {
			if !strings.Contains(page, s) {
				t.Errorf("the page does not show %q", s)
			}
		}
		if strings.Contains(page, "theirs") {
			t.Error("the page shows another user's channel")
		}
	})
}

// TestNotificationChannelValidation: bad input gets a 400 naming the field.
func TestNotificationChannelValidation(t *testing.T) {
	e := start(t, "")
	c := e.Client()
	c.Register("a@example.com")
	ok := map[string]any{"name": "x", "kind": "webhook", "target": "https://hooks.example.com/x", "events": []string{"failure"}}
	for _, tc := range []struct {
		name  string
		field string
		in    map[string]any
	}{
		{"bad address", "target", with(ok, "kind", "email", "target", "not an address")},
		{"address with a name", "target", with(ok, "kind", "email", "target", "Ops <ops@example.com>")},
		{"ftp URL", "target", with(ok, "target", "ftp://example.com/x")},
		{"javascript URL", "target", with(ok, "target", "javascript:alert(1)")},
		{"unknown preset", "preset", with(ok, "preset", "pagerduty")},
		{"unknown kind", "kind", with(ok, "kind", "sms")},
		{"no events", "events", with(ok, "events", []string{})},
		{"unknown event", "events", with(ok, "events", []string{"everything"})},
		{"short secret", "secret", with(ok, "secret", "short")},
		{"no name", "name", with(ok, "name", " ")},
		{"someone's config", "configIds", with(ok, "configIds", []string{"0193a0a0-0000-7000-8000-000000000000"})},
	} {
		r := c.JSON("POST", "/api/notifications/channels", tc.in)
		if r.Status != http.StatusBadRequest || servertest.Fields(r)[tc.field] == nil {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.name, r.Status, r.Raw, tc.field)
		}
	}
	r := c.JSON("POST", "/api/notifications/channels", ok)
	want(t, r, http.StatusCreated)
	if s, _ := r.Body["secret"].(string); len(s) < 32 || r.Body["preset"] != "generic" {
		t.Errorf("created %v, want a generic webhook with a random secret", r.Body)
	}
	// The secret is sealed in the database, readable only with the master key.
	raw, err := e.App.Store.GetChannel(context.Background(), r.Body["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if secret := r.Body["secret"].(string); raw.Secret == secret || strings.Contains(raw.Secret, secret) {
		t.Errorf("the database holds the signing secret in plain text: %q", raw.Secret)
	}
	// A test over a channel whose address is private says so, precisely.
	r = c.JSON("POST", "/api/notifications/channels", with(ok, "target", "http://169.254.169.254/latest/meta-data/"))
	want(t, r, http.StatusCreated)
	r = c.JSON("POST", "/api/notifications/channels/"+r.Body["id"].(string)+"/test", nil)
	want(t, r, http.StatusOK)
	if msg, _ := r.Body["error"].(string); r.Body["ok"] != false || !strings.Contains(msg, "169.254.169.254") || !strings.Contains(msg, "--webhook-allow") {
		t.Errorf("test of the metadata address = %v, want refused naming the address and the flag", r.Body)
	}
}

// TestEmailChannelWithoutSMTP: on a server without SMTP settings a new e-mail
// channel, or an e-mail channel saved enabled, is refused with 400 on kind naming the
// settings to set; webhooks are not affected. An e-mail channel made while the
// server had SMTP stays: it is listed, may be disabled, and its deliveries fail and
// are given up after a day, raising the channel's own alert, as before.
func TestEmailChannelWithoutSMTP(t *testing.T) {
	e := startAgents(t, "") // no SMTP settings
	ctx := context.Background()
	c := e.Client()
	c.Register("a@example.com")
	mail := map[string]any{"name": "ops mail", "kind": "email", "target": "ops@example.com", "events": []string{"failure"},
		"enabled": true}
	refused := func(what string, r response) {
		t.Helper()
		msg, _ := servertest.Fields(r)["kind"].(string)
		if r.Status != http.StatusBadRequest || !strings.Contains(msg, "--smtp-host") || !strings.Contains(msg, "BACKAPP_SMTP_HOST") ||
			!strings.Contains(msg, "--smtp-from") || !strings.Contains(msg, "BACKAPP_SMTP_FROM") {
			t.Errorf("%s: %d %s, want 400 on kind naming --smtp-host, --smtp-from and their variables", what, r.Status, r.Raw)
		}
	}
	refused("create an e-mail channel", c.JSON("POST", "/api/notifications/channels", mail))
	refused("create a disabled e-mail channel", c.JSON("POST", "/api/notifications/channels", with(mail, "enabled", false)))
	r := c.JSON("POST", "/api/notifications/channels", map[string]any{"name": "hook", "kind": "webhook",
		"target": "https://hooks.example.com/x", "events": []string{"late"}, "enabled": true})
	want(t, r, http.StatusCreated)
	refused("change a webhook into e-mail", c.JSON("PUT", "/api/notifications/channels/"+r.Body["id"].(string), mail))

	// A channel made while the server had SMTP settings.
	uid := userID(t, c)
	now := e.Clock.Now()
	old := store.Channel{UserID: uid, Name: "old mail", Kind: store.ChannelEmail, Target: "old@example.com",
		Events: []string{"failure"}, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := e.App.Store.CreateChannel(ctx, &old); err != nil {
		t.Fatal(err)
	}
	if r := c.JSON("GET", "/api/notifications/channels/"+old.ID, nil); r.Status != http.StatusOK || r.Body["target"] != "old@example.com" {
		t.Errorf("the old e-mail channel: %d %s", r.Status, r.Raw)
	}
	refused("save the old e-mail channel enabled", c.JSON("PUT", "/api/notifications/channels/"+old.ID,
		with(mail, "target", "old@example.com")))
	r = c.JSON("POST", "/api/notifications/channels/"+old.ID+"/test", nil)
	if msg, _ := r.Body["error"].(string); r.Status != http.StatusOK || r.Body["ok"] != false || !strings.Contains(msg, "not configured") {
		t.Errorf("test of the old e-mail channel = %d %s, want a failed attempt saying e-mail is not configured", r.Status, r.Raw)
	}

	if _, _, err := e.App.Alerts.Raise(ctx, store.Alert{UserID: uid, Type: "failure", Rule: "run_failed", Subject: uid, Ref: "r1",
		Message: "backup failed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Outbox.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	e.Clock.Add(25 * time.Hour)
	if _, err := e.App.Outbox.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	ms, err := e.App.Store.ListMessages(ctx, uid, 10)
	var got []string
	for _, m := range ms {
		got = append(got, m.ChannelID+" "+m.State+": "+m.LastError)
	}
	if err != nil || len(ms) != 1 || ms[0].ChannelID != old.ID || ms[0].State != store.MessageDead ||
		!strings.Contains(ms[0].LastError, "not configured") {
		t.Errorf("messages = %q, %v; want the old channel's (%s) given up, e-mail not configured", got, err, old.ID)
	}
	failing, _, err := e.App.Store.ListAlerts(ctx, store.AlertFilter{UserID: uid, Rule: "channel_failing"})
	if err != nil || len(failing) != 1 || failing[0].Subject != old.ID {
		t.Errorf("channel_failing alerts = %+v, %v; want one about the old channel", failing, err)
	}

	// Its owner may turn it off without deleting it (signed in again: a day passed).
	want(t, c.Login("a@example.com", pw), http.StatusOK)
	r = c.JSON("PUT", "/api/notifications/channels/"+old.ID, with(mail, "target", "old@example.com", "enabled", false))
	want(t, r, http.StatusOK)
	if r.Body["enabled"] != false || r.Body["kind"] != "email" {
		t.Errorf("disabled: %s", r.Raw)
	}
}
