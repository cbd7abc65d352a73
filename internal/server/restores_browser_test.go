package server_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/browser"
)

// TestRestoreSubsetInBrowser drives chromium through a restore as a person does it:
// sign in, open the incremental backup's page, follow "Restore…", walk down the folders
// from / to the source, tick a file, a folder in one directory and a file in another
// (the selection is kept while moving between folders), choose the other agent and a
// target, start; the restore's page follows the restore live until it says Completed,
// and agent B's real daemon has written exactly those files, byte for byte, from a
// chain (full + incremental) stored on the real S3 server.
func TestRestoreSubsetInBrowser(t *testing.T) {
	b := browser.Start(t, 2*time.Minute)
	e := startRestoreEnv(t, pgtest.New(t))
	e.RunDaemon(t, e.KeyB)
	base := browser.Serve(t, e.Srv.Config.Handler)
	t.Cleanup(e.App.Events.Close) // before the test server's Close waits for open event streams

	b.Run("sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)))
	b.Run("open the backup and its restore page",
		chromedp.Navigate(base+"/backups/"+e.Run2),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/restores/new?run=`+e.Run2+`"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/restores/new?run=`+e.Run2+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#restore-target`)))

	// dir is the folder the page shows (a hidden field of its form).
	dir := func() string {
		s, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`(document.querySelector('input[name="dir"]') || {}).value || ""`))
		if err != nil {
			b.Fail("read the folder", err)
		}
		return s
	}
	open := func(path string) {
		t.Helper()
		b.Run("open "+path, chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[name="open"][value=%q]`, path))))
		testenv.EventuallyWithin(t, 20*time.Second, "the picker to show "+path, func() bool { return dir() == path })
	}
	tick := func(path string) {
		t.Helper()
		b.Run("select "+path, chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name="sel"][type="checkbox"][value=%q]`, path))))
	}

	// From / down to the source, a folder at a time.
	var walk []string
	for p := e.Abs(""); p != "/"; p = filepath.ToSlash(filepath.Dir(p)) {
		walk = append([]string{p}, walk...)
	}
	for _, p := range walk {
		open(p)
	}
	tick(e.Abs("new.txt"))
	open(e.Abs("docs"))
	tick(e.Abs("docs/sub"))
	open(e.Abs(""))
	open(e.Abs("photos"))
	selected := b.Text(`#sel-h + ul`)
	for _, p := range []string{"new.txt", "docs/sub"} {
		if !strings.Contains(selected, e.Abs(p)) {
			t.Errorf("the Selected list lacks %s after moving between folders: %q", p, selected)
		}
	}

	tick(e.Abs("photos/p2.jpg"))

	target := t.TempDir()
	b.Run("choose the agent, the target and to skip names the target cannot hold",
		chromedp.SetValue(chromedp.CSS(`#restore-agent`), e.AgentB),
		chromedp.SendKeys(chromedp.CSS(`#restore-target`), target),
		chromedp.SetValue(chromedp.CSS(`#restore-unportable`), "skip"))
	b.Audit("restore form, filled in")
	b.Run("start",
		chromedp.Click(chromedp.CSS(`button[name="start"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#restore-status`)))
	loc, err := chromedp.Run(b.Ctx, chromedp.Location())
	if err != nil {
		b.Fail("read the restore's address", err)
	}
	id := loc[strings.LastIndex(loc, "/")+1:]
	if rs, err := e.App.Store.GetRestore(context.Background(), id); err != nil || rs.UnportableNames != store.UnportableSkip {
		t.Errorf("restore %s started from the form: %+v, %v; want unportable names skipped", id, rs, err)
	}

	// The page follows the restore by itself (live.js, from the event stream) until it ends.
	var status string
	testenv.EventuallyWithin(t, time.Minute, "the restore's page to show it ended", func() bool {
		s, err := b.TryText(`#restore-status`) // live.js may replace the element mid-read
		if err == nil {
			status = s
		}
		return strings.Contains(status, "Completed") || strings.Contains(status, "Failed")
	})
	if !strings.Contains(status, "Completed") {
		b.Fail("the restore's page", fmt.Errorf("status %q, want Completed", status))
	}
	if facts := b.Text(`#restore-facts`); !strings.Contains(facts, "Skipped with a warning") {
		t.Errorf("the restore's page does not say names the target cannot hold are skipped: %q", facts)
	}
	b.Audit("completed restore")
	e.CheckTree(t, target, "new.txt", "docs/sub/c.txt", "docs/sub/deep/d.md", "photos/p2.jpg")
}
