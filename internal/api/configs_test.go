package api_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/store"
)

// TestConfigsBadInput: every bad input gets a 400 whose fields name the form field
// with a precise message, and nothing is saved.
func TestConfigsBadInput(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		admin := e.Client()
		admin.Register("admin@example.com")
		ada := e.Client()
		ada.Register("ada@example.com")
		bob := e.Client()
		bob.Register("bob@example.com")
		agentID, _, _ := ada.CreateAgent("ada-laptop")
		bobAgent, _, _ := bob.CreateAgent("bob-laptop")
		ctx := context.Background()
		now := time.Now().UTC()
		bobDest := store.Destination{ID: "0193aaaa-0000-7000-8000-000000000001", UserID: userID(t, bob), Name: "bob-s3", Kind: store.DestinationS3,
			Settings: []byte(`{}`), CreatedAt: now, UpdatedAt: now}
		if err := e.App.Store.CreateDestination(ctx, bobDest); err != nil {
			t.Fatal(err)
		}
		identity, _ := age.GenerateX25519Identity()
		good := goodConfig(agentID)
		long := strings.Repeat("x", 101)
		for _, tc := range []struct {
			name  string
			c     *client
			body  map[string]any
			field string
			want  string
		}{
			{"empty name", ada, with(good, "name", "  "), "name", "enter a name"},
			{"long name", ada, with(good, "name", long), "name", "101 characters"},
			{"bad cron", ada, with(good, "schedule.cronExpression", "61 * * * *"), "schedule.cronExpression", "61 is out of range 0-59"},
			{"cron with 4 fields", ada, with(good, "schedule.cronExpression", "0 2 * *"), "schedule.cronExpression", "field"},
			{"unknown timezone", ada, with(good, "schedule.timezone", "Europe/Berln"), "schedule.timezone", `unknown timezone "Europe/Berln"`},
			{"relative path", ada, with(good, "sources", []map[string]any{{"path": "docs"}}), "sources[0].path", `"docs" is a relative path`},
			{"empty path", ada, with(good, "sources", []map[string]any{{"path": ""}}), "sources[0].path", "enter the absolute path"},
			{"NUL in path", ada, with(good, "sources", []map[string]any{{"path": "/home/a\x00b"}}), "sources[0].path", "NUL"},
			{"no sources", ada, with(good, "sources", []map[string]any{}), "sources", "at least one"},
			{"bad exclude pattern", ada, with(good, "sources", []map[string]any{{"path": "/srv", "excludePatterns": []string{"*.log", "[abc"}}}), "sources[0].excludePatterns", `line 2: "[abc" is not a valid pattern`},
			{"bad include pattern", ada, with(good, "sources", []map[string]any{{"path": "/srv"}, {"path": `C:\Users`, "includePatterns": []string{"{a,b"}}}), "sources[1].includePatterns", `"{a,b" is not a valid pattern`},
			{"negative bandwidth", ada, with(good, "options.bandwidth", -5), "options.bandwidth", "cannot be negative (-5)"},
			{"absurd bandwidth", ada, with(good, "options.bandwidth", int64(1)<<40), "options.bandwidth", "too large; the most is 10485760"},
			{"negative retention", ada, with(good, "options.retentionDays", -1), "options.retentionDays", "cannot be negative"},
			{"absurd retention", ada, with(good, "options.retentionDays", 100000), "options.retentionDays", "the most is 36500"},
			{"negative keep last", ada, with(good, "options.keepLast", -3), "options.keepLast", "cannot be negative (-3)"},
			{"absurd keep monthly", ada, with(good, "options.keepMonthly", 5000), "options.keepMonthly", "the most is 1200"},
			{"full every 0 runs is fine but 1001 is not", ada, with(good, "options.fullEvery", 1001), "options.fullEvery", "the most is 1000"},
			{"negative full every days", ada, with(good, "options.fullEveryDays", -7), "options.fullEveryDays", "cannot be negative"},
			{"zstd level 23", ada, with(good, "options.compressionLevel", 23), "options.compressionLevel", "zstd level 23 is out of range: use 1 (fastest) to 22"},
			{"gzip level 10", ada, with(good, "options.compression", "gzip", "options.compressionLevel", 10), "options.compressionLevel", "gzip level 10"},
			{"unknown codec", ada, with(good, "options.compression", "lz4"), "options.compression", `"lz4" is not one of zstd, gzip or none`},
			{"unknown type", ada, with(good, "options.type", "differential"), "options.type", `"differential"`},
			{"hook timeout negative", ada, with(good, "options.hooks", map[string]any{"pre": "true", "timeoutSeconds": -1}), "options.hooks.timeoutSeconds", "between 1 second and 24 hours"},
			{"hook timeout absurd", ada, with(good, "options.hooks", map[string]any{"post": "true", "timeoutSeconds": 90000}), "options.hooks.timeoutSeconds", "longer than 24 hours"},
			{"bad age recipient", ada, with(good, "options.encryptionMode", "age", "options.recipients", []string{"age1notarecipient"}), "options.recipients", `line 1: "age1notarecipient" is not an age recipient`},
			{"identity pasted as recipient", ada, with(good, "options.encryptionMode", "age", "options.recipients", []string{identity.String()}), "options.recipients", "is an age identity (a secret key)"},
			{"age without recipients", ada, with(good, "options.encryptionMode", "age"), "options.recipients", "at least one age recipient"},
			{"short passphrase", ada, with(good, "options.encryptionMode", "passphrase", "options.passphrase", "short"), "options.passphrase", "has 5 characters; use at least 12"},
			{"another user's agent", ada, with(good, "agentId", bobAgent), "agentId", "choose one of your own agents"},
			{"no agent", ada, with(good, "agentId", nil), "agentId", "choose the agent"},
			{"another user's destination", ada, with(good, "destination.destinationId", bobDest.ID), "destination.destinationId", "among yours"},
			{"server mode by a user", ada, with(good, "executionMode", "server"), "executionMode", "only administrators"},
			{"server mode with nothing allowed", admin, with(good, "executionMode", "server"), "sources[0].path", "no directory of the server is allowed"},
			{"unknown mode", ada, with(good, "executionMode", "cloud"), "executionMode", `"cloud" is not one of agent or server`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, path := range []string{"/api/configs", "/api/configs/validate"} {
					r := tc.c.JSON("POST", path, tc.body)
					want(t, r, http.StatusBadRequest)
					msg, _ := fields(r)[tc.field].(string)
					if !strings.Contains(msg, tc.want) {
						t.Errorf("POST %s: fields[%q] = %q, want it to contain %q (all: %v)", path, tc.field, msg, tc.want, fields(r))
					}
				}
			})
		}

		// Server mode outside the allow-list, as an admin.
		if err := e.App.Store.SetSetting(ctx, configs.SettingServerDirs, "/srv/backups\n/var/lib/data\n"); err != nil {
			t.Fatal(err)
		}
		r := admin.JSON("POST", "/api/configs", with(good, "executionMode", "server", "sources", []map[string]any{{"path": "/srv/backups/../../etc"}, {"path": "/srv/backups/db"}}))
		want(t, r, http.StatusBadRequest)
		if msg, _ := fields(r)["sources[0].path"].(string); !strings.Contains(msg, "outside the directories allowed for server-mode backups (/srv/backups, /var/lib/data)") {
			t.Errorf("server mode outside the allow-list: %q", msg)
		}
		if _, bad := fields(r)["sources[1].path"]; bad || len(fields(r)) != 1 {
			t.Errorf("server mode: want only sources[0].path, got %v", fields(r))
		}

		// Every problem at once.
		all := with(good, "name", "", "schedule.cronExpression", "* * * * * *", "schedule.timezone", "Mars/Olympus",
			"sources", []map[string]any{{"path": "rel"}, {"path": "/ok", "excludePatterns": []string{"[x"}}},
			"options.bandwidth", -1, "options.keepDaily", -1, "options.encryptionMode", "age", "options.recipients", []string{"nope"})
		r = ada.JSON("POST", "/api/configs", all)
		want(t, r, http.StatusBadRequest)
		for _, f := range []string{"name", "schedule.cronExpression", "schedule.timezone", "sources[0].path", "sources[1].excludePatterns",
			"options.bandwidth", "options.keepDaily", "options.recipients"} {
			if _, ok := fields(r)[f]; !ok {
				t.Errorf("all at once: no message for %s in %v", f, fields(r))
			}
		}

		// Nothing was saved.
		cs, err := e.App.Store.ListConfigs(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 0 {
			t.Errorf("%d configs saved from bad input", len(cs))
		}
	})
}

// TestConfigsRoundTripAndIsolation: create → get → update → list; a passphrase is
// never sent back; other users get 404; admins see everyone's; delete audits.
func TestConfigsRoundTripAndIsolation(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		admin := e.Client()
		admin.Register("admin@example.com")
		ada := e.Client()
		ada.Register("ada@example.com")
		bob := e.Client()
		bob.Register("bob@example.com")
		agentID, _, _ := ada.CreateAgent("ada-laptop")

		body := with(goodConfig(agentID), "options.encryptionMode", "passphrase", "options.passphrase", "correct horse battery staple",
			"options.keepLast", 7, "options.retentionDays", 30, "options.bandwidth", 2048,
			"options.hooks", map[string]any{"pre": "pg_dump -f /tmp/db.sql"})
		r := ada.JSON("POST", "/api/configs", body)
		want(t, r, http.StatusCreated)
		id, _ := r.Body["id"].(string)
		if id == "" || r.Header.Get("Location") != "/api/configs/"+id {
			t.Fatalf("create: id %q, Location %q", id, r.Header.Get("Location"))
		}
		if strings.Contains(r.Raw, "correct horse battery staple") {
			t.Error("create answer contains the passphrase")
		}
		got := ada.JSON("GET", "/api/configs/"+id, nil)
		want(t, got, http.StatusOK)
		o := got.Body["options"].(map[string]any)
		if o["passphraseSet"] != true || o["passphrase"] != nil || o["encryption"] != true || o["keepLast"] != 7.0 || o["bandwidth"] != 2048.0 {
			t.Errorf("get options: %v", o)
		}
		if h := o["hooks"].(map[string]any); h["timeoutSeconds"] != 3600.0 {
			t.Errorf("hook timeout default: %v", h)
		}
		if s := got.Body["schedule"].(map[string]any); s["cronExpression"] != "0 2 * * *" || s["timezone"] != "Europe/Berlin" {
			t.Errorf("schedule: %v", s)
		}
		if got.Body["executionMode"] != "agent" || got.Body["agentId"] != agentID || got.Body["userId"] != userID(t, ada) {
			t.Errorf("get: %s", got.Raw)
		}

		// Update with the passphrase left empty keeps it; switch to manual.
		upd := with(body, "name", "Home (nightly)", "schedule", nil, "options.passphrase", "", "options.compression", "gzip", "options.compressionLevel", 9)
		want(t, ada.JSON("POST", "/api/configs/"+id+"/validate", upd), http.StatusOK)
		r = ada.JSON("PUT", "/api/configs/"+id, upd)
		want(t, r, http.StatusOK)
		row, err := e.App.Store.GetConfig(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		c, err := configs.FromStore(row)
		if err != nil {
			t.Fatal(err)
		}
		if c.Name != "Home (nightly)" || c.Schedule != nil || c.Options.Passphrase != "" || c.Options.PassphraseSealed == "" || c.Options.Compression != "gzip" || c.Options.CompressionLevel != 9 {
			t.Errorf("after update: %+v", c)
		}
		// The passphrase is kept sealed under the master key, never in clear.
		if strings.Contains(string(row.Options), "correct horse") {
			t.Errorf("stored options hold the passphrase in clear: %s", row.Options)
		}
		if pt, err := e.App.Keys.Open(configs.PassphrasePurpose, mustB64(t, c.Options.PassphraseSealed), []byte(id)); err != nil || string(pt) != "correct horse battery staple" {
			t.Errorf("sealed passphrase opens to %q, %v", pt, err)
		}
		// A bad update changes nothing.
		r = ada.JSON("PUT", "/api/configs/"+id, with(upd, "name", "x", "options.keepWeekly", -1))
		want(t, r, http.StatusBadRequest)
		if row2, _ := e.App.Store.GetConfig(context.Background(), id); row2.Name != "Home (nightly)" {
			t.Errorf("a rejected update saved the name %q", row2.Name)
		}

		// An administrator may create a server-mode config inside the allowed directories.
		if err := e.App.Store.SetSetting(context.Background(), configs.SettingServerDirs, "/srv/backups"); err != nil {
			t.Fatal(err)
		}
		srv := admin.JSON("POST", "/api/configs", with(goodConfig(""), "executionMode", "server", "agentId", nil,
			"sources", []map[string]any{{"path": "/srv/backups/db"}}))
		want(t, srv, http.StatusCreated)
		if srv.Body["executionMode"] != "server" || srv.Body["agentId"] != nil {
			t.Errorf("server-mode config: %s", srv.Raw)
		}
		// Ada cannot turn her config into a server-mode one.
		r = ada.JSON("PUT", "/api/configs/"+id, with(upd, "executionMode", "server", "sources", []map[string]any{{"path": "/srv/backups/db"}}))
		want(t, r, http.StatusBadRequest)
		if _, ok := fields(r)["executionMode"]; !ok {
			t.Errorf("user switching to server mode: %s", r.Raw)
		}

		list := ada.JSON("GET", "/api/configs", nil)
		want(t, list, http.StatusOK)
		if cs := list.Body["configs"].([]any); len(cs) != 1 || strings.Contains(list.Raw, "correct horse") {
			t.Errorf("list: %s", list.Raw)
		}

		// Bob sees nothing of Ada's.
		for _, r := range []response{
			bob.JSON("GET", "/api/configs/"+id, nil),
			bob.JSON("PUT", "/api/configs/"+id, upd),
			bob.JSON("POST", "/api/configs/"+id+"/validate", upd),
			bob.JSON("DELETE", "/api/configs/"+id, nil),
		} {
			if r.Status != http.StatusNotFound {
				t.Errorf("bob: status %d, want 404: %s", r.Status, r.Raw)
			}
		}
		if r := bob.JSON("GET", "/api/configs", nil); len(r.Body["configs"].([]any)) != 0 {
			t.Errorf("bob's list: %s", r.Raw)
		}
		if r := bob.Send("GET", "/configs/"+id+"/edit", "", nil); r.Status != http.StatusNotFound {
			t.Errorf("bob's edit page: %d", r.Status)
		}
		// The admin sees it.
		if r := admin.JSON("GET", "/api/configs", nil); len(r.Body["configs"].([]any)) != 2 {
			t.Errorf("admin's list: %s", r.Raw)
		}

		// An administrator edits Ada's config against Ada's agents, not their own.
		adminAgent, _, _ := admin.CreateAgent("admin-box")
		r = admin.JSON("PUT", "/api/configs/"+id, with(upd, "agentId", adminAgent))
		want(t, r, http.StatusBadRequest)
		if _, ok := fields(r)["agentId"]; !ok {
			t.Errorf("admin giving Ada's config their own agent: %s", r.Raw)
		}
		r = admin.JSON("PUT", "/api/configs/"+id, with(upd, "name", "Home (by admin)"))
		want(t, r, http.StatusOK)
		if r.Body["userId"] != userID(t, ada) {
			t.Errorf("an admin's edit changed the owner: %s", r.Raw)
		}

		// A queued run blocks deletion; once it ends, the config goes.
		ctx := context.Background()
		run := store.Run{ID: "0193cccc-0000-7000-8000-000000000001", ConfigID: id, UserID: userID(t, ada), AgentID: agentID,
			Status: "queued", StartTime: time.Now().UTC(), CreatedAt: time.Now().UTC()}
		if err := e.App.Store.CreateRun(ctx, &run); err != nil {
			t.Fatal(err)
		}
		r = ada.JSON("DELETE", "/api/configs/"+id, nil)
		want(t, r, http.StatusConflict)
		if !strings.Contains(r.ErrMessage(), "is queued; cancel it or wait") {
			t.Errorf("delete with a queued run: %s", r.Raw)
		}
		end := time.Now().UTC()
		run.Status, run.EndTime = "cancelled", &end
		if err := e.App.Store.UpdateRun(ctx, &run); err != nil {
			t.Fatal(err)
		}
		want(t, ada.JSON("DELETE", "/api/configs/"+id, nil), http.StatusNoContent)
		want(t, ada.JSON("GET", "/api/configs/"+id, nil), http.StatusNotFound)
		entries, err := e.App.Store.ListAudit(context.Background(), 50)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, a := range entries {
			if a.Target == id {
				seen[a.Action] = true
			}
			if strings.Contains(a.Detail, "correct horse") {
				t.Errorf("audit detail carries the passphrase: %q", a.Detail)
			}
		}
		for _, a := range []string{"config.create", "config.update", "config.delete"} {
			if !seen[a] {
				t.Errorf("no %s audit entry", a)
			}
		}
	})
}

// TestSchedulePreviewAcrossDST: the preview follows the timezone's clock through
// the spring-forward gap (the 02:30 slot runs when the gap ends) and reports bad
// input by field.
func TestSchedulePreviewAcrossDST(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		ada := e.Client()
		ada.Register("ada@example.com")
		e.Clock.Set(time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC))
		r := ada.JSON("GET", "/api/schedule/preview?cron="+url.QueryEscape("30 2 * * *")+"&timezone=Europe/Berlin", nil)
		want(t, r, http.StatusOK)
		runs := r.Body["nextRuns"].([]any)
		var got []string
		for _, x := range runs {
			got = append(got, x.(map[string]any)["time"].(string))
		}
		wantTimes := []string{"2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00", "2026-04-01T02:30:00+02:00"}
		if strings.Join(got, " ") != strings.Join(wantTimes, " ") {
			t.Errorf("next runs\n got %v\nwant %v", got, wantTimes)
		}
		if d := r.Body["description"]; d != "daily at 02:30" {
			t.Errorf("description %q", d)
		}
		if txt := runs[1].(map[string]any)["text"]; txt != "Sun 29 Mar 2026 03:00 CEST" {
			t.Errorf("text %q", txt)
		}

		r = ada.JSON("GET", "/api/schedule/preview?cron="+url.QueryEscape("0 25 * * *")+"&timezone=Nowhere/City", nil)
		want(t, r, http.StatusBadRequest)
		f := fields(r)
		if !strings.Contains(f["cronExpression"].(string), "hour") || !strings.Contains(f["timezone"].(string), "Nowhere/City") {
			t.Errorf("preview errors: %v", f)
		}
		if r := e.Client().JSON("GET", "/api/schedule/preview?cron=*+*+*+*+*", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("anonymous preview: %d", r.Status)
		}
	})
}

// TestServerModeDirsSetting: only administrators set the directories server-mode
// backups may read; the root and paths that are not directories are refused.
func TestServerModeDirsSetting(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		admin := e.Client()
		admin.Register("admin@example.com")
		ada := e.Client()
		ada.Register("ada@example.com")
		dir := t.TempDir()

		want(t, ada.JSON("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{dir}}), http.StatusForbidden)
		want(t, ada.JSON("GET", "/api/settings/server-mode", nil), http.StatusForbidden)
		for in, msg := range map[string]string{
			"/":                      "allowing / would let backups read the whole server",
			"relative/dir":           "is not an absolute path",
			filepath.Join(dir, "no"): "is not a directory on this server",
		} {
			r := admin.JSON("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{dir, in}})
			want(t, r, http.StatusBadRequest)
			if m, _ := fields(r)["allowedDirs"].(string); !strings.Contains(m, "line 2") || !strings.Contains(m, msg) {
				t.Errorf("allowedDirs %q: %q, want %q", in, m, msg)
			}
		}
		r := admin.JSON("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{dir + "/", dir}})
		want(t, r, http.StatusOK)
		if got := admin.JSON("GET", "/api/settings/server-mode", nil); !strings.Contains(got.Raw, `"allowedDirs":["`+dir+`"]`) {
			t.Errorf("GET server-mode: %s", got.Raw)
		}
		r = admin.JSON("POST", "/api/configs", with(goodConfig(""), "executionMode", "server", "sources", []map[string]any{{"path": filepath.Join(dir, "data")}}))
		want(t, r, http.StatusCreated)
	})
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
