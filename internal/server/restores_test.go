package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

// restoreEnv is a server, a user with two agents (A backs up, B restores) and a
// source tree that agent A backed up twice (a full backup, then an incremental).
type restoreEnv struct {
	*env
	alice          *client
	agentA, agentB string
	keyA, keyB     string
	src            string
	configID       string
	destID         string // "" is the built-in local destination
	run1, run2     string
	want           map[string][]byte // relative path under src → content at run2
}

func rsAgentRunner(t *testing.T, e *env, key string) *agent.Runner {
	t.Helper()
	c, err := agent.NewClient(agent.ClientOptions{Server: e.Srv.URL, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	st, err := agent.OpenState(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &agent.Runner{Client: c, State: st}
}

func rsRandom(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func rsBackup(t *testing.T, r *agent.Runner, configID string) string {
	t.Helper()
	res, err := r.Backup(context.Background(), agent.BackupRequest{ConfigID: configID})
	if err != nil || res.Status != agentproto.StatusCompleted {
		t.Fatalf("backup of config %s: status %q, err %v", configID, res.Status, err)
	}
	return res.RunID
}

func startRestoreEnv(t *testing.T, db string) *restoreEnv {
	t.Helper()
	e := &restoreEnv{env: start(t, db)}
	e.alice = e.Client()
	e.alice.Register("alice@example.com")
	e.agentA, e.keyA, _ = e.alice.CreateAgent("alpha")
	e.agentB, e.keyB, _ = e.alice.CreateAgent("bravo")
	e.src = t.TempDir()
	e.want = map[string][]byte{
		"docs/a.txt":         []byte("first version of a\n"),
		"docs/b.bin":         rsRandom(300 << 10),
		"docs/sub/c.txt":     []byte("c in a subdirectory\n"),
		"docs/sub/deep/d.md": []byte("# deep\n"),
		"photos/p1.jpg":      rsRandom(1 << 20),
		"photos/p2.jpg":      rsRandom(70 << 10),
		"notes.txt":          []byte("unselected\n"),
	}
	treetest.Write(t, e.src, e.want)
	// SQLite with the built-in local destination; PostgreSQL with the real S3 server.
	destID := ""
	if db != "" {
		s3cfg := s3test.NewConfig(t)
		r := e.alice.JSON("POST", "/api/destinations", map[string]any{"name": "S3", "endpoint": s3cfg.Endpoint,
			"region": s3cfg.Region, "bucket": s3cfg.Bucket, "pathStyle": true,
			"accessKeyId": s3cfg.AccessKey, "secretAccessKey": s3cfg.SecretKey})
		want(t, r, http.StatusCreated)
		destID = r.Body["id"].(string)
	}
	e.destID = destID
	body := with(goodConfig(e.agentA), "sources", []map[string]any{{"path": e.src}}, "destination", map[string]any{"destinationId": destID})
	r := e.alice.JSON("POST", "/api/configs", body)
	want(t, r, http.StatusCreated)
	e.configID = r.Body["id"].(string)

	runner := rsAgentRunner(t, e.env, e.keyA)
	e.run1 = rsBackup(t, runner, e.configID)
	// The incremental changes one file and adds one: b.bin and the photos stay in
	// the full backup's archive, so a restore of run2 needs the whole chain.
	later := map[string][]byte{"docs/a.txt": []byte("second version of a, longer\n"), "new.txt": []byte("added later\n")}
	treetest.Write(t, e.src, later)
	for k, v := range later {
		e.want[k] = v
	}
	e.run2 = rsBackup(t, runner, e.configID)
	return e
}

// abs is the absolute path on the backed-up machine of rel under the source.
func (e *restoreEnv) abs(rel string) string { return filepath.ToSlash(filepath.Join(e.src, rel)) }

// runDaemon runs agent key's daemon (the real heartbeat loop) until the test ends.
func (e *restoreEnv) runDaemon(t *testing.T, key string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &agent.Daemon{Runner: rsAgentRunner(t, e.env, key), Heartbeat: 200 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (e *restoreEnv) waitRestore(t *testing.T, c *client, id string) map[string]any {
	t.Helper()
	var last map[string]any
	testenv.EventuallyWithin(t, 30*time.Second, "restore "+id+" to complete", func() bool {
		r := c.JSON("GET", "/api/restores/"+id, nil)
		want(t, r, http.StatusOK)
		last = r.Body
		switch last["status"] {
		case "failed", "cancelled":
			t.Fatalf("restore %s: %v", id, last)
		}
		return last["status"] == "completed"
	})
	return last
}

// checkTree fails unless dir holds exactly the files wanted (relative to the
// source, restored below dir with their full path), byte for byte.
func (e *restoreEnv) checkTree(t *testing.T, dir string, wanted ...string) {
	t.Helper()
	got := map[string][]byte{}
	base := filepath.Join(dir, e.src)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(base, p)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("restored outside the source's path: %s", p)
			return nil
		}
		b, err := os.ReadFile(p)
		got[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wanted {
		b, ok := got[w]
		switch {
		case !ok:
			t.Errorf("%s: not restored", w)
		case !bytes.Equal(b, e.want[w]):
			t.Errorf("%s: %d bytes restored differ from the %d backed up", w, len(b), len(e.want[w]))
		}
		delete(got, w)
	}
	for p := range got {
		t.Errorf("%s restored but not selected", p)
	}
}

// TestRestoreSubsetToAnotherAgent: agent A backs up (full, then incremental); the
// user browses the incremental's files, selects a subset through the API and another
// through the restore page's form, and agent B's real daemon restores both into its
// directories: exactly the selected files, byte for byte. A single file downloads
// through the browser with the bytes backed up.
func TestRestoreSubsetToAnotherAgent(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startRestoreEnv(t, db)
		a := e.alice

		// Browse: the source's directory lists a level at a time.
		r := a.JSON("GET", "/api/backups/"+e.run2+"/files?dir="+url.QueryEscape(e.abs("docs")), nil)
		want(t, r, http.StatusOK)
		var names []string
		for _, x := range r.Body["entries"].([]any) {
			m := x.(map[string]any)
			names = append(names, m["name"].(string)+":"+m["type"].(string))
		}
		if got, wantNames := strings.Join(names, " "), "sub:dir a.txt:file b.bin:file"; got != wantNames {
			t.Errorf("listing of docs: %s, want %s", got, wantNames)
		}
		r = a.JSON("GET", "/api/backups/"+e.run2+"/files?q=DEEP", nil)
		want(t, r, http.StatusOK)
		if es := r.Body["entries"].([]any); len(es) != 2 { // the directory and the file in it
			t.Errorf("search for DEEP: %s", r.Raw)
		}
		// From / the directories down to the source are listed too.
		r = a.JSON("GET", "/api/backups/"+e.run2+"/files", nil)
		want(t, r, http.StatusOK)
		if es := r.Body["entries"].([]any); len(es) != 1 || es[0].(map[string]any)["type"] != "dir" {
			t.Errorf("listing of /: %s", r.Raw)
		}

		// A subset through the API.
		targetAPI := t.TempDir()
		r = a.JSON("POST", "/api/restores", map[string]any{"runId": e.run2, "agentId": e.agentB, "targetDir": targetAPI,
			"paths": []string{e.abs("docs/a.txt"), e.abs("photos"), e.abs("docs/b.bin")}})
		want(t, r, http.StatusCreated)
		apiID := r.Body["id"].(string)
		if r.Body["status"] != "queued" || r.Body["agentId"] != e.agentB {
			t.Errorf("new restore: %s", r.Raw)
		}

		// Another through the page: open a directory (the selection rides along),
		// then start.
		targetForm := t.TempDir()
		form := url.Values{"run": {e.run2}, "dir": {e.abs("docs")}, "sel": {e.abs("docs/sub"), e.abs("new.txt")},
			"open": {e.abs("docs/sub")}, "agent": {e.agentB}, "target": {targetForm}, "csrf_token": {a.CSRF}}
		r = a.Send("POST", "/restores/new", "application/x-www-form-urlencoded", form.Encode())
		want(t, r, http.StatusSeeOther)
		loc := r.Header.Get("Location")
		u, _ := url.Parse(loc)
		if q := u.Query(); q.Get("dir") != e.abs("docs/sub") || len(q["sel"]) != 2 || q.Get("target") != targetForm {
			t.Errorf("opening a directory redirects to %s", loc)
		}
		r = a.Send("GET", loc, "", nil)
		want(t, r, http.StatusOK)
		for _, s := range []string{"deep/", "c.txt", `name="sel" value="` + e.abs("new.txt") + `"`, `name="sel" value="` + e.abs("docs/sub") + `"`,
			`checked disabled aria-label="` + e.abs("docs/sub/c.txt") + ` is restored with ` + e.abs("docs/sub") + `"`} {
			if !strings.Contains(r.Raw, s) {
				t.Errorf("restore page at %s lacks %q", loc, s)
			}
		}
		form.Del("open")
		form.Set("dir", e.abs("docs/sub"))
		form.Set("start", "1")
		r = a.Send("POST", "/restores/new", "application/x-www-form-urlencoded", form.Encode())
		want(t, r, http.StatusSeeOther)
		formID := strings.TrimPrefix(r.Header.Get("Location"), "/restores/")
		if formID == "" || strings.Contains(formID, "/") {
			t.Fatalf("start redirects to %q", r.Header.Get("Location"))
		}

		// Agent B's daemon takes both from its heartbeat and restores them.
		e.runDaemon(t, e.keyB)
		res := e.waitRestore(t, a, apiID)
		e.waitRestore(t, a, formID)
		e.checkTree(t, targetAPI, "docs/a.txt", "docs/b.bin", "photos/p1.jpg", "photos/p2.jpg")
		e.checkTree(t, targetForm, "docs/sub/c.txt", "docs/sub/deep/d.md", "new.txt")
		if res["filesWritten"].(float64) < 4 || res["bytesWritten"].(float64) < float64(len(e.want["photos/p1.jpg"])) {
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
		r = a.Send("GET", "/restores/file?"+url.Values{"run": {e.run2}, "path": {e.abs("docs/b.bin")}}.Encode(), "", nil)
		want(t, r, http.StatusOK)
		if !bytes.Equal([]byte(r.Raw), e.want["docs/b.bin"]) {
			t.Errorf("download of b.bin: %d bytes differ from the %d backed up", len(r.Raw), len(e.want["docs/b.bin"]))
		}
		if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename=b.bin` {
			t.Errorf("Content-Disposition = %q", cd)
		}
		r = a.Send("GET", "/restores/file?"+url.Values{"run": {e.run2}, "path": {e.abs("docs/a.txt")}}.Encode(), "", nil)
		want(t, r, http.StatusOK)
		if r.Raw != string(e.want["docs/a.txt"]) {
			t.Errorf("download of a.txt from the incremental: %q", r.Raw)
		}
		r = a.Send("GET", "/restores/file?"+url.Values{"run": {e.run1}, "path": {e.abs("docs/a.txt")}}.Encode(), "", nil)
		want(t, r, http.StatusOK)
		if r.Raw != "first version of a\n" {
			t.Errorf("download of a.txt from the full backup: %q", r.Raw)
		}
		// A completed run's page leads to its restore.
		r = a.Send("GET", "/backups/"+e.run2, "", nil)
		want(t, r, http.StatusOK)
		if !strings.Contains(r.Raw, `href="/restores/new?run=`+e.run2+`"`) {
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
		a := e.alice
		r := a.JSON("POST", "/api/restores", map[string]any{"runId": e.run2, "agentId": e.agentB, "targetDir": "/srv/restore"})
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
		for _, path := range []string{"/api/restores/" + aliceRestore, "/api/backups/" + e.run2 + "/files",
			"/restores/" + aliceRestore, "/restores/new?run=" + e.run2,
			"/restores/file?run=" + e.run2 + "&path=" + url.QueryEscape(e.abs("notes.txt"))} {
			if r := bob.Send("GET", path, "", nil); r.Status != http.StatusNotFound {
				t.Errorf("bob GET %s: status %d, want 404", path, r.Status)
			}
		}
		if r := bob.JSON("POST", "/api/restores/"+aliceRestore+"/cancel", nil); r.Status != http.StatusNotFound {
			t.Errorf("bob cancels alice's restore: status %d, want 404", r.Status)
		}
		r = bob.JSON("POST", "/api/restores", map[string]any{"runId": e.run2, "agentId": bobAgent, "targetDir": "/tmp/x"})
		want(t, r, http.StatusNotFound)
		r = bob.JSON("GET", "/api/restores", nil)
		want(t, r, http.StatusOK)
		if rs := r.Body["restores"].([]any); len(rs) != 0 {
			t.Errorf("bob lists alice's restores: %s", r.Raw)
		}

		// Bad input, each with the field that is wrong.
		failed := store.Run{ConfigID: e.configID, UserID: mustUserID(t, a), AgentID: e.agentA, StartTime: time.Now().UTC(),
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
			{"relative target", map[string]any{"runId": e.run2, "agentId": e.agentB, "targetDir": "restore/here"}, "targetDir", "absolute"},
			{"dotdot target", map[string]any{"runId": e.run2, "agentId": e.agentB, "targetDir": "/srv/../etc"}, "targetDir", `".."`},
			{"no target", map[string]any{"runId": e.run2, "agentId": e.agentB}, "targetDir", "required"},
			{"unknown agent", map[string]any{"runId": e.run2, "agentId": "0193aaaa-0000-7000-8000-000000000000", "targetDir": "/t"}, "agentId", "no agent"},
			{"another user's agent", map[string]any{"runId": e.run2, "agentId": bobAgent, "targetDir": "/t"}, "agentId", "no agent"},
			{"no agent", map[string]any{"runId": e.run2, "targetDir": "/t"}, "agentId", "choose"},
			{"failed run", map[string]any{"runId": failed.ID, "agentId": e.agentB, "targetDir": "/t"}, "runId", "is failed; only completed"},
			{"path not in backup", map[string]any{"runId": e.run2, "agentId": e.agentB, "targetDir": "/t", "paths": []string{"/etc/passwd"}}, "paths", "not in backup"},
			{"no run", map[string]any{"agentId": e.agentB, "targetDir": "/t"}, "runId", "required"},
			{"config without time", map[string]any{"configId": e.configID, "agentId": e.agentB, "targetDir": "/t"}, "pointInTime", "required"},
			{"time before any backup", map[string]any{"configId": e.configID, "pointInTime": "2001-01-01T00:00:00Z", "agentId": e.agentB, "targetDir": "/t"}, "pointInTime", "no completed backup"},
		} {
			r := a.JSON("POST", "/api/restores", tc.body)
			msg := fields(r)[tc.field]
			if r.Status != http.StatusBadRequest || msg == nil || !strings.Contains(msg.(string), tc.text) {
				t.Errorf("%s: status %d, %s; want 400 with %s containing %q", tc.name, r.Status, r.Raw, tc.field, tc.text)
			}
		}
		// The form shows the problems beside the fields and keeps the selection.
		form := url.Values{"run": {e.run2}, "sel": {e.abs("notes.txt")}, "agent": {e.agentB}, "target": {"relative"},
			"start": {"1"}, "csrf_token": {a.CSRF}}
		r = a.Send("POST", "/restores/new", "application/x-www-form-urlencoded", form.Encode())
		want(t, r, http.StatusBadRequest)
		if !strings.Contains(r.Raw, "must be an absolute path") || !strings.Contains(r.Raw, `value="`+e.abs("notes.txt")+`"`) {
			t.Errorf("form error page: %s", visible(r.Raw))
		}

		// The page's point in time: the newest completed backup at or before it.
		r = a.Send("GET", "/restores/new", "", nil)
		want(t, r, http.StatusOK)
		if !strings.Contains(r.Raw, `href="/restores/new?run=`+e.run2+`"`) || !strings.Contains(r.Raw, `name="at"`) {
			t.Errorf("restore start page: %s", visible(r.Raw))
		}
		at := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05")
		r = a.Send("GET", "/restores/new?"+url.Values{"config": {e.configID}, "at": {at}}.Encode(), "", nil)
		want(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); !strings.Contains(loc, "run="+e.run2) {
			t.Errorf("point in time %s goes to %s, want run %s", at, loc, e.run2)
		}
		r = a.Send("GET", "/restores/new?"+url.Values{"config": {e.configID}, "at": {"yesterday"}}.Encode(), "", nil)
		want(t, r, http.StatusBadRequest)
		if !strings.Contains(r.Raw, "give a date and time") {
			t.Errorf("bad point in time: %s", visible(r.Raw))
		}
		r = bob.Send("GET", "/restores/new?"+url.Values{"config": {e.configID}, "at": {at}}.Encode(), "", nil)
		want(t, r, http.StatusNotFound)

		// A point in time picks the newest completed backup at or before it.
		r = a.JSON("POST", "/api/restores", map[string]any{"configId": e.configID, "pointInTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			"agentId": e.agentA, "targetDir": "/srv/pit", "paths": []string{e.abs("new.txt")}})
		want(t, r, http.StatusCreated)
		if r.Body["runId"] != e.run2 {
			t.Errorf("point in time picked run %v, want %s", r.Body["runId"], e.run2)
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
		body := with(goodConfig(e.agentA), "name", "Secret", "sources", []map[string]any{{"path": e.src}}, "destination", map[string]any{"destinationId": e.destID},
			"options.encryptionMode", "age", "options.recipients", []string{id.Recipient().String()})
		r = a.JSON("POST", "/api/configs", body)
		want(t, r, http.StatusCreated)
		enc := rsBackup(t, rsAgentRunner(t, e.env, e.keyA), r.Body["id"].(string))
		r = a.JSON("GET", "/api/backups/"+enc+"/files?dir="+url.QueryEscape(e.abs("docs")), nil)
		want(t, r, http.StatusOK)
		if r.Body["encrypted"] != true || len(r.Body["entries"].([]any)) != 3 {
			t.Errorf("listing of an encrypted backup: %s", r.Raw)
		}
		r = a.Send("GET", "/restores/file?"+url.Values{"run": {enc}, "path": {e.abs("docs/a.txt")}}.Encode(), "", nil)
		if r.Status != http.StatusConflict || !strings.Contains(r.Raw, "encrypted") || !strings.Contains(r.Raw, "Only an agent can decrypt it") {
			t.Errorf("download from an encrypted backup: status %d, %s", r.Status, visible(r.Raw))
		}
		r = a.Send("GET", "/restores/new?run="+enc+"&dir="+url.QueryEscape(e.abs("docs")), "", nil)
		want(t, r, http.StatusOK)
		if strings.Contains(r.Raw, "/restores/file?") || !strings.Contains(r.Raw, "This backup is encrypted") {
			t.Errorf("restore page of an encrypted backup offers downloads: %s", visible(r.Raw))
		}

		// A backup without a catalog says so, and can still be restored whole.
		noCat := store.Run{ConfigID: e.configID, UserID: failed.UserID, AgentID: e.agentA, StartTime: time.Now().UTC(),
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

func mustUserID(t *testing.T, c *client) string {
	t.Helper()
	r := c.JSON("GET", "/api/auth/session", nil)
	want(t, r, http.StatusOK)
	u, _ := r.Body["user"].(map[string]any)
	id, _ := u["id"].(string)
	if id == "" {
		t.Fatal(errors.New("no user id in " + r.Raw))
	}
	return id
}

// TestRestoreProtocol drives the agent side by hand: a queued restore is handed out
// by one heartbeat only (and is then running), a cancel of a running restore reaches
// the agent as a cancel of the restore's id, the agent's report records the outcome
// once, and no agent can report another agent's restore.
func TestRestoreProtocol(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startRestoreEnv(t, db)
		a := e.alice
		heartbeat := func(key string) []any {
			t.Helper()
			r := a.AgentCall(agentproto.PathHeartbeat, key, agentproto.HeartbeatRequest{Host: agentproto.Host{Hostname: "h"}})
			want(t, r, http.StatusOK)
			cmds, _ := r.Body["commands"].([]any)
			return cmds
		}
		r := a.JSON("POST", "/api/restores", map[string]any{"runId": e.run2, "agentId": e.agentB, "targetDir": "/srv/r",
			"paths": []string{e.abs("docs"), e.abs("docs/a.txt")}, "overwrite": true})
		want(t, r, http.StatusCreated)
		id := r.Body["id"].(string)
		if ps := r.Body["paths"].([]any); len(ps) != 1 || ps[0] != e.abs("docs") {
			t.Errorf("paths below a selected folder are dropped: %v", ps)
		}

		if cmds := heartbeat(e.keyA); len(cmds) != 0 {
			t.Errorf("agent A is handed B's restore: %v", cmds)
		}
		cmds := heartbeat(e.keyB)
		if len(cmds) != 1 {
			t.Fatalf("agent B's commands: %v", cmds)
		}
		c := cmds[0].(map[string]any)
		spec, _ := c["restore"].(map[string]any)
		if c["type"] != "restore" || spec["restoreId"] != id || spec["runId"] != e.run2 || spec["targetDir"] != "/srv/r" ||
			spec["overwrite"] != true || len(spec["paths"].([]any)) != 1 || spec["paths"].([]any)[0] != strings.TrimPrefix(e.abs("docs"), "/") {
			t.Errorf("restore command: %v", c)
		}
		if cmds := heartbeat(e.keyB); len(cmds) != 0 {
			t.Errorf("the restore is handed out twice: %v", cmds)
		}
		r = a.JSON("GET", "/api/restores/"+id, nil)
		if r.Body["status"] != "running" || r.Body["startedAt"] == nil {
			t.Errorf("restore after its heartbeat: %s", r.Raw)
		}

		// Progress while it runs: in the API and on its page.
		want(t, a.AgentCall(agentproto.PathRestoreProgress, e.keyB, agentproto.RestoreProgressRequest{RestoreID: id, FilesWritten: 1234, BytesWritten: 3 << 20}), http.StatusOK)
		want(t, a.AgentCall(agentproto.PathRestoreProgress, e.keyA, agentproto.RestoreProgressRequest{RestoreID: id, FilesWritten: 1}), http.StatusNotFound)
		r = a.JSON("GET", "/api/restores/"+id, nil)
		if r.Body["filesWritten"] != 1234.0 || r.Body["bytesWritten"] != float64(3<<20) {
			t.Errorf("restore after a progress report: %s", r.Raw)
		}
		r = a.Send("GET", "/restores/"+id, "", nil)
		want(t, r, http.StatusOK)
		if !strings.Contains(visible(r.Raw), "The agent is writing the files: 1234 files, 3.0 MiB so far.") {
			t.Errorf("running restore's page lacks its progress: %s", visible(r.Raw))
		}
		// A restore of some paths has no size to reach: its time left is unknown.
		if !strings.Contains(visible(r.Raw), "Time left—") {
			t.Errorf("running restore's page lacks its (unknown) time left: %s", visible(r.Raw))
		}

		r = a.JSON("POST", "/api/restores/"+id+"/cancel", nil)
		want(t, r, http.StatusOK)
		if r.Body["status"] != "running" || r.Body["cancelRequested"] != true {
			t.Errorf("cancel of a running restore: %s", r.Raw)
		}
		cmds = heartbeat(e.keyB)
		if len(cmds) != 1 || cmds[0].(map[string]any)["type"] != "cancel" || cmds[0].(map[string]any)["runId"] != id {
			t.Errorf("cancel command: %v", cmds)
		}

		report := agentproto.RestoreCompleteRequest{RestoreID: id, Status: "cancelled", Error: "cancelled: by the user", FilesWritten: 2, BytesWritten: 20}
		want(t, a.AgentCall(agentproto.PathRestoreDone, e.keyA, report), http.StatusNotFound) // not A's
		want(t, a.AgentCall(agentproto.PathRestoreDone, e.keyB, agentproto.RestoreCompleteRequest{RestoreID: id, Status: "done"}), http.StatusBadRequest)
		want(t, a.AgentCall(agentproto.PathRestoreDone, e.keyB, report), http.StatusNoContent)
		report.Status = "completed"
		want(t, a.AgentCall(agentproto.PathRestoreDone, e.keyB, report), http.StatusNoContent) // a repeat changes nothing
		want(t, a.AgentCall(agentproto.PathRestoreDone, e.keyB, agentproto.RestoreCompleteRequest{RestoreID: "0193aaaa-0000-7000-8000-000000000000", Status: "completed"}), http.StatusNotFound)
		r = a.JSON("GET", "/api/restores/"+id, nil)
		if r.Body["status"] != "cancelled" || r.Body["filesWritten"] != 2.0 || r.Body["error"] != "cancelled: by the user" || r.Body["finishedAt"] == nil {
			t.Errorf("restore after the agent's report: %s", r.Raw)
		}
		if cmds := heartbeat(e.keyB); len(cmds) != 0 {
			t.Errorf("commands after the restore finished: %v", cmds)
		}
		want(t, a.JSON("POST", "/api/restores/"+id+"/cancel", nil), http.StatusConflict)

		// A restore onto Windows that renamed and skipped names it cannot hold:
		// completed with warnings, each one listed.
		r = a.JSON("POST", "/api/restores", map[string]any{"runId": e.run2, "agentId": e.agentB, "targetDir": `C:\restore`})
		want(t, r, http.StatusCreated)
		id = r.Body["id"].(string)
		if cmds := heartbeat(e.keyB); len(cmds) != 1 {
			t.Fatalf("agent B's commands: %v", cmds)
		}
		want(t, a.AgentCall(agentproto.PathRestoreDone, e.keyB, agentproto.RestoreCompleteRequest{RestoreID: id, Status: "completed",
			FilesWritten: 9, RenamedCount: 2, SkippedCount: 1,
			Renamed: []agentproto.RenamedFile{{Path: "home/a:b", RestoredAs: "home/a%3Ab"}, {Path: "home/CON", RestoredAs: "home/CO%4E"}},
			Skipped: []agentproto.FileError{{Path: "home/dev", Message: "device file"}}}), http.StatusNoContent)
		r = a.JSON("GET", "/api/restores/"+id, nil)
		warnings, _ := r.Body["warnings"].(string)
		if r.Body["status"] != "completed" || r.Body["error"] != nil || !strings.Contains(warnings, `"home/a:b" as "home/a%3Ab"`) ||
			!strings.Contains(warnings, `"home/CON" as "home/CO%4E"`) || !strings.Contains(warnings, `1 entries were skipped: "home/dev" (device file)`) {
			t.Errorf("restore that renamed names: %s", r.Raw)
		}
		if pg := visible(a.Send("GET", "/restores/"+id, "", nil).Raw); !strings.Contains(pg, "Completed with warnings") || !strings.Contains(pg, "home/a%3Ab") {
			t.Errorf("the page of a restore that renamed names: %s", pg)
		}
	})
}
