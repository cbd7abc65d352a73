package web

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/backapp/backapp/internal/builtin"
	"github.com/backapp/backapp/internal/configs"
)

// textareaError returns the error shown in the .field block of the textarea name.
func textareaError(t *testing.T, r *response, name string) string {
	t.Helper()
	for _, f := range find(r.Doc, byClass("field")) {
		if len(find(f, func(n *html.Node) bool { return n.DataAtom == atom.Textarea && attr(n, "name") == name })) == 0 {
			continue
		}
		if e := find(f, byClass("field-error")); len(e) > 0 {
			return text(e[0])
		}
		return ""
	}
	t.Fatalf("no field with a textarea named %q", name)
	return ""
}

func TestServerSettingsPage(t *testing.T) {
	e := newEnv(t)
	cs, err := configs.New(configs.ServiceConfig{Store: e.st})
	if err != nil {
		t.Fatal(err)
	}
	e.h.configs = cs // as the server composes it
	admin := e.browser()
	admin.register("Admin", "admin@example.com", "correct horse battery")
	user := e.browser()
	user.register("User", "user@example.com", "correct horse battery")

	// Users: 403 for the page and the form, and no link in the navigation.
	if r := user.get("/settings/server"); r.Status != http.StatusForbidden {
		t.Errorf("user GET /settings/server: %d, want 403", r.Status)
	}
	if r := user.get("/dashboard"); strings.Contains(r.Body, `href="/settings/server"`) {
		t.Error("the user's navigation links to /settings/server")
	}
	dir := t.TempDir()
	if r := user.post("/settings/server", url.Values{"allowedDirs": {dir}}); r.Status != http.StatusForbidden {
		t.Errorf("user POST /settings/server: %d, want 403", r.Status)
	}
	if v, err := e.st.GetSetting(context.Background(), builtin.SettingAllowedDirs); err == nil {
		t.Errorf("setting saved by a user's post: %q", v)
	}

	r := admin.get("/settings/server")
	if r.Status != http.StatusOK {
		t.Fatalf("admin GET /settings/server: %d", r.Status)
	}
	if txt := mainText(r); !strings.Contains(txt, "Every administrator can back up anything under these directories") || !strings.Contains(txt, "None yet") {
		t.Errorf("page lacks the warning or the empty state: %q", txt)
	}
	if !strings.Contains(r.Body, `href="/settings/server" aria-current="page"`) {
		t.Error("the admin's navigation has no current Server link")
	}

	// A bad line is named beside the field, the text is kept, nothing is saved.
	file := filepath.Join(dir, "file.txt")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ line, want string }{
		{"relative/path", "line 2: \"relative/path\" is not an absolute path"},
		{"/", "line 2: allowing / would let backups read the whole server"},
		{filepath.Join(dir, "missing"), "line 2: " + filepath.Join(dir, "missing") + " is not a directory"},
		{file, "line 2: " + file + " is not a directory"},
	} {
		r = admin.post("/settings/server", url.Values{"allowedDirs": {dir + "\n" + tc.line}})
		if r.Status != http.StatusBadRequest {
			t.Fatalf("POST %q: %d, want 400", tc.line, r.Status)
		}
		if msg := textareaError(t, r, "allowedDirs"); !strings.Contains(msg, tc.want) {
			t.Errorf("POST %q: error %q, want %q", tc.line, msg, tc.want)
		}
		if !strings.Contains(r.Body, tc.line) {
			t.Errorf("POST %q: the submitted text was not kept", tc.line)
		}
		if _, err := e.st.GetSetting(context.Background(), builtin.SettingAllowedDirs); err == nil {
			t.Errorf("POST %q: a bad list was saved", tc.line)
		}
	}

	// A good list is saved cleaned, and shown.
	other := t.TempDir()
	r = admin.post("/settings/server", url.Values{"allowedDirs": {"\n " + dir + "/ \r\n" + other + "\n" + dir + "\n"}})
	if r.Status != http.StatusSeeOther || r.Location() != "/settings/server" {
		t.Fatalf("good POST: %d → %q, want 303 → /settings/server (%s)", r.Status, r.Location(), errorsOf(r))
	}
	got, err := e.st.GetSetting(context.Background(), builtin.SettingAllowedDirs)
	if want := dir + "\n" + other; err != nil || got != want {
		t.Errorf("saved %q, %v; want %q", got, err, want)
	}
	r = admin.follow(r)
	if txt := mainText(r); !strings.Contains(txt, "were saved") || !strings.Contains(txt, other) {
		t.Errorf("page after saving: %q", txt)
	}
	audit, err := e.st.ListAudit(context.Background(), 5)
	if err != nil || len(audit) == 0 || audit[0].Action != "settings.server_mode_dirs" {
		t.Errorf("audit log = %+v, %v; want settings.server_mode_dirs first", audit, err)
	}

	// Emptying the list is allowed (it allows nothing).
	if r := admin.post("/settings/server", url.Values{"allowedDirs": {""}}); r.Status != http.StatusSeeOther {
		t.Errorf("empty POST: %d, want 303", r.Status)
	}
	if got, _ := e.st.GetSetting(context.Background(), builtin.SettingAllowedDirs); got != "" {
		t.Errorf("after emptying: %q", got)
	}
}
