package server_test

import (
	"encoding/json"
	"net/url"

	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/testenv/faultproxy"

	"github.com/backapp/backapp/internal/testenv"
)

// alertsOf lists the user's alerts through GET /api/alerts with query.
func alertsOf(c *client, query string) (list []map[string]any, open int) {
	c.T.Helper()
	r := c.JSON("GET", "/api/alerts"+query, nil)
	want(c.T, r, http.StatusOK)
	for _, a := range r.Body["alerts"].([]any) {
		list = append(list, a.(map[string]any))
	}
	return list, int(r.Body["open"].(float64))
}

// waitAlert polls GET /api/alerts?query until one alert of rule matches cond.
func waitAlert(c *client, query, rule string, cond func(map[string]any) bool) map[string]any {
	c.T.Helper()
	var found map[string]any
	testenv.EventuallyWithin(c.T, 30*time.Second, "a "+rule+" alert as wanted", func() bool {
		list, _ := alertsOf(c, query)
		for _, a := range list {
			if a["rule"] == rule && cond(a) {
				found = a
				return true
			}
		}
		return false
	})
	return found
}

// TestRunAlertsThroughRealRuns: the built-in agent really runs a configuration;
// a failing run raises one failure alert naming the configuration and the error,
// a second failure counts on it, and the next successful run resolves it, saying
// so. Another user sees none of it; acknowledging through the seed's endpoint works.
func TestRunAlertsThroughRealRuns(t *testing.T) {
	dialects(t, func(t *testing.T, databaseURL string) {
		e := start(t, databaseURL)
		e.Serve(t)
		admin := e.Client()
		admin.Register("admin@example.com")
		other := e.Client()
		other.Register("other@example.com")

		allowed := t.TempDir()
		src := filepath.Join(allowed, "site")
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>hi</h1>"), 0o644); err != nil {
			t.Fatal(err)
		}
		want(t, admin.JSON("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{allowed}}), http.StatusOK)
		r := admin.JSON("POST", "/api/configs", map[string]any{"name": "site", "enabled": true, "executionMode": "server",
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
		// The allowed directories shrink: the source is outside them, the run fails.
		want(t, admin.JSON("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{t.TempDir()}}), http.StatusOK)
		failed := runNow("failed")
		a := waitAlert(admin, "?state=open", "run_failed", func(map[string]any) bool { return true })
		msg, _ := a["message"].(string)
		if a["type"] != "failure" || a["configId"] != cfgID || !strings.Contains(msg, `"site"`) ||
			!strings.Contains(msg, "outside the directories allowed") || !strings.Contains(msg, failed) || a["acknowledged"] != false {
			t.Errorf("failure alert = %v, want type failure naming the config, the error and the run", a)
		}
		if _, open := alertsOf(admin, ""); open != 1 {
			t.Errorf("open alerts = %d, want 1", open)
		}
		second := runNow("failed")
		waitAlert(admin, "?state=open", "run_failed", func(a map[string]any) bool {
			return a["count"] == float64(2) && strings.Contains(a["message"].(string), second)
		})
		if list, _ := alertsOf(admin, "?type=failure"); len(list) != 1 {
			t.Errorf("failure alerts after two failures = %d, want one counted twice", len(list))
		}
		if list, open := alertsOf(other, ""); len(list) != 0 || open != 0 {
			t.Errorf("another user sees alerts %v (open %d), want none", list, open)
		}
		want(t, other.JSON("PUT", "/api/alerts/"+a["id"].(string)+"/acknowledge", nil), http.StatusNotFound)

		want(t, admin.JSON("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{allowed}}), http.StatusOK)
		ok := runNow("completed")
		res := waitAlert(admin, "?state=resolved", "run_failed", func(map[string]any) bool { return true })
		if s, _ := res["resolution"].(string); !strings.Contains(s, ok) || !strings.Contains(s, "succeeded") {
			t.Errorf("resolution = %q, want the run that succeeded", s)
		}
		if _, open := alertsOf(admin, ""); open != 0 {
			t.Errorf("open alerts after the success = %d, want 0", open)
		}

		// The seed's acknowledge: fail once more, acknowledge, the count drops.
		want(t, admin.JSON("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{t.TempDir()}}), http.StatusOK)
		runNow("failed")
		a = waitAlert(admin, "?state=open", "run_failed", func(map[string]any) bool { return true })
		r = admin.JSON("PUT", "/api/alerts/"+a["id"].(string)+"/acknowledge", nil)
		want(t, r, http.StatusOK)
		if r.Body["acknowledged"] != true || r.Body["state"] != "acknowledged" {
			t.Errorf("acknowledge answered %s", r.Raw)
		}
		if _, open := alertsOf(admin, ""); open != 0 {
			t.Errorf("open alerts after acknowledging = %d, want 0", open)
		}
		want(t, admin.JSON("GET", "/api/alerts?state=nonsense", nil), http.StatusBadRequest)
	})
}

// TestTimeAlertRules: with an injected clock, an agent silent for more than five
// minutes raises agent_offline and its next heartbeat resolves it; a scheduled
// configuration without a successful backup for twice its interval raises no_backup
// and a completed run resolves it; a late run's alert resolves when it starts.
func TestTimeAlertRules(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		clock := newSchedClock(time.Date(2026, 8, 3, 10, 0, 30, 0, time.UTC))
		e := startRuns(t, db, clock, false)
		ctx := context.Background()
		c := e.Client()
		uid := registerID(t, c, "time@example.com")
		agentID, key, _ := c.CreateAgent("laptop")
		c.Heartbeat(key, "")
		cfg := e.MkScheduled(uid, agentID, "hourly", "0 * * * *", `{}`)
		eval := func() {
			t.Helper()
			if err := e.App.Alerts.Evaluate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		rules := func(state string) map[string]map[string]any {
			list, _ := alertsOf(c, "?state="+state)
			out := map[string]map[string]any{}
			for _, a := range list {
				out[a["rule"].(string)] = a
			}
			return out
		}

		clock.Advance(4 * time.Minute)
		eval()
		if got := rules("open"); len(got) != 0 {
			t.Fatalf("alerts after 4 minutes = %v, want none", got)
		}
		clock.Advance(2 * time.Minute) // 6 minutes without a heartbeat
		eval()
		eval() // a second pass changes nothing
		a := rules("open")["agent_offline"]
		if a == nil || a["agentId"] != agentID || a["count"] != float64(1) || !strings.Contains(a["message"].(string), `"laptop"`) {
			t.Fatalf("agent_offline = %v, want one about the laptop", a)
		}
		if list, _ := alertsOf(c, "?agentId="+agentID); len(list) != 1 {
			t.Errorf("alerts filtered by agent = %d, want 1", len(list))
		}
		c.Heartbeat(key, "")
		eval()
		if r := rules("resolved")["agent_offline"]; r == nil || !strings.Contains(r["resolution"].(string), "back online") {
			t.Errorf("resolved agent_offline = %v, want back online", r)
		}

		// Hourly: twice the interval is two hours without a successful backup.
		c.Heartbeat(key, "")
		clock.Advance(2*time.Hour + 5*time.Minute)
		c.Heartbeat(key, "")
		eval()
		nb := rules("open")["no_backup"]
		if nb == nil || nb["configId"] != cfg.ID || !strings.Contains(nb["message"].(string), "threshold 2.0 hours") {
			t.Fatalf("no_backup = %v, want one for the hourly config with its threshold", nb)
		}
		// The scheduler (not run since 10:00) queues one run for the missed slots, late,
		// naming the first one it stands for.
		if _, err := e.App.Scheduler.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if l := rules("open")["late"]; l == nil || !strings.Contains(l["message"].(string), "due at 2026-08-03 11:00 UTC") {
			t.Errorf("late alert = %v, want one naming the 11:00 slot", l)
		}
		r := e.RunsOf(cfg.ID)
		for _, run := range r {
			if run.Status == "queued" || run.Status == "running" {
				e.Finish(run, "completed")
			}
		}
		if len(r) == 0 {
			t.Fatal("the hourly config has no run to complete")
		}
		eval()
		if got := rules("resolved")["no_backup"]; got == nil || !strings.Contains(got["resolution"].(string), "succeeded") {
			t.Errorf("resolved no_backup = %v, want a backup succeeded", got)
		}
		if got := rules("resolved")["late"]; got == nil || !strings.Contains(got["resolution"].(string), "started") {
			t.Errorf("resolved late = %v, want the late run started", got)
		}
		if got := rules("open"); len(got) != 0 {
			t.Errorf("open alerts at the end = %v, want none", got)
		}
	})
}

// TestAlertsPage: the open count is in the navigation of every page; /alerts lists
// the user's alerts with filters, acknowledges several at once, and shows nobody
// else's.
func TestAlertsPage(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		clock := newSchedClock(time.Date(2026, 8, 3, 10, 0, 30, 0, time.UTC))
		e := startRuns(t, db, clock, false)
		ctx := context.Background()
		alice := e.Client()
		aliceID := registerID(t, alice, "alice@example.com")
		bob := e.Client()
		bob.Register("bob@example.com")
		a1, k1, _ := alice.CreateAgent("alpha")
		a2, k2, _ := alice.CreateAgent("beta")
		alice.Heartbeat(k1, "")
		alice.Heartbeat(k2, "")
		cfg := e.MkScheduled(aliceID, a1, "docs", "", `{}`)
		e.Finish(e.MkRun(cfg, "running"), "failed")
		clock.Advance(10 * time.Minute) // both agents offline
		if err := e.App.Alerts.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}

		r := alice.Send("GET", "/backups", "", nil)
		want(t, r, http.StatusOK)
		if !strings.Contains(r.Raw, `data-alert-count="3"`) || !strings.Contains(r.Raw, "(3 open)") {
			t.Errorf("navigation of /backups lacks the count of 3 open alerts: %s", visible(r.Raw))
		}
		r = bob.Send("GET", "/alerts", "", nil)
		want(t, r, http.StatusOK)
		if !strings.Contains(visible(r.Raw), "No alerts") || strings.Contains(r.Raw, "alpha") {
			t.Errorf("bob's alerts page: %s", visible(r.Raw))
		}
		r = alice.Send("GET", "/alerts?agentId="+a2, "", nil)
		if v := visible(r.Raw); !strings.Contains(v, "1 alert") || !strings.Contains(v, "beta&#34; is offline") || strings.Contains(v, "alpha&#34; is offline") {
			t.Errorf("alerts of agent beta: %s", v)
		}
		r = alice.Send("GET", "/alerts?type=failure&configId="+cfg.ID, "", nil)
		if v := visible(r.Raw); !strings.Contains(v, "1 alert") || !strings.Contains(v, "docs") {
			t.Errorf("failure alerts of docs: %s", v)
		}
		r = alice.Send("GET", "/alerts?state=bogus", "", nil)
		want(t, r, http.StatusBadRequest)
		if !strings.Contains(visible(r.Raw), "state must be open, acknowledged or resolved") {
			t.Errorf("bad state filter: %s", visible(r.Raw))
		}

		list, _ := alertsOf(alice, "?state=open")
		form := url.Values{"csrf_token": {alice.CSRF}}
		for _, a := range list[:2] {
			form.Add("id", a["id"].(string))
		}
		// Bob posting alice's ids acknowledges nothing.
		r = bob.Send("POST", "/alerts/acknowledge", "application/x-www-form-urlencoded",
			url.Values{"csrf_token": {bob.CSRF}, "id": form["id"]}.Encode())
		want(t, r, http.StatusSeeOther)
		if _, open := alertsOf(alice, ""); open != 3 {
			t.Fatalf("open after bob's acknowledge = %d, want 3", open)
		}
		r = alice.Send("POST", "/alerts/acknowledge", "application/x-www-form-urlencoded", form.Encode())
		want(t, r, http.StatusSeeOther)
		r = alice.Send("GET", "/alerts?state=acknowledged", "", nil)
		if v := visible(r.Raw); !strings.Contains(v, "Acknowledged 2 alerts") || !strings.Contains(v, "2 alerts") {
			t.Errorf("after acknowledging two: %s", v)
		}
		if !strings.Contains(r.Raw, `data-alert-count="1"`) {
			t.Errorf("navigation count after acknowledging two is not 1")
		}
	})
}

// TestDestinationAlert: a saved S3 destination whose key is wrong fails its
// connection test against the real S3 server and raises an alert naming it and the
// cause; once the key is fixed, the next test resolves it.
func TestDestinationAlert(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		s3cfg := s3test.NewConfig(t)
		e := start(t, db)
		alice := e.Client()
		alice.Register("alice@example.com")
		settings := func(secret string) map[string]any {
			return map[string]any{"name": "offsite", "endpoint": s3cfg.Endpoint, "region": s3cfg.Region, "bucket": s3cfg.Bucket,
				"pathStyle": true, "accessKeyId": s3cfg.AccessKey, "secretAccessKey": secret}
		}
		r := alice.JSON("POST", "/api/destinations", settings(s3cfg.SecretKey+"wrong"))
		want(t, r, http.StatusCreated)
		id, _ := r.Body["id"].(string)
		r = alice.JSON("POST", "/api/s3/test-connection", map[string]any{"destinationId": id})
		want(t, r, http.StatusOK)
		if r.Body["ok"] != false {
			t.Fatalf("test with a wrong key = %s, want a failure", r.Raw)
		}
		list, open := alertsOf(alice, "?state=open")
		if open != 1 || len(list) != 1 || list[0]["rule"] != "destination" ||
			!strings.Contains(list[0]["message"].(string), `"offsite"`) || !strings.Contains(list[0]["message"].(string), "credentials") {
			t.Fatalf("alerts after the failed test = %v, want one destination alert naming offsite and the credentials", list)
		}
		// Testing again with the same failure counts nothing new.
		want(t, alice.JSON("POST", "/api/s3/test-connection", map[string]any{"destinationId": id}), http.StatusOK)
		if list, _ := alertsOf(alice, ""); len(list) != 1 || list[0]["count"] != float64(1) {
			t.Errorf("alerts after the same failure again = %v, want one, count 1", list)
		}
		want(t, alice.JSON("PUT", "/api/destinations/"+id, settings(s3cfg.SecretKey)), http.StatusOK)
		r = alice.JSON("POST", "/api/s3/test-connection", map[string]any{"destinationId": id})
		if r.Body["ok"] != true {
			t.Fatalf("test with the right key = %s", r.Raw)
		}
		if list, open := alertsOf(alice, "?state=resolved"); open != 0 || len(list) != 1 || !strings.Contains(list[0]["resolution"].(string), "passed") {
			t.Errorf("after the fixed test: resolved %v, open %d; want it resolved", list, open)
		}
	})
}

// TestRetentionAlert: retention whose deletes S3 refuses (through the fault proxy)
// raises a warning naming the config and the refusal; the next pass that can
// delete resolves it.
func TestRetentionAlert(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		s3cfg := s3test.NewConfig(t)
		proxy := faultproxy.Start(t, s3cfg.Endpoint, faultproxy.Config{})
		clock := newSchedClock(time.Date(2026, 7, 20, 12, 0, 0, 0, time.UTC))
		e := startRuns(t, db, clock, false)
		ctx := context.Background()
		c := e.Client()
		uid := registerID(t, c, "keep@example.com")
		agentID, _, _ := c.CreateAgent("box")
		r := c.JSON("POST", "/api/destinations", map[string]any{"name": "bucket", "endpoint": proxy.URL(),
			"region": s3cfg.Region, "bucket": s3cfg.Bucket, "pathStyle": true,
			"accessKeyId": s3cfg.AccessKey, "secretAccessKey": s3cfg.SecretKey})
		want(t, r, http.StatusCreated)
		destID, _ := r.Body["id"].(string)
		dest, err := e.App.Destinations.Resolve(ctx, uid, destID)
		if err != nil {
			t.Fatal(err)
		}
		cfg := e.MkScheduled(uid, agentID, "documents", "", `{"type":"full","keepLast":1}`)
		cfg.Destination = json.RawMessage(`{"destinationId":"` + destID + `"}`)
		if err := e.App.Store.UpdateConfig(ctx, &cfg); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			at := clock.Now().AddDate(0, 0, i-3)
			end := at.Add(time.Minute)
			run := store.Run{ConfigID: cfg.ID, UserID: uid, AgentID: agentID, StartTime: at, EndTime: &end, Status: "completed",
				Full: true, DestinationID: destID}
			run.S3Path = storage.ArchiveKey(uid, agentID, cfg.ID, at, storage.CompressionZstd, false)
			if err := dest.Put(ctx, run.S3Path, strings.NewReader("x"), 1); err != nil {
				t.Fatal(err)
			}
			if err := e.App.Store.CreateRun(ctx, &run); err != nil {
				t.Fatal(err)
			}
		}
		if err := proxy.SetRules(faultproxy.Rule{Match: faultproxy.Methods(http.MethodDelete),
			Fault: faultproxy.Respond{Status: http.StatusForbidden, Code: "AccessDenied", Message: "no deletes for you"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.App.Runs.Retain(ctx); err == nil {
			t.Fatal("Retain with refused deletes returned no error")
		}
		list, open := alertsOf(c, "?state=open")
		if open != 1 || len(list) != 1 || list[0]["rule"] != "retention" || list[0]["type"] != "warning" ||
			list[0]["configId"] != cfg.ID || !strings.Contains(list[0]["message"].(string), `"documents"`) {
			t.Fatalf("alerts after the refused retention = %v, want one retention warning for documents", list)
		}
		if err := proxy.SetRules(); err != nil {
			t.Fatal(err)
		}
		if _, err := e.App.Runs.Retain(ctx); err != nil {
			t.Fatalf("Retain: %v", err)
		}
		if list, open := alertsOf(c, "?state=resolved"); open != 0 || len(list) != 1 || list[0]["rule"] != "retention" {
			t.Errorf("after a pass that could delete: resolved %v, open %d", list, open)
		}
	})
}

// TestAlertAfterHoursOption: a configuration's own no-backup threshold is saved with
// it, and one out of range is refused naming the field.
func TestAlertAfterHoursOption(t *testing.T) {
	e := start(t, "")
	c := e.Client()
	c.Register("owner@example.com")
	agentID, _, _ := c.CreateAgent("box")
	body := func(hours int) map[string]any {
		return map[string]any{"name": "docs", "enabled": true, "executionMode": "agent", "agentId": agentID,
			"sources": []map[string]any{{"path": "/srv"}}, "destination": map[string]any{"destinationId": ""},
			"options": map[string]any{"type": "full", "compression": "gzip", "alertAfterHours": hours}}
	}
	r := c.JSON("POST", "/api/configs", body(100000))
	want(t, r, http.StatusBadRequest)
	if !strings.Contains(r.Raw, "options.alertAfterHours") {
		t.Errorf("out-of-range alertAfterHours refused without naming it: %s", r.Raw)
	}
	r = c.JSON("POST", "/api/configs", body(26))
	want(t, r, http.StatusCreated)
	id, _ := r.Body["id"].(string)
	r = c.JSON("GET", "/api/configs/"+id, nil)
	if !strings.Contains(r.Raw, `"alertAfterHours":26`) {
		t.Errorf("saved config = %s, want alertAfterHours 26", r.Raw)
	}
}
