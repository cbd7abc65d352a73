package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// owned is what one user has: names and ids that must show on their own pages and on
// nobody else's (but an administrator's lists).
type owned struct {
	agentID, agentName, configID, configName, runID, restoreID string
}

// markers are the strings that give away o on a page.
func (o owned) markers() []string {
	return []string{o.agentID, o.agentName, o.configID, o.configName, o.runID, o.restoreID}
}

// own makes c an agent, a configuration using it, a completed run of it and a
// restore of that run.
func own(t *testing.T, e *env, c *client, name string) owned {
	t.Helper()
	ctx := context.Background()
	o := owned{agentName: name + "-laptop", configName: name + " home files"}
	o.agentID, _, _ = c.CreateAgent(o.agentName)
	r := c.JSON("POST", "/api/configs", with(goodConfig(o.agentID), "name", o.configName))
	want(t, r, http.StatusCreated)
	o.configID, _ = r.Body["id"].(string)
	uid := userID(t, c)
	start := time.Now().UTC().Add(-time.Hour)
	end := start.Add(time.Minute)
	run := store.Run{ConfigID: o.configID, UserID: uid, AgentID: o.agentID, StartTime: start, EndTime: &end,
		Status: store.RestoreCompleted, Full: true, S3Path: "users/" + uid + "/backup.tar.zst", FilesProcessed: 3}
	if err := e.App.Store.CreateRun(ctx, &run); err != nil {
		t.Fatal(err)
	}
	o.runID = run.ID
	x := store.Restore{UserID: uid, RunID: run.ID, AgentID: o.agentID, TargetDir: "/restore/" + name, CreatedAt: end}
	if err := e.App.Store.CreateRestore(ctx, &x); err != nil {
		t.Fatal(err)
	}
	o.restoreID = x.ID
	return o
}

func shows(t *testing.T, what, body string, wantShown bool, markers ...string) {
	t.Helper()
	for _, m := range markers {
		if got := strings.Contains(body, m); got != wantShown {
			t.Errorf("%s shows %q: %v, want %v", what, m, got, wantShown)
		}
	}
}

// TestPagesShowOnlyYourOwn: on every page that lists or offers configurations,
// agents, backups or restores, a user sees their own and never another user's; an
// administrator sees everyone's lists but is offered, for someone's configuration or
// backup, that user's agents, not their own.
func TestPagesShowOnlyYourOwn(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := start(t, db)
		admin := e.Client()
		admin.Register("admin@example.com")
		ada := e.Client()
		ada.Register("ada@example.com")
		bob := e.Client()
		bob.Register("bob@example.com")
		adminOwn := own(t, e, admin, "root")
		adaOwn := own(t, e, ada, "ada")
		bobOwn := own(t, e, bob, "bob")

		for _, tc := range []struct {
			path          string
			mine, notMine []string // markers of the viewer's own that must show; of ada's that must not
		}{
			{"/configs", []string{bobOwn.configName, bobOwn.agentName}, adaOwn.markers()},
			{"/configs/new", []string{bobOwn.agentID}, adaOwn.markers()},
			{"/configs/" + bobOwn.configID + "/edit", []string{bobOwn.agentID}, adaOwn.markers()},
			{"/agents", []string{bobOwn.agentName}, adaOwn.markers()},
			{"/backups", []string{bobOwn.runID, bobOwn.configName, bobOwn.agentName}, adaOwn.markers()},
			{"/restores", []string{bobOwn.restoreID, bobOwn.agentName}, adaOwn.markers()},
			{"/restores/" + bobOwn.restoreID, []string{bobOwn.agentName}, adaOwn.markers()},
			{"/restores/new", []string{bobOwn.runID, bobOwn.configName, bobOwn.agentName}, adaOwn.markers()},
			{"/restores/new?run=" + bobOwn.runID, []string{bobOwn.agentID}, adaOwn.markers()},
		} {
			body := bob.Page(tc.path, http.StatusOK)
			shows(t, "bob's "+tc.path, body, true, tc.mine...)
			shows(t, "bob's "+tc.path, body, false, tc.notMine...)
			shows(t, "bob's "+tc.path, body, false, adminOwn.markers()...)
		}
		for _, path := range []string{"/configs/" + adaOwn.configID + "/edit", "/agents/" + adaOwn.agentID,
			"/backups/" + adaOwn.runID, "/restores/" + adaOwn.restoreID, "/restores/new?run=" + adaOwn.runID} {
			// The 404 page may repeat the id asked for, nothing else of ada's.
			body := bob.Page(path, http.StatusNotFound)
			for _, m := range adaOwn.markers() {
				if !strings.Contains(path, m) {
					shows(t, "bob's "+path, body, false, m)
				}
			}
		}

		// Administrators list everyone's configurations, agents and backups…
		for _, path := range []string{"/configs", "/agents", "/backups"} {
			body := admin.Page(path, http.StatusOK)
			shows(t, "the administrator's "+path, body, true, adaOwn.agentName, bobOwn.agentName)
			if path != "/agents" {
				shows(t, "the administrator's "+path, body, true, adaOwn.configName, bobOwn.configName)
			}
		}
		// …but restores and the backups offered to restore from are their own…
		for _, path := range []string{"/restores", "/restores/new"} {
			body := admin.Page(path, http.StatusOK)
			shows(t, "the administrator's "+path, body, true, adminOwn.agentName)
			shows(t, "the administrator's "+path, body, false, adaOwn.runID, bobOwn.runID, adaOwn.restoreID, bobOwn.restoreID)
		}
		// …and someone's configuration or backup offers that user's agents only.
		for _, path := range []string{"/configs/" + bobOwn.configID + "/edit", "/restores/new?run=" + bobOwn.runID} {
			body := admin.Page(path, http.StatusOK)
			shows(t, "the administrator's "+path, body, true, bobOwn.agentID)
			shows(t, "the administrator's "+path, body, false, adaOwn.agentID, adminOwn.agentID)
		}
	})
}
