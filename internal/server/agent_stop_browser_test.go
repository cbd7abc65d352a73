package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/browser"
)

// TestAgentStopInBrowser: a real agent daemon runs, and its page says Online. When it
// shuts down cleanly it tells the server, and the page says Offline at once (not five
// minutes later); "Run now" then says the agent is offline and the backup waits. An
// agent last heard from more than a minute ago (on the server's injected clock) is
// "not connected" to "Run now", though it still shows online by the five-minute rule.
// Every page visited passes the WCAG 2.1 AA audit.
func TestAgentStopInBrowser(t *testing.T) {
	b := browser.Start(t, 2*time.Minute)
	e := startAgents(t, pgtest.New(t))
	base := browser.Serve(t, e.Srv.Config.Handler)
	t.Cleanup(e.App.Events.Close) // before the test server's Close waits for open event streams
	c := e.Client()
	c.Register("alice@example.com")
	id, key, _ := c.CreateAgent("alpha")
	r := c.JSON("POST", "/api/configs", with(goodConfig(id), "sources", []map[string]any{{"path": t.TempDir()}}))
	want(t, r, http.StatusCreated)
	configID := r.Body["id"].(string)

	status := func() string {
		r := c.JSON("GET", "/api/agents/"+id, nil)
		want(t, r, http.StatusOK)
		s, _ := r.Body["status"].(string)
		return s
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &agent.Daemon{Runner: agentRunner(t, e.Env, key), Heartbeat: 200 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", e.Log.String())
		}
	})
	testenv.EventuallyWithin(t, 30*time.Second, "the running agent to show online", func() bool { return status() == "online" })

	b.Run("sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)))
	b.Run("open the agent", chromedp.Navigate(base+"/agents/"+id), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	if got := b.Text(`main`); !strings.Contains(got, "Online") {
		t.Fatalf("the running agent's page: %q", got)
	}

	cancel()
	<-done
	b.Run("reload the agent's page", chromedp.Navigate(base+"/agents/"+id), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	if got := b.Text(`main`); !strings.Contains(got, "Offline") || strings.Contains(got, "● Online") {
		t.Errorf("right after the agent stopped cleanly its page says %q, want Offline", got)
	}
	b.Audit("stopped agent")

	runNow := func() string {
		t.Helper()
		b.Run("Run now",
			chromedp.Navigate(base+"/configs"),
			chromedp.Click(chromedp.CSS(`form[action="/configs/`+configID+`/run"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)))
		return b.Text(`.flash`)
	}
	if got := runNow(); !strings.Contains(got, "offline") || strings.Contains(got, "within seconds") {
		t.Errorf("Run now on the stopped agent says %q", got)
	}
	b.Audit("run queued for a stopped agent")
	cancelQueued := func() {
		t.Helper()
		loc, err := chromedp.Run(b.Ctx, chromedp.Location())
		if err != nil {
			b.Fail("location", err)
		}
		run := loc[strings.LastIndex(loc, "/")+1:]
		want(t, c.JSON("POST", "/api/backups/"+run+"/cancel", nil), http.StatusOK)
	}
	cancelQueued()

	// Heard from once, then silent for a minute and a second: online by the five-minute
	// rule, but "Run now" says it is not connected.
	want(t, c.AgentCall(agentproto.PathHeartbeat, key, agentproto.HeartbeatRequest{}), http.StatusOK)
	e.Clock.Add(time.Minute + time.Second)
	if s := status(); s != "online" {
		t.Fatalf("an agent heard from 61 s ago is %q, want online", s)
	}
	got := runNow()
	if !strings.Contains(got, "not connected") || !strings.Contains(got, "waits") {
		b.Fail("Run now on an agent silent for a minute", fmt.Errorf("the message is %q", got))
	}
	cancelQueued()
}
