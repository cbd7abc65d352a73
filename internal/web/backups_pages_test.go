package web_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestBackupsPages: the history page with filters in the URL, the run page with
// Cancel and Run again, "Run now" on a configuration, and 404 for others' runs.
func TestBackupsPages(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		clock := newSchedClock(time.Now().UTC())
		e := startRuns(t, db, clock, false)
		alice := e.Client()
		aliceID := registerID(t, alice, "alice@example.com")
		bob := e.Client()
		bob.Register("bob@example.com")
		agentID, _, _ := alice.CreateAgent("alice-box")
		cfg := e.MkScheduled(aliceID, agentID, "alice docs", "", `{}`)

		page := func(c *client, path string) response {
			t.Helper()
			return c.Send("GET", path, "", nil)
		}
		form := func(c *client, path string) response {
			t.Helper()
			return c.Send("POST", path, "application/x-www-form-urlencoded", url.Values{"csrf_token": {c.CSRF}}.Encode())
		}
		r := page(alice, "/backups")
		want(t, r, http.StatusOK)
		if !strings.Contains(visible(r.Raw), "No backups yet") || !strings.Contains(r.Raw, `href="/backups" aria-current="page"`) {
			t.Errorf("empty history page: %s", visible(r.Raw))
		}

		r = form(alice, "/configs/"+cfg.ID+"/run")
		want(t, r, http.StatusSeeOther)
		loc := r.Header.Get("Location")
		if !strings.HasPrefix(loc, "/backups/") {
			t.Fatalf("run now redirects to %q", loc)
		}
		runID := strings.TrimPrefix(loc, "/backups/")
		r = page(alice, loc)
		want(t, r, http.StatusOK)
		text := visible(r.Raw)
		for _, s := range []string{"Backup of alice docs", "Queued", "alice-box", "is offline", "Cancel"} {
			if !strings.Contains(text, s) {
				t.Errorf("run page lacks %q: %s", s, text)
			}
		}
		if strings.Contains(text, "Run again") {
			t.Errorf("a queued run's page offers Run again: %s", text)
		}
		want(t, page(bob, loc), http.StatusNotFound)
		want(t, form(bob, loc+"/cancel"), http.StatusNotFound)

		r = form(alice, loc+"/cancel")
		want(t, r, http.StatusSeeOther)
		r = page(alice, loc)
		if text := visible(r.Raw); !strings.Contains(text, "Cancelled") || !strings.Contains(text, "was cancelled") {
			t.Errorf("after cancel: %s", text)
		}
		if strings.Contains(r.Raw, `action="/backups/`+runID+`/cancel"`) {
			t.Errorf("a cancelled run still offers Cancel")
		}
		if strings.Contains(r.Raw, "/restores/new?run=") {
			t.Errorf("a cancelled run offers a restore")
		}
		r = form(alice, loc+"/run")
		want(t, r, http.StatusSeeOther)
		if r.Header.Get("Location") == loc {
			t.Errorf("run again redirected to the old run")
		}

		r = page(alice, "/backups?status=cancelled&config="+cfg.ID)
		want(t, r, http.StatusOK)
		text = visible(r.Raw)
		if !strings.Contains(text, "1–1 of 1 backup") || !strings.Contains(text, "✕") && !strings.Contains(text, "Cancelled") {
			t.Errorf("filtered history: %s", text)
		}
		if !bytes.Contains([]byte(r.Raw), []byte(`<time datetime=`)) {
			t.Errorf("history without <time>: %s", r.Raw)
		}
		r = page(alice, "/backups?status=nonsense&from=never")
		want(t, r, http.StatusBadRequest)
		if text := visible(r.Raw); !strings.Contains(text, "unknown status") || !strings.Contains(text, "from must be a date") {
			t.Errorf("bad filter page: %s", text)
		}
		if r := page(bob, "/backups"); !strings.Contains(visible(r.Raw), "No backups yet") {
			t.Errorf("bob sees alice's backups: %s", visible(r.Raw))
		}
	})
}
