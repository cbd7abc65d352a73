package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/backapp/backapp/internal/agents"
	"github.com/backapp/backapp/internal/api"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/sqlite"
)

// newConfigEnv is newEnv with the configurations service, and an agent of the first
// user registered by the caller.
func newConfigEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "backapp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := auth.NewService(auth.Config{Store: st, Mailer: &captureMailer{}, Logger: log, BaseURL: "http://backapp.test", PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := configs.New(configs.ServiceConfig{Store: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ag, err := agents.New(agents.Config{Store: st, BaseURL: "http://backapp.test", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := runs.New(runs.Config{Store: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	// As the server composes them: the list names agents and shows the last run.
	h, err := New(Config{Auth: svc, Store: st, Logger: log, Version: "test", Configs: cs, Agents: ag, Runs: rs})
	if err != nil {
		t.Fatal(err)
	}
	// The pages plus the configuration API, whose schedule preview the form's script calls.
	mux := http.NewServeMux()
	h.Register(mux)
	api.NewConfigs(cs, log).Register(mux)
	srv := httptest.NewServer(h.Protect(mux, nil))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, st: st, auth: svc, h: h}
}

func (e *env) addAgent(email, name string) string {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.st.GetUserByEmail(ctx, email)
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now().UTC()
	a := store.Agent{ID: "0193bbbb-0000-7000-8000-" + strings.Repeat("0", 12-len(name)) + name, UserID: u.ID, Name: name,
		KeyHash: strings.Repeat("ab", 31) + name[:2], KeyPrefix: "bak_x", Status: store.AgentOffline, CreatedAt: now, UpdatedAt: now}
	if err := e.st.CreateAgent(ctx, &a); err != nil {
		e.t.Fatal(err)
	}
	return a.ID
}

// controlError is the error shown in the .field block of the control named name.
func controlError(t *testing.T, r *response, name string) string {
	t.Helper()
	for _, f := range find(r.Doc, byClass("field")) {
		if len(find(f, func(n *html.Node) bool {
			return (n.DataAtom == atom.Input || n.DataAtom == atom.Textarea || n.DataAtom == atom.Select) && attr(n, "name") == name
		})) == 0 {
			continue
		}
		if e := find(f, byClass("field-error")); len(e) > 0 {
			return text(e[0])
		}
		return ""
	}
	t.Fatalf("no field with a control named %q", name)
	return ""
}

// control is the value of the control named name: an input's value or a textarea's text.
func control(r *response, name string) (string, bool) {
	ns := find(r.Doc, func(n *html.Node) bool { return attr(n, "name") == name })
	if len(ns) == 0 {
		return "", false
	}
	if ns[0].DataAtom == atom.Textarea {
		return text(ns[0]), true
	}
	return attr(ns[0], "value"), true
}

func configForm(agentID string) url.Values {
	return url.Values{"name": {"Home"}, "enabled": {"on"}, "executionMode": {"agent"}, "agentId": {agentID},
		"sources[0].path": {"/home"}, "sources[0].excludePatterns": {"*.tmp\nnode_modules/"}, "sources[0].includePatterns": {""},
		"destination.destinationId": {""}, "schedule.cronExpression": {"0 2 * * *"}, "schedule.timezone": {"UTC"},
		"options.type": {"incremental"}, "options.fullEvery": {"30"}, "options.compression": {"zstd"},
		"options.encryptionMode": {"none"}, "options.onError": {"skip"}, "action": {"save"}}
}

func TestConfigPages(t *testing.T) {
	e := newConfigEnv(t)
	b := e.browser()
	b.register("Ada", "ada@example.com", "correct horse battery")
	agentID := e.addAgent("ada@example.com", "laptop")

	r := b.get("/configs")
	if r.Status != http.StatusOK || !strings.Contains(mainText(r), "No configurations yet") {
		t.Fatalf("empty list: %d %s", r.Status, mainText(r))
	}
	if len(find(r.Doc, func(n *html.Node) bool { return attr(n, "href") == "/configs" && attr(n, "aria-current") == "page" })) != 1 {
		t.Error("the nav does not mark Configurations as the current page")
	}
	r = b.get("/configs/new")
	if r.Status != http.StatusOK {
		t.Fatalf("new form: %d", r.Status)
	}
	js, _ := e.h.static.url("configs.js")
	if len(find(r.Doc, func(n *html.Node) bool { return n.DataAtom == atom.Script && attr(n, "src") == js })) != 1 {
		t.Error("the form does not load configs.js")
	}

	// Bad input: every problem beside its field, the form kept, nothing saved.
	f := configForm(agentID)
	f.Set("sources[0].path", "home/ada")
	f.Set("sources[0].excludePatterns", "*.tmp\n[oops")
	f.Set("schedule.cronExpression", "0 2 * *")
	f.Set("options.bandwidth", "-5")
	f.Set("options.keepLast", "ten")
	r = b.post("/configs/new", f)
	if r.Status != http.StatusBadRequest {
		t.Fatalf("bad input: status %d\n%s", r.Status, errorsOf(r))
	}
	for name, want := range map[string]string{
		"sources[0].path":            `"home/ada" is a relative path`,
		"sources[0].excludePatterns": `line 2: "[oops" is not a valid pattern`,
		"schedule.cronExpression":    "field",
		"options.bandwidth":          "cannot be negative (-5)",
		"options.keepLast":           `"ten" is not a whole number`,
	} {
		if got := controlError(t, r, name); !strings.Contains(got, want) {
			t.Errorf("error beside %s: %q, want %q", name, got, want)
		}
	}
	for name, want := range map[string]string{"name": "Home", "sources[0].path": "home/ada", "schedule.cronExpression": "0 2 * *", "options.keepLast": "ten"} {
		if got, _ := control(r, name); got != want {
			t.Errorf("kept %s = %q, want %q", name, got, want)
		}
	}
	if cs, _ := e.st.ListConfigs(context.Background(), ""); len(cs) != 0 {
		t.Fatalf("bad input saved %d configs", len(cs))
	}

	// Add another source without JavaScript: the form comes back with an empty row.
	f = configForm(agentID)
	f.Set("action", "add-source")
	r = b.post("/configs/new", f)
	if r.Status != http.StatusOK {
		t.Fatalf("add source: %d", r.Status)
	}
	if _, ok := control(r, "sources[1].path"); !ok {
		t.Error("add source: no second source row")
	}
	if got, _ := control(r, "sources[0].path"); got != "/home" {
		t.Errorf("add source: first path %q", got)
	}

	// Show next runs without JavaScript.
	f = configForm(agentID)
	f.Set("action", "preview")
	r = b.post("/configs/new", f)
	prev := find(r.Doc, func(n *html.Node) bool { return attr(n, "id") == "config-preview" })
	if len(prev) != 1 || len(find(prev[0], byAtom(atom.Li))) != 5 || !strings.Contains(text(prev[0]), "daily at 02:00") {
		t.Errorf("preview: %v", mainText(r))
	}

	// Save, then list.
	f = configForm(agentID)
	f.Set("sources[1].path", "")
	f.Set("sources[1].excludePatterns", "")
	r = b.post("/configs/new", f)
	if r.Status != http.StatusSeeOther || r.Location() != "/configs" {
		t.Fatalf("save: %d → %q\n%s", r.Status, r.Location(), errorsOf(r))
	}
	r = b.get("/configs")
	txt := mainText(r)
	for _, want := range []string{"Configuration Home was saved", "Home", "Agent laptop", "daily at 02:00 (UTC)", "None yet"} {
		if !strings.Contains(txt, want) {
			t.Errorf("list lacks %q: %s", want, txt)
		}
	}
	if strings.Contains(txt, "disabled") { // enabled is the rule; only a disabled one says so
		t.Errorf("an enabled configuration is listed as disabled: %s", txt)
	}
	cs, _ := e.st.ListConfigs(context.Background(), "")
	if len(cs) != 1 {
		t.Fatalf("%d configs saved", len(cs))
	}
	id := cs[0].ID
	c, _ := configs.FromStore(cs[0])
	if len(c.Sources) != 1 || len(c.Sources[0].ExcludePatterns) != 2 || c.Options.FullEvery != 30 {
		t.Errorf("saved: %+v", c)
	}

	// Edit shows the saved values; a bad change keeps the old row.
	r = b.get("/configs/" + id + "/edit")
	if got, _ := control(r, "sources[0].excludePatterns"); got != "*.tmp node_modules/" {
		t.Errorf("edit: patterns %q", got)
	}
	f = configForm(agentID)
	f.Set("name", "Home v2")
	f.Set("options.hooks.timeoutSeconds", "999999")
	r = b.post("/configs/"+id+"/edit", f)
	if got := controlError(t, r, "options.hooks.timeoutSeconds"); !strings.Contains(got, "longer than 24 hours") {
		t.Errorf("hook timeout error %q", got)
	}
	if row, _ := e.st.GetConfig(context.Background(), id); row.Name != "Home" {
		t.Errorf("a rejected edit saved %q", row.Name)
	}

	// Delete: the confirmation says archives stay; without the box nothing happens.
	r = b.get("/configs/" + id + "/delete")
	if !strings.Contains(mainText(r), "Archives already stored stay in their storage") {
		t.Errorf("delete page: %s", mainText(r))
	}
	r = b.post("/configs/"+id+"/delete", url.Values{})
	if r.Status != http.StatusBadRequest {
		t.Errorf("delete without confirm: %d", r.Status)
	}
	r = b.post("/configs/"+id+"/delete", url.Values{"confirm": {"yes"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.Status, errorsOf(r))
	}
	if cs, _ := e.st.ListConfigs(context.Background(), ""); len(cs) != 0 {
		t.Error("config still there after delete")
	}

	// The static budget still holds with the preview script.
	total := 0
	for _, n := range []string{"app.css", "app.js", "configs.js"} {
		u, err := e.h.static.url(n)
		if err != nil {
			t.Fatal(err)
		}
		total += len(b.get(u).Body)
	}
	if total > 50*1024 {
		t.Errorf("CSS and JS weigh %d bytes, want under 50 KB", total)
	}
}
