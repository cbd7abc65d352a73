package server_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReports: GET /api/reports and /reports answer CSV (parsed back with
// encoding/csv, a hostile name round-tripping neutralised), JSON and PDF (read by
// poppler's pdftotext) with the numbers of runs the test stored, only the user's
// own, and refuse bad input precisely.
func TestReports(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
		e := startRuns(t, db, newSchedClock(now), false)
		admin := e.Client()
		adminID := registerID(t, admin, "ada@example.com")
		bob := e.Client()
		bobID := registerID(t, bob, "bob@example.com")
		agentID, _, _ := bob.CreateAgent("box")
		adminAgent, _, _ := admin.CreateAgent("adminbox")
		const hostile = "=HYPERLINK(\"x\"), \"quoted\"\nsecond line"
		evil := e.MkScheduled(bobID, agentID, hostile, "", `{}`)
		plain := e.MkScheduled(bobID, agentID, "plain", "", `{}`)
		adminCfg := e.MkScheduled(adminID, adminAgent, "admin-cfg", "", `{}`)
		day := 24 * time.Hour
		e.AddRun(evil, "completed", now.Add(-3*day), 2*time.Minute, "d", 1000, 24)
		failed := e.AddRun(evil, "failed", now.Add(-2*day), time.Minute, "d", 0, 0)
		failed.Errors = json.RawMessage(`{"message":"-disk full"}`)
		if err := e.App.Store.UpdateRun(t.Context(), &failed); err != nil {
			t.Fatal(err)
		}
		e.AddRun(plain, "completed", now.Add(-time.Hour), 4*time.Minute, "d", 3000, 72)
		e.AddRun(plain, "completed", now.Add(-40*day), time.Minute, "d", 1, 1) // outside 30d
		e.AddRun(adminCfg, "completed", now.Add(-time.Hour), time.Minute, "d", 5, 5)

		// CSV.
		r := bob.Send("GET", "/api/reports?period=30d&format=csv", "", nil)
		want(t, r, http.StatusOK)
		if cd := r.Header.Get("Content-Disposition"); !strings.Contains(cd, `filename="backapp-report-30d-2026-06-10.csv"`) {
			t.Errorf("Content-Disposition %q", cd)
		}
		recs, err := csv.NewReader(strings.NewReader(r.Raw)).ReadAll()
		if err != nil {
			t.Fatalf("the CSV does not parse: %v\n%s", err, r.Raw)
		}
		if len(recs) != 4 {
			t.Fatalf("%d CSV records, want a header and 3 runs:\n%s", len(recs), r.Raw)
		}
		if recs[1][1] != "'"+hostile || recs[1][3] != "completed" || recs[1][6] != "120.000" || recs[1][9] != "1024" {
			t.Errorf("first run's row: %q", recs[1])
		}
		if recs[2][10] != "'-disk full" || recs[2][3] != "failed" {
			t.Errorf("failed run's row: %q (want its error neutralised)", recs[2])
		}
		if strings.Contains(r.Raw, "admin-cfg") {
			t.Error("bob's report holds the administrator's run")
		}
		r = bob.Send("GET", "/api/reports?period=30d&format=csv&status=completed&configId="+plain.ID, "", nil)
		want(t, r, http.StatusOK)
		if recs, _ := csv.NewReader(strings.NewReader(r.Raw)).ReadAll(); len(recs) != 2 || recs[1][1] != "plain" {
			t.Errorf("filtered CSV: %q", recs)
		}

		// JSON.
		r = bob.JSON("GET", "/api/reports?from=2026-05-01&to=2026-06-10&format=json", nil)
		want(t, r, http.StatusOK)
		sum, _ := r.Body["summary"].(map[string]any)
		if sum["runs"] != 4.0 || sum["completed"] != 3.0 || sum["failed"] != 1.0 || sum["successRate"] != 75.0 || sum["bytesAdded"] != 1024.0+3072+2 {
			t.Errorf("JSON summary: %v", sum)
		}
		if runs, _ := r.Body["runs"].([]any); len(runs) != 4 {
			t.Errorf("JSON runs: %d, want 4", len(runs))
		}
		if cd := r.Header.Get("Content-Disposition"); !strings.Contains(cd, "backapp-report-2026-05-01_2026-06-10.json") {
			t.Errorf("Content-Disposition %q", cd)
		}

		// PDF, read by a real reader.
		r = bob.Send("GET", "/api/reports?period=7d&format=pdf", "", nil)
		want(t, r, http.StatusOK)
		if !strings.HasPrefix(r.Raw, "%PDF-") || r.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("not a PDF: %q…", r.Raw[:min(len(r.Raw), 20)])
		}
		pdf := filepath.Join(t.TempDir(), "r.pdf")
		if err := os.WriteFile(pdf, []byte(r.Raw), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("pdftotext", "-layout", pdf, "-").Output()
		if err != nil {
			t.Fatalf("pdftotext (make tools installs poppler-utils): %v", err)
		}
		text := string(out)
		for _, m := range []string{"Backup report", "plain", "HYPERLINK", "Success rate", "66.7 %", "50.0 %", "100.0 %", "-disk full", "1.0 KiB", "3.0 KiB", "4m0s"} {
			if !strings.Contains(text, m) {
				t.Errorf("the PDF's text lacks %q:\n%s", m, text)
			}
		}
		if strings.Contains(text, "admin-cfg") {
			t.Error("bob's PDF holds the administrator's configuration")
		}

		// An administrator may report on one user, or everyone.
		r = admin.Send("GET", "/api/reports?period=30d&userId="+bobID, "", nil)
		want(t, r, http.StatusOK)
		if recs, _ := csv.NewReader(strings.NewReader(r.Raw)).ReadAll(); len(recs) != 4 {
			t.Errorf("admin's report on bob: %d records, want 4", len(recs))
		}

		r = admin.Send("GET", "/api/reports?period=30d&format=json&user="+bobID, "", nil)
		want(t, r, http.StatusOK)
		if strings.Contains(r.Raw, "admin-cfg") || !strings.Contains(r.Raw, "plain") {
			t.Errorf("admin's JSON report on bob (user=): %s", r.Raw)
		}

		// Bad input.
		for _, tc := range []struct {
			c      *client
			path   string
			status int
			msg    string
		}{
			{bob, "/api/reports?format=xml", http.StatusBadRequest, "use csv, json or pdf"},
			{bob, "/api/reports?period=1y", http.StatusBadRequest, "use 24h, 7d, 30d or 90d"},
			{bob, "/api/reports?from=2026-06-10&to=2026-06-01", http.StatusBadRequest, "must not be before"},
			{bob, "/api/reports?from=yesterday", http.StatusBadRequest, "YYYY-MM-DD"},
			{bob, "/api/reports?period=7d&from=2026-06-01", http.StatusBadRequest, "not both"},
			{bob, "/api/reports?status=exploded", http.StatusBadRequest, "unknown status"},
			{bob, "/api/reports?configId=" + adminCfg.ID, http.StatusNotFound, "no configuration"},
			{bob, "/api/reports?agentId=" + adminAgent, http.StatusNotFound, "no agent"},
			{bob, "/api/reports?userId=" + adminID, http.StatusNotFound, "no user"},
			{bob, "/api/reports?user=" + adminID, http.StatusNotFound, "no user"},
			{bob, "/api/reports?user=" + adminID + "&configId=" + adminCfg.ID, http.StatusNotFound, "no user"},
			{admin, "/api/reports?userId=nobody", http.StatusNotFound, "no user"},
		} {
			r := tc.c.JSON("GET", tc.path, nil)
			if r.Status != tc.status && !(tc.status == http.StatusBadRequest && r.Status == http.StatusUnprocessableEntity) {
				t.Errorf("GET %s: status %d, want %d (%s)", tc.path, r.Status, tc.status, r.Raw)
			}
			if !strings.Contains(r.Raw, tc.msg) {
				t.Errorf("GET %s: %s, want it to say %q", tc.path, r.Raw, tc.msg)
			}
			if strings.Contains(r.Raw, "admin-cfg") {
				t.Errorf("GET %s leaks the administrator's configuration", tc.path)
			}
		}

		// The page: a form, its download, and what to fix.
		page := bob.Page("/reports", http.StatusOK)
		shows(t, "the reports page", page, true, `name="period"`, `value="csv"`, ">plain<")
		shows(t, "the reports page", page, false, "admin-cfg")
		r = bob.Send("GET", "/reports?download=1&period=30d&format=csv", "", nil)
		want(t, r, http.StatusOK)
		if !strings.HasPrefix(r.Raw, "run_id,configuration") {
			t.Errorf("download from the page: %q", r.Raw[:min(len(r.Raw), 40)])
		}
		// Administrators pick a user on the page; others have no picker, and naming
		// another user, or their configuration or agent, is a 404 that shows nothing
		// of theirs.
		shows(t, "bob's reports page", page, false, `name="user"`, "ada@example.com")
		adminPage := admin.Page("/reports", http.StatusOK)
		shows(t, "the administrator's reports page", adminPage, true, `name="user"`, "All users", `value="`+bobID+`"`, "bob@example.com")
		r = admin.Send("GET", "/reports?download=1&period=30d&format=csv&user="+bobID, "", nil)
		want(t, r, http.StatusOK)
		if recs, _ := csv.NewReader(strings.NewReader(r.Raw)).ReadAll(); len(recs) != 4 || strings.Contains(r.Raw, "admin-cfg") {
			t.Errorf("admin's report on bob from the page: %d records, want 4:\n%s", len(recs), r.Raw)
		}
		for _, q := range []string{"user=" + adminID, "config=" + adminCfg.ID, "agent=" + adminAgent} {
			r = bob.Send("GET", "/reports?download=1&period=30d&format=csv&"+q, "", nil)
			if r.Status != http.StatusNotFound || strings.Contains(r.Raw, "admin-cfg") || strings.Contains(r.Raw, "ada@example.com") {
				t.Errorf("bob's page download with %s: %d, want 404 without the administrator's data:\n%s", q, r.Status, r.Raw)
			}
		}
		r = bob.Send("GET", "/reports?download=1&period=30d&format=xml", "", nil)
		if r.Status != http.StatusBadRequest && r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Raw, "use csv, json or pdf") || !strings.Contains(r.Raw, "<form") {
			t.Errorf("bad format on the page: %d, want the form with the error", r.Status)
		}
	})
}
