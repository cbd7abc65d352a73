package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/backapp/backapp/internal/store"
)

// TestRestoreSubsetToAnotherAgent: agent A backs up (full, then incremental); the
// user browses the incremental's files, selects a subset through the API and another
// through the restore page's form, and agent B's real daemon restores both into its
// directories: exactly the selected files, byte for byte. A single file downloads
// through the browser with the bytes backed up.
func TestRestoreSubsetToAnotherAgent(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startRestoreEnv(t, db)
		a := e.Alice

		// Browse: the source's directory lists a level at a time.
		r := a.JSON("GET", "/api/backups/"+e.Run2+"/files?dir="+url.QueryEscape(e.Abs("docs")), nil)
		want(t, r, http.StatusOK)
		var names []string
		for _, x := range r.Body["entries"].([]any) {
			m := x.(map[string]any)
			names = append(names, m["name"].(string)+":"+m["type"].(string))
		}
		if got, wantNames := strings.Join(names, " "), "sub:dir a.txt:file b.bin:file"; got != wantNames {
			t.Errorf("listing of docs: %s, want %s", got, wantNames)
		}
		r = a.JSON("GET", "/api/backups/"+e.Run2+"/files?q=DEEP", nil)
		want(t, r, http.StatusOK)
		if es := r.Body["entries"].([]any); len(es) != 2 { // the directory and the file in it
			t.Errorf("search for DEEP: %s", r.Raw)
		}
		// From / the directories down to the source are listed too.
		r = a.JSON("GET", "/api/backups/"+e.Run2+"/files", nil)
		want(t, r, http.StatusOK)
		if es := r.Body["entries"].([]any); len(es) != 1 || es[0].(map[string]any)["type"] != "dir" {
			t.Errorf("listing of /: %s", r.Raw)
		}

		// A subset through the API.
		targetAPI := t.TempDir()
		r = a.JSON("POST", "/api/restores", map[string]any{"runId": e.Run2, "agentId": e.AgentB, "targetDir": targetAPI,
			"paths": []string{e.Abs("docs/a.txt"), e.Abs("photos"), e.Abs("docs/b.bin")}})
		want(t, r, http.StatusCreated)
		apiID := r.Body["id"].(string)
		if r.Body["status"] != "queued" || r.Body["agentId"] != e.AgentB {
			t.Errorf("new restore: %s", r.Raw)
		}

		// Another through the page: open a directory (the selection rides along),
		// then start.
		targetForm := t.TempDir()
		form := url.Values{"run": {e.Run2}, "dir": {e.Abs("docs")}, "sel": {e.Abs("docs/sub"), e.Abs("new.txt")},
			"open": {e.Abs("docs/sub")}, "agent": {e.AgentB}, "target": {targetForm}, "csrf_token": {a.CSRF}}
		r = a.Send("POST", "/restores/new", "application/x-www-form-urlencoded", form.Encode())
		want(t, r, http.StatusSeeOther)
		loc := r.Header.Get("Location")
		u, _ := url.Parse(loc)
		if q := u.Query(); q.Get("dir") != e.Abs("docs/sub") || len(q["sel"]) != 2 || q.Get("target") != targetForm {
			t.Errorf("opening a directory redirects to %s", loc)
		}
		r = a.Send("GET", loc, "", nil)
		want(t, r, http.StatusOK)
		for _, s := range []string{"deep/", "c.txt", `name="sel" value="` + e.Abs("new.txt") + `"`, `name="sel" value="` + e.Abs("docs/sub") + `"`,
			`checked disabled aria-label="` + e.Abs("docs/sub/c.txt") + ` is restored with ` + e.Abs("docs/sub") + `"`} {
			if !strings.Contains(r.Raw, s) {
				t.Errorf("restore page at %s lacks %q", loc, s)
			}
		}
		form.Del("open")
		form.Set("dir", e.Abs("docs/sub"))
		form.Set("start", "1")
		r = a.Send("POST", "/restores/new", "application/x-www-form-urlencoded", form.Encode())
		want(t, r, http.StatusSeeOther)
		formID := strings.TrimPrefix(r.Header.Get("Location"), "/restores/")
		if formID == "" || strings.Contains(formID, "/") {
			t.Fatalf("start redirects to %q", r.Header.Get("Location"))
		}

		// Agent B's daemon takes both from its heartbeat and restores them.
		e.RunDaemon(t, e.KeyB)
		res := e.WaitRestore(t, a, apiID)
		e.WaitRestore(t, a, formID)
		e.CheckTree(t, targetAPI, "docs/a.txt", "docs/b.bin", "photos/p1.jpg", "photos/p2.jpg")
		e.CheckTree(t, targetForm, "docs/sub/c.txt", "docs/sub/deep/d.md", "new.txt")
		if res["filesWritten"].(float64) < 4 || res["bytesWritten"].(float64) < float64(len(e.Want["photos/p1.jpg"])) {
			t.Errorf("restore result: %v", res)
		}

		// The pages show the outcome.
		r = a.Send("GET", "/restores/"+formID, "", nil)
		want(t, r, http.StatusOK)
		if !strings.Contains(r.Raw, "Completed") || !strings.Contains(r.Raw, `aria-live="polite"`) || !strings.Contains(r.Raw, "bravo") {
			t.Errorf("restore page lacks the outcome: %s", visible(r.Raw))
		}
		r = a.Send("GET", "/restores", "", nil)
		want(t, r, http.StatusOK)
		if strings.Count(r.Raw, "✓") < 2 || !strings.Contains(r.Raw, `href="/restores/`+apiID+`"`) {
			t.Errorf("restores list: %s", visible(r.Raw))
		}

		// A single file through the browser: b.bin's content is in the full
		// backup's archive, which the incremental's manifest points at.
		r = a.Send("GET", "/restores/file?"+url.Values{"run": {e.Run2}, "path": {e.Abs("docs/b.bin")}}.Encode(), "", nil)
		want(t, r, http.StatusOK)
		if !bytes.Equal([]byte(r.Raw), e.Want["docs/b.bin"]) {
			t.Errorf("download of b.bin: %d bytes differ from the %d backed up", len(r.Raw), len(e.Want["docs/b.bin"]))
		}
		if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename=b.bin` {
			t.Errorf("Content-Disposition = %q", cd)
		}
		r = a.Send("GET", "/restores/file?"+url.Values{"run": {e.Run2}, "path": {e.Abs("docs/a.txt")}}.Encode(), "", nil)
		want(t, r, http.StatusOK)
		if r.Raw != string(e.Want["docs/a.txt"]) {
			t.Errorf("download of a.txt from the incremental: %q", r.Raw)
		}
		r = a.Send("GET", "/restores/file?"+url.Values{"run": {e.Run1}, "path": {e.Abs("docs/a.txt")}}.Encode(), "", nil)
		want(t, r, http.StatusOK)
		if r.Raw != "first version of a\n" {
			t.Errorf("download of a.txt from the full backup: %q", r.Raw)
		}
		// A completed run's page leads to its restore.
		r = a.Send("GET", "/backups/"+e.Run2, "", nil)
		want(t, r, http.StatusOK)
		if !strings.Contains(r.Raw, `href="/restores/new?run=`+e.Run2+`"`) {
			t.Errorf("completed run page has no Restore link")
		}
	})
}

// TestRestoreIsolationAndBadInput: another user's backups, agents and restores are
// out of reach; bad input gets a 400 that names the field; an encrypted backup's
// files are not downloadable, and the page says to restore through an agent.
func TestRestoreIsolationAndBadInput(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startRestoreEnv(t, db)
		a := e.Alice
		r := a.JSON("POST", "/api/restores", map[string]any{"runId": e.Run2, "agentId": e.AgentB, "targetDir": "/srv/restore"})
		want(t, r, http.StatusCreated)
		aliceRestore := r.Body["id"].(string)
		if ps := r.Body["paths"].([]any); len(ps) != 0 {
			t.Errorf("restore of everything has paths %v", ps)
		}

		// While queued, its page follows it (script, live region) and offers cancel.
		r = a.Send("GET", "/restores/"+aliceRestore, "", nil)
		want(t, r, http.StatusOK)
		for _, s := range []string{`data-live="restore" data-live-id="` + aliceRestore + `"`, "live.js", "Cancel restore", "Queued", "Everything in the backup"} {
			if !strings.Contains(r.Raw, s) {
				t.Errorf("page of a queued restore lacks %q", s)
			}
		}

		bob := e.Client()
		bob.Register("bob@example.com")
		bobAgent, _, _ := bob.CreateAgent("bobs")
		for _, path := range []string{"/api/restores/" + aliceRestore, "/api/backups/" + e.Run2 + "/files",
			"/restores/" + aliceRestore, "/restores/new?run=" + e.Run2,
			"/restores/file?run=" + e.Run2 + "&path=" + url.QueryEscape(e.Abs("notes.txt"))} {
			if r := bob.Send("GET", path, "", nil); r.Status != http.StatusNotFound {
				t.Errorf("bob GET %s: status %d, want 404", path, r.Status)
			}
		}
		if r := bob.JSON("POST", "/api/restores/"+aliceRestore+"/cancel", nil); r.Status != http.StatusNotFound {
			t.Errorf("bob cancels alice's restore: status %d, want 404", r.Status)
		}
		r = bob.JSON("POST", "/api/restores", map[string]any{"runId": e.Run2, "agentId": bobAgent, "targetDir": "/tmp/x"})
		want(t, r, http.StatusNotFound)
		r = bob.JSON("GET", "/api/restores", nil)
		want(t, r, http.StatusOK)
		if rs := r.Body["restores"].([]any); len(rs) != 0 {
			t.Errorf("bob lists alice's restores: %s", r.Raw)
		}

		// The list sorts in the store by sort and dir, newest first by default.
		older := store.Restore{UserID: userID(t, a), RunID: e.Run2, AgentID: e.AgentB, TargetDir: "/a", Status: store.RestoreCompleted,
			CreatedAt: time.Now().UTC().Add(-time.Hour)}
		if err := e.App.Store.CreateRestore(context.Background(), &older); err != nil {
			t.Fatal(err)
		}
		ids := func(path, list string) []string {
			t.Helper()
			r := a.JSON("GET", path, nil)
			want(t, r, http.StatusOK)
			var out []string
			for _, x := range r.Body[list].([]any) {
				out = append(out, x.(map[string]any)["id"].(string))
			}
			return out
		}
		for q, order := range map[string][]string{
			"": {aliceRestore, older.ID}, "?sort=created&dir=asc": {older.ID, aliceRestore}, "?sort=bogus": {aliceRestore, older.ID},
			"?sort=target&dir=asc": {older.ID, aliceRestore}, "?sort=target": {aliceRestore, older.ID},
			"?sort=status&dir=asc": {older.ID, aliceRestore}, "?sort=status&dir=asc&limit=1&offset=1": {aliceRestore},
		} {
			if got := ids("/api/restores"+q, "restores"); !slices.Equal(got, order) {
				t.Errorf("GET /api/restores%s: %q, want %q", q, got, order)
			}
		}
		// Alerts likewise, by the last occurrence by default.
		var twice, once store.Alert
		for i, at := range []time.Duration{-3 * time.Hour, -2 * time.Hour} {
			twice = store.Alert{UserID: userID(t, a), Type: "failure", Rule: "twice", Subject: "s", Ref: fmt.Sprint(i), Message: "m",
				Timestamp: time.Now().UTC().Add(at)}
			if _, err := e.App.Store.RaiseAlert(context.Background(), &twice); err != nil {
				t.Fatal(err)
			}
		}
		once = store.Alert{UserID: userID(t, a), Type: "warning", Rule: "once", Subject: "s", Ref: "r", Message: "m",
			Timestamp: time.Now().UTC().Add(-time.Hour)}
		if _, err := e.App.Store.RaiseAlert(context.Background(), &once); err != nil {
			t.Fatal(err)
		}
		for q, order := range map[string][]string{
			"": {once.ID, twice.ID}, "?sort=last&dir=asc": {twice.ID, once.ID}, "?sort=count": {twice.ID, once.ID},
			"?sort=count&dir=asc": {once.ID, twice.ID}, "?sort=type&dir=desc": {once.ID, twice.ID}, "?sort=type&dir=asc&offset=1": {once.ID},
		} {
			if got := ids("/api/alerts"+q, "alerts"); !slices.Equal(got, order) {
				t.Errorf("GET /api/alerts%s: %q, want %q", q, got, order)
			}
		}
		for _, path := range []string{"/api/restores?dir=up", "/api/alerts?sort=count&dir=up"} {
			if r := a.JSON("GET", path, nil); r.Status != http.StatusBadRequest || fields(r)["dir"] == nil {
				t.Errorf("GET %s: status %d, %s; want 400 naming dir", path, r.Status, r.Raw)
			}
		}

		// Bad input, each with the field that is wrong.
		failed := store.Run{ConfigID: e.ConfigID, UserID: userID(t, a), AgentID: e.AgentA, StartTime: time.Now().UTC(),
			Status: "failed", Full: true}
		if err := e.App.Store.CreateRun(context.Background(), &failed); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name  string
			body  map[string]any
			field string
			text  string
		}{
			{"relative target", map[string]any{"runId": e.Run2, "agentId": e.AgentB, "targetDir": "restore/here"}, "targetDir", "absolute"},
			{"dotdot target", map[string]any{"runId": e.Run2, "agentId": e.AgentB, "targetDir": "/srv/../etc"}, "targetDir", `".."`},
			{"no target", map[string]any{"runId": e.Run2, "agentId": e.AgentB}, "targetDir", "required"},
			{"unknown agent", map[string]any{"runId": e.Run2, "agentId": "0193aaaa-0000-7000-8000-000000000000", "targetDir": "/t"}, "agentId", "no agent"},
			{"another user's agent", map[string]any{"runId": e.Run2, "agentId": bobAgent, "targetDir": "/t"}, "agentId", "no agent"},
			{"no agent", map[string]any{"runId": e.Run2, "targetDir": "/t"}, "agentId", "choose"},
			{"failed run", map[string]any{"runId": failed.ID, "agentId": e.AgentB, "targetDir": "/t"}, "runId", "is failed; only completed"},
			{"path not in backup", map[string]any{"runId": e.Run2, "agentId": e.AgentB, "targetDir": "/t", "paths": []string{"/etc/passwd"}}, "paths", "not in backup"},
			{"no run", map[string]any{"agentId": e.AgentB, "targetDir": "/t"}, "runId", "required"},
			{"config without time", map[string]any{"configId": e.ConfigID, "agentId": e.AgentB, "targetDir": "/t"}, "pointInTime", "required"},
			{"time before any backup", map[string]any{"configId": e.ConfigID, "pointInTime": "2001-01-01T00:00:00Z", "agentId": e.AgentB, "targetDir": "/t"}, "pointInTime", "no completed backup"},
			{"unknown choice for unportable names", map[string]any{"runId": e.Run2, "agentId": e.AgentB, "targetDir": "/t", "unportableNames": "delete"},
				"unportableNames", `unportableNames must be "rename" (restore names the target cannot hold under an escaped name) or "skip" (leave them out), not "delete"`},
		} {
			r := a.JSON("POST", "/api/restores", tc.body)
			msg := fields(r)[tc.field]
			if r.Status != http.StatusBadRequest || msg == nil || !strings.Contains(msg.(string), tc.text) {
				t.Errorf("%s: status %d, %s; want 400 with %s containing %q", tc.name, r.Status, r.Raw, tc.field, tc.text)
			}
		}
		// The form shows the problems beside the fields and keeps the selection.
		form := url.Values{"run": {e.Run2}, "sel": {e.Abs("notes.txt")}, "agent": {e.AgentB}, "target": {"relative"},
			"unportable": {"skip"}, "start": {"1"}, "csrf_token": {a.CSRF}}
		r = a.Send("POST", "/restores/new", "application/x-www-form-urlencoded", form.Encode())
		want(t, r, http.StatusBadRequest)
		if !strings.Contains(r.Raw, "must be an absolute path") || !strings.Contains(r.Raw, `value="`+e.Abs("notes.txt")+`"`) ||
			!strings.Contains(r.Raw, `<option value="skip" selected>`) {
			t.Errorf("form error page: %s", visible(r.Raw))
		}

		// The page's point in time: the newest completed backup at or before it.
		r = a.Send("GET", "/restores/new", "", nil)
		want(t, r, http.StatusOK)
		if !strings.Contains(r.Raw, `href="/restores/new?run=`+e.Run2+`"`) || !strings.Contains(r.Raw, `name="at"`) {
			t.Errorf("restore start page: %s", visible(r.Raw))
		}
		at := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05")
		r = a.Send("GET", "/restores/new?"+url.Values{"config": {e.ConfigID}, "at": {at}}.Encode(), "", nil)
		want(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); !strings.Contains(loc, "run="+e.Run2) {
			t.Errorf("point in time %s goes to %s, want run %s", at, loc, e.Run2)
		}
		r = a.Send("GET", "/restores/new?"+url.Values{"config": {e.ConfigID}, "at": {"yesterday"}}.Encode(), "", nil)
		want(t, r, http.StatusBadRequest)
		if !strings.Contains(r.Raw, "give a date and time") {
			t.Errorf("bad point in time: %s", visible(r.Raw))
		}
		r = bob.Send("GET", "/restores/new?"+url.Values{"config": {e.ConfigID}, "at": {at}}.Encode(), "", nil)
		want(t, r, http.StatusNotFound)

		// A point in time picks the newest completed backup at or before it.
		r = a.JSON("POST", "/api/restores", map[string]any{"configId": e.ConfigID, "pointInTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			"agentId": e.AgentA, "targetDir": "/srv/pit", "paths": []string{e.Abs("new.txt")}})
		want(t, r, http.StatusCreated)
		if r.Body["runId"] != e.Run2 {
			t.Errorf("point in time picked run %v, want %s", r.Body["runId"], e.Run2)
		}
		// Cancel: a queued restore is cancelled at once; a second cancel conflicts.
		r = a.JSON("POST", "/api/restores/"+r.Body["id"].(string)+"/cancel", nil)
		want(t, r, http.StatusOK)
		if r.Body["status"] != "cancelled" {
			t.Errorf("cancelled restore: %s", r.Raw)
		}
		want(t, a.JSON("POST", "/api/restores/"+r.Body["id"].(string)+"/cancel", nil), http.StatusConflict)

		// An encrypted backup: browsable, but no file leaves through the browser.
		id, _ := age.GenerateX25519Identity()
		body := with(goodConfig(e.AgentA), "name", "Secret", "sources", []map[string]any{{"path": e.Src}}, "destination", map[string]any{"destinationId": e.DestID},
			"options.encryptionMode", "age", "options.recipients", []string{id.Recipient().String()})
		r = a.JSON("POST", "/api/configs", body)
		want(t, r, http.StatusCreated)
		enc := backupRun(t, agentRunner(t, e.Env, e.KeyA), r.Body["id"].(string))
		r = a.JSON("GET", "/api/backups/"+enc+"/files?dir="+url.QueryEscape(e.Abs("docs")), nil)
		want(t, r, http.StatusOK)
		if r.Body["encrypted"] != true || len(r.Body["entries"].([]any)) != 3 {
			t.Errorf("listing of an encrypted backup: %s", r.Raw)
		}
		r = a.Send("GET", "/restores/file?"+url.Values{"run": {enc}, "path": {e.Abs("docs/a.txt")}}.Encode(), "", nil)
		if r.Status != http.StatusConflict || !strings.Contains(r.Raw, "encrypted") || !strings.Contains(r.Raw, "Only an agent can decrypt it") {
			t.Errorf("download from an encrypted backup: status %d, %s", r.Status, visible(r.Raw))
		}
		r = a.Send("GET", "/restores/new?run="+enc+"&dir="+url.QueryEscape(e.Abs("docs")), "", nil)
		want(t, r, http.StatusOK)
		if strings.Contains(r.Raw, "/restores/file?") || !strings.Contains(r.Raw, "This backup is encrypted") {
			t.Errorf("restore page of an encrypted backup offers downloads: %s", visible(r.Raw))
		}

		// A backup without a catalog says so, and can still be restored whole.
		noCat := store.Run{ConfigID: e.ConfigID, UserID: failed.UserID, AgentID: e.AgentA, StartTime: time.Now().UTC(),
			Status: "completed", Full: true}
		if err := e.App.Store.CreateRun(context.Background(), &noCat); err != nil {
			t.Fatal(err)
		}
		r = a.JSON("GET", "/api/backups/"+noCat.ID+"/files", nil)
		if r.Status != http.StatusConflict || !strings.Contains(r.ErrMessage(), "predates catalogs") {
			t.Errorf("listing without a catalog: status %d, %s", r.Status, r.Raw)
		}
		r = a.Send("GET", "/restores/new?run="+noCat.ID, "", nil)
		want(t, r, http.StatusOK)
		if !strings.Contains(r.Raw, "predates catalogs") {
			t.Errorf("restore page without a catalog: %s", visible(r.Raw))
		}
	})
}
