package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/backapp/backapp/internal/store"
)

// estimateSection is the text of the page's size estimate section, "" when none.
func estimateSection(r *response) string {
	s := find(r.Doc, func(n *html.Node) bool { return attr(n, "id") == "estimate" })
	if len(s) != 1 {
		return ""
	}
	return strings.Join(strings.Fields(text(s[0])), " ")
}

// TestConfigEstimatePage: a saved configuration's page shows its size estimate with
// a plain form to ask for one (no script needed): none yet, waiting for an agent that
// never connected, done with size and unreadable files, failed with the reason.
// Another user cannot ask.
func TestConfigEstimatePage(t *testing.T) {
	e := newConfigEnv(t)
	ctx := context.Background()
	b := e.browser()
	b.register("Ada", "ada@example.com", "correct horse battery")
	agentID := e.addAgent("ada@example.com", "laptop")
	f := configForm(agentID)
	b.get("/configs/new")
	if r := b.post("/configs/new", f); r.Status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", r.Status, errorsOf(r))
	}
	cs, err := e.st.ListConfigs(ctx, "")
	if err != nil || len(cs) != 1 {
		t.Fatalf("configs: %v %v", cs, err)
	}
	id := cs[0].ID
	edit := "/configs/" + id + "/edit"

	if r := b.get("/configs/new"); estimateSection(r) != "" {
		t.Errorf("the new configuration page shows an estimate section: %q", estimateSection(r))
	}
	r := b.get(edit)
	checkPage(t, "edit page", r.Doc)
	if got := estimateSection(r); !strings.Contains(got, "No estimate yet") || !strings.Contains(got, "Estimate size") {
		t.Errorf("estimate before any: %q", got)
	}
	forms := find(r.Doc, func(n *html.Node) bool {
		return n.DataAtom == atom.Form && attr(n, "action") == "/configs/"+id+"/estimate" && attr(n, "method") == "post"
	})
	if len(forms) != 1 || len(find(forms[0], func(n *html.Node) bool { return attr(n, "name") == "csrf_token" })) != 1 {
		t.Fatalf("no POST form with a CSRF token to ask for an estimate")
	}

	r = b.post("/configs/"+id+"/estimate", url.Values{})
	if loc := r.Header.Get("Location"); r.Status != http.StatusSeeOther || !strings.HasSuffix(loc, edit+"#estimate") {
		t.Fatalf("ask: %d → %q", r.Status, loc)
	}
	r = b.follow(r)
	txt := mainText(r)
	if !strings.Contains(txt, `Size estimate asked of the agent: agent "laptop" has never connected; the estimate runs when it does.`) {
		t.Errorf("flash after asking: %q", txt)
	}
	if got := estimateSection(r); !strings.Contains(got, "Waiting for the agent") || !strings.Contains(got, "Estimate again") || !strings.Contains(got, "Refresh") {
		t.Errorf("pending estimate: %q", got)
	}

	es, err := e.st.ConfigEstimate(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := e.st.StartEstimate(ctx, es.ID, now.Add(-3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := e.st.FinishEstimate(ctx, es.ID, store.EstimateResult{Status: store.EstimateDone, Files: 7, Dirs: 5, Bytes: 3 << 20,
		Issues: 1, Samples: []store.EstimateIssue{{Path: "/home/ada/locked", Message: "read dir: permission denied"}}, At: now}); err != nil {
		t.Fatal(err)
	}
	r = b.get(edit)
	got := estimateSection(r)
	for _, want := range []string{"✓ Done", "3.0 MiB in 7 files and 5 folders", "in 3 s", "1 file could not be read; a backup would skip it", "/home/ada/locked: read dir: permission denied", "Estimate again"} {
		if !strings.Contains(got, want) {
			t.Errorf("done estimate: %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "Refresh") {
		t.Errorf("a finished estimate offers Refresh: %q", got)
	}

	b.post("/configs/"+id+"/estimate", url.Values{})
	es, _ = e.st.ConfigEstimate(ctx, id)
	if err := e.st.FinishEstimate(ctx, es.ID, store.EstimateResult{Status: store.EstimateFailed, Error: `source "/home": source path does not exist`, At: now}); err != nil {
		t.Fatal(err)
	}
	if got := estimateSection(b.get(edit)); !strings.Contains(got, "✕ Failed") || !strings.Contains(got, "source path does not exist") {
		t.Errorf("failed estimate: %q", got)
	}

	mallory := e.browser()
	mallory.register("Mallory", "mallory@example.com", "correct horse battery")
	mallory.get("/configs")
	if r := mallory.post("/configs/"+id+"/estimate", url.Values{}); r.Status != http.StatusNotFound {
		t.Errorf("another user asks for an estimate: %d, want 404", r.Status)
	}
	if got, _ := e.st.ConfigEstimate(ctx, id); got.Status != store.EstimateFailed {
		t.Errorf("estimate after another user's try: %s, want failed", got.Status)
	}
}

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 123456: "123,456", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", n, got, want)
		}
	}
}
