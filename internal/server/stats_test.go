package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMetrics: GET /api/metrics, GET /api/storage/usage and the dashboard count
// runs the test stored with known sizes and outcomes, each user only their own
// (an administrator everyone's with scope=all), and refuse bad input precisely.
func TestMetrics(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
		e := startRuns(t, db, newSchedClock(now), false)
		admin := e.Client()
		adminID := registerID(t, admin, "ada@example.com")
		bob := e.Client()
		bobID := registerID(t, bob, "bob@example.com")
		agentID, _, _ := bob.CreateAgent("box")
		adminAgent, _, _ := admin.CreateAgent("adminbox")
		// Daily at 02:00 Berlin (CEST, UTC+2): next slot 2026-06-11 00:00 UTC.
		home := e.MkScheduled(bobID, agentID, "home, \"quoted\"", "0 2 * * *", `{}`)
		work := e.MkScheduled(bobID, agentID, "work", "", `{}`)
		e.MkScheduled(bobID, agentID, "never-ran", "", `{}`)
		adminCfg := e.MkScheduled(adminID, adminAgent, "admin-cfg", "", `{}`)

		day := 24 * time.Hour
		e.AddRun(home, "completed", now.Add(-100*day), time.Minute, "d1", 999, 1)   // outside 90d: storage only
		e.AddRun(home, "completed", now.Add(-2*day), 2*time.Minute, "d1", 1000, 10) // day -2
		e.AddRun(home, "failed", now.Add(-2*day+time.Hour), time.Minute, "d1", 0, 0)
		e.AddRun(work, "completed", now.Add(-3*time.Hour), 4*time.Minute, "d2", 5000, 50) // today
		e.AddRun(work, "failed", now.Add(-2*time.Hour), time.Minute, "d2", 0, 0)
		e.AddRun(work, "running", now.Add(-time.Hour), 0, "", 0, 0)
		e.AddRun(adminCfg, "completed", now.Add(-time.Hour), time.Minute, "d9", 77777, 0)

		// The history as the server records it each day (Serve records hourly).
		if err := e.App.Store.RecordStorageDay(t.Context(), now.Add(-day)); err != nil {
			t.Fatal(err)
		}

		r := bob.JSON("GET", "/api/metrics?period=30d", nil)
		want(t, r, http.StatusOK)
		num := func(k string) float64 { v, _ := r.Body[k].(float64); return v }
		for k, v := range map[string]float64{
			"totalBackups": 5, "completed": 2, "failed": 2, "running": 1, "backupsLast24h": 3,
			"successRate": 50, "averageDuration": 3 * 60 * 1000, "totalStorageUsed": 999 + 1 + 1000 + 10 + 5000 + 50, "totalObjects": 6,
		} {
			if got := num(k); got != v {
				t.Errorf("bob's %s = %v, want %v", k, got, v)
			}
		}
		days, _ := r.Body["days"].([]any)
		if len(days) != 31 {
			t.Fatalf("30d has %d days, want 31 (partial first and last)", len(days))
		}
		last := days[30].(map[string]any)
		if last["date"] != "2026-06-10" || last["completed"] != 1.0 || last["failed"] != 1.0 || last["bytesAdded"] != 5050.0 {
			t.Errorf("today's series: %v", last)
		}
		if y, d0 := days[29].(map[string]any), days[0].(map[string]any); y["storageUsed"] != 7060.0 || d0["storageUsed"] != -1.0 {
			t.Errorf("storage history: yesterday %v, 30 days ago %v; want 7060 and -1 (not recorded)", y["storageUsed"], d0["storageUsed"])
		}
		twoAgo := days[28].(map[string]any)
		if twoAgo["date"] != "2026-06-08" || twoAgo["completed"] != 1.0 || twoAgo["averageDuration"] != 120000.0 {
			t.Errorf("2026-06-08's series: %v", twoAgo)
		}
		up, _ := r.Body["upcomingBackups"].([]any)
		if len(up) != 1 || up[0].(map[string]any)["at"] != "2026-06-11T00:00:00Z" || up[0].(map[string]any)["timezone"] != "Europe/Berlin" {
			t.Errorf("upcoming backups: %v, want home at 2026-06-11T00:00:00Z (02:00 in Berlin)", up)
		}
		if r.Body["lastBackupDate"] != now.Add(-3*time.Hour+4*time.Minute).Format(time.RFC3339) {
			t.Errorf("lastBackupDate %v", r.Body["lastBackupDate"])
		}

		r = bob.JSON("GET", "/api/metrics?period=24h", nil)
		want(t, r, http.StatusOK)
		if got := r.Body["totalBackups"]; got != 3.0 {
			t.Errorf("24h totalBackups = %v, want 3", got)
		}

		// Administrators: their own by default, everyone's with scope=all.
		r = admin.JSON("GET", "/api/metrics", nil)
		want(t, r, http.StatusOK)
		if r.Body["totalBackups"] != 1.0 || r.Body["totalStorageUsed"] != 77777.0 {
			t.Errorf("admin's own metrics: %v backups, %v bytes", r.Body["totalBackups"], r.Body["totalStorageUsed"])
		}
		r = admin.JSON("GET", "/api/metrics?scope=all&period=90d", nil)
		want(t, r, http.StatusOK)
		if r.Body["totalBackups"] != 6.0 {
			t.Errorf("everyone's 90d totalBackups = %v, want 6", r.Body["totalBackups"])
		}

		// Storage usage per destination, configuration and agent.
		r = bob.JSON("GET", "/api/storage/usage", nil)
		want(t, r, http.StatusOK)
		if r.Body["bytes"] != 7060.0 || r.Body["objects"] != 6.0 {
			t.Errorf("bob's usage: %v bytes, %v objects", r.Body["bytes"], r.Body["objects"])
		}
		per := func(k string) map[string]float64 {
			out := map[string]float64{}
			for _, x := range r.Body[k].([]any) {
				m := x.(map[string]any)
				out[m["id"].(string)] = m["bytes"].(float64)
			}
			return out
		}
		if got := per("perDestination"); fmt.Sprint(got) != fmt.Sprint(map[string]float64{"d1": 2010, "d2": 5050}) {
			t.Errorf("per destination: %v", got)
		}
		if got := per("perConfig"); got[home.ID] != 2010 || got[work.ID] != 5050 || len(got) != 2 {
			t.Errorf("per config: %v", got)
		}
		if got := per("perAgent"); got[agentID] != 7060 || len(got) != 1 {
			t.Errorf("per agent: %v", got)
		}
		if h, _ := r.Body["history"].([]any); len(h) != 1 || h[0].(map[string]any)["date"] != "2026-06-09" || h[0].(map[string]any)["bytes"] != 7060.0 {
			t.Errorf("usage history: %v", r.Body["history"])
		}

		// Bad input.
		for _, tc := range []struct {
			c      *client
			path   string
			status int
			msg    string
		}{
			{bob, "/api/metrics?period=1y", http.StatusBadRequest, "use 24h, 7d, 30d or 90d"},
			{bob, "/api/metrics?scope=all", http.StatusForbidden, "for administrators"},
			{bob, "/api/storage/usage?scope=all", http.StatusForbidden, "for administrators"},
			{admin, "/api/metrics?scope=everyone", http.StatusBadRequest, "use mine or all"},
			{e.Client(), "/api/metrics", http.StatusUnauthorized, "sign in"},
		} {
			r := tc.c.JSON("GET", tc.path, nil)
			if r.Status != tc.status && !(tc.status == http.StatusBadRequest && r.Status == http.StatusUnprocessableEntity) {
				t.Errorf("GET %s: status %d, want %d (%s)", tc.path, r.Status, tc.status, r.Raw)
			}
			if !strings.Contains(r.Raw, tc.msg) {
				t.Errorf("GET %s: %s, want it to say %q", tc.path, r.Raw, tc.msg)
			}
		}

		// The dashboard shows the same numbers, the stale configurations first.
		page := bob.Page("/dashboard", http.StatusOK)
		for _, m := range []string{`id="m-success">50.0 %`, `id="m-24h">3<`, `id="m-failing">1<`, `id="m-storage">6.9 KiB`, `id="m-agents">0 / 1`,
			"home, &#34;quoted&#34;", "Never backed up", "2026-06-11T00:00:00Z", "Thu 11 Jun 02:00 CEST"} {
			if !strings.Contains(page, m) {
				t.Errorf("dashboard lacks %q", m)
			}
		}
		if strings.Contains(page, "admin-cfg") || strings.Contains(page, "scope=all") {
			t.Error("bob's dashboard shows the administrator's configuration or the scope switch")
		}
		prot := page[strings.Index(page, `id="dash-protection"`):]
		if i, j := strings.Index(prot, "never-ran"), strings.Index(prot, ">work<"); i < 0 || j < 0 || i > j {
			t.Errorf("protection table: never-ran (at %d) should come before work (at %d)", i, j)
		}
		page = admin.Page("/dashboard?scope=all", http.StatusOK)
		shows(t, "the administrator's all-users dashboard", page, true, "admin-cfg", "never-ran", "Show only mine")
		page = admin.Page("/dashboard", http.StatusOK)
		shows(t, "the administrator's own dashboard", page, false, "never-ran")
		bob.Page("/dashboard?scope=all", http.StatusForbidden)
	})
}
