package web_test

import (
	"bytes"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/runs"
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

// TestBackupsPageCapsTotal: past runs.CountCap matching runs the history stops
// counting: the page says "of 1,000+", the API's total is 1,000 with totalCapped,
// and both still offer the next page; near the end the count is exact again.
func TestBackupsPageCapsTotal(t *testing.T) {
	clock := newSchedClock(time.Now().UTC())
	e := startRuns(t, "", clock, false)
	alice := e.Client()
	aliceID := registerID(t, alice, "alice@example.com")
	agentID, _, _ := alice.CreateAgent("alice-box")
	cfg := e.MkScheduled(aliceID, agentID, "alice docs", "", `{}`)
	const n = runs.CountCap + 5
	for i := range n {
		e.AddRun(cfg, "completed", clock.Now().Add(-time.Duration(i+1)*time.Minute), time.Second, "", 10, 1)
	}

	r := alice.Send("GET", "/backups", "", nil)
	want(t, r, http.StatusOK)
	if got := html.UnescapeString(visible(r.Raw)); !strings.Contains(got, "1–50 of 1,000+ backups") || !strings.Contains(r.Raw, `href="/backups?offset=50"`) {
		t.Errorf("first page of %d runs: %s", n, got)
	}
	r = alice.JSON("GET", "/api/backups/logs", nil)
	want(t, r, http.StatusOK)
	if r.Body["total"] != float64(runs.CountCap) || r.Body["totalCapped"] != true || r.Body["next"] == nil {
		t.Errorf("API first page: total %v, totalCapped %v, next %v", r.Body["total"], r.Body["totalCapped"], r.Body["next"])
	}
	r = alice.Send("GET", "/backups?offset=1000", "", nil)
	want(t, r, http.StatusOK)
	if got := html.UnescapeString(visible(r.Raw)); !strings.Contains(got, "1001–1005 of 1,005 backups") {
		t.Errorf("last page: %s", got)
	}
	r = alice.JSON("GET", "/api/backups/logs?offset=1000", nil)
	want(t, r, http.StatusOK)
	if r.Body["total"] != float64(n) || r.Body["totalCapped"] != nil || r.Body["next"] != nil {
		t.Errorf("API last page: total %v, totalCapped %v, next %v", r.Body["total"], r.Body["totalCapped"], r.Body["next"])
	}
}
