package server_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv/browser"

	"github.com/backapp/backapp/internal/testenv"
)

// TestEncryptedRestoreInBrowser: a configuration "with a passphrase" the server keeps
// is backed up by agent A; in chromium, its restore page says how the key reaches the
// agent, Start restores the files through agent B's real daemon (which holds no key:
// the server hands it the passphrase for that restore), byte for byte. The download
// of one of its files explains in plain words why the browser cannot have it. A
// restore that failed (a file in the way) is retried from its page and completes. A
// backup encrypted to age recipients asks for the identity (an upload or a paste) for
// that one restore: agent B restores with it; something else is refused beside the
// field; a retry asks for it again. Every page visited passes the WCAG 2.1 AA audit.
func TestEncryptedRestoreInBrowser(t *testing.T) {
	b := browser.Start(t, 3*time.Minute)
	e := startRestoreEnv(t, pgtest.New(t))
	e.RunDaemon(t, e.KeyB)
	base := browser.Serve(t, e.Srv.Config.Handler)
	t.Cleanup(e.App.Events.Close)

	backup := func(name string, options map[string]any) string {
		t.Helper()
		body := with(goodConfig(e.AgentA), "name", name, "sources", []map[string]any{{"path": e.Src}},
			"destination", map[string]any{"destinationId": e.DestID}, "options", options)
		r := e.Alice.JSON("POST", "/api/configs", body)
		want(t, r, http.StatusCreated)
		return backupRun(t, agentRunner(t, e.Env, e.KeyA), r.Body["id"].(string))
	}
	passRun := backup("With a passphrase", map[string]any{"type": "full", "compression": "gzip",
		"encryptionMode": "passphrase", "passphrase": "correct horse battery staple"})
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ageRun := backup("To a recipient", map[string]any{"type": "full", "compression": "zstd",
		"encryptionMode": "age", "recipients": []string{id.Recipient().String()}})

	b.Run("sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)))

	waitStatus := func(wantWord string) {
		t.Helper()
		var status string
		testenv.EventuallyWithin(t, 60*time.Second, "the restore to finish", func() bool {
			status = b.Text(`#restore-status`)
			return strings.Contains(status, "Completed") || strings.Contains(status, "Failed")
		})
		if !strings.Contains(status, wantWord) {
			b.Fail("the restore's page", fmt.Errorf("status %q, want %s", status, wantWord))
		}
	}
	location := func() string {
		s, err := chromedp.Run(b.Ctx, chromedp.Location())
		if err != nil {
			b.Fail("location", err)
		}
		return strings.TrimPrefix(s, base)
	}
	file := e.Abs("docs/a.txt")
	restorePage := func(run string) {
		t.Helper()
		b.Run("open the restore page of "+run,
			chromedp.Navigate(base+"/restores/new?run="+run+"&sel="+file),
			chromedp.WaitVisible(chromedp.CSS(`#restore-target`)))
	}

	// The passphrase backup restores through an agent that has no key of its own.
	restorePage(passRun)
	if got := b.Text(`#restore-encryption`); !strings.Contains(got, "passphrase its configuration keeps") {
		t.Errorf("the restore page of a passphrase backup says %q", got)
	}
	b.Audit("restore page, passphrase backup")
	target := t.TempDir()
	b.Run("start the restore to agent B",
		chromedp.SetValue(chromedp.CSS(`#restore-agent`), e.AgentB),
		chromedp.SendKeys(chromedp.CSS(`#restore-target`), target),
		chromedp.Click(chromedp.CSS(`button[name="start"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#restore-status`)))
	waitStatus("Completed")
	e.CheckTree(t, target, "docs/a.txt")

	// Again into the same folder without overwriting: the file is in the way, the
	// restore fails; once it is moved away, "Retry" restores it.
	restorePage(passRun)
	b.Run("start a restore that fails",
		chromedp.SetValue(chromedp.CSS(`#restore-agent`), e.AgentB),
		chromedp.SendKeys(chromedp.CSS(`#restore-target`), target),
		chromedp.Click(chromedp.CSS(`button[name="start"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#restore-status`)))
	waitStatus("Failed")
	failed := location()
	b.Audit("failed restore")
	if err := os.Remove(filepath.Join(target, e.Src, "docs/a.txt")); err != nil {
		t.Fatal(err)
	}
	b.Run("retry", chromedp.Click(chromedp.CSS(`form[action$="/retry"] button`)))
	// The failed restore's page has a status too: wait for the browser to leave it.
	testenv.EventuallyWithin(t, 30*time.Second, "a new restore's page after Retry (the failed one is "+failed+")", func() bool {
		got := location()
		return got != failed && strings.HasPrefix(got, "/restores/")
	})
	b.Run("the new restore's status", chromedp.WaitVisible(chromedp.CSS(`#restore-status`)))
	waitStatus("Completed")
	e.CheckTree(t, target, "docs/a.txt")

	// The browser cannot download a file of an encrypted backup, and says why.
	b.Run("download a file of the encrypted backup",
		chromedp.Navigate(base+"/restores/file?run="+passRun+"&path="+file),
		chromedp.WaitVisible(chromedp.CSS(`h1`)))
	if got := b.Text(`main`); !strings.Contains(got, "cannot be downloaded in the browser") || !strings.Contains(got, "Only an agent can decrypt it") ||
		strings.Contains(got, "conflicts") {
		t.Errorf("the download page of an encrypted backup says %q", got)
	}
	b.Audit("download of an encrypted file")
	b.Run("follow the offer to restore it", chromedp.Click(chromedp.CSS(`a.button.primary`)), chromedp.WaitVisible(chromedp.CSS(`#restore-target`)))
	if got := b.Text(`#sel-h + ul`); !strings.Contains(got, file) {
		t.Errorf("the restore page offered from the download has the selection %q, want %s", got, file)
	}

	// An age-recipient backup: the page asks for the identity, for this restore only.
	restorePage(ageRun)
	got := b.Text(`#restore-encryption`)
	for _, w := range []string{"never holds the matching private key", "for this restore only", "only until the agent has acknowledged the restore",
		"backapp-agent restore --run " + ageRun, "--identity FILE"} {
		if !strings.Contains(got, w) {
			t.Errorf("the restore page of an age backup lacks %q: %q", w, got)
		}
	}
	b.Audit("restore page, age backup")
	ageTarget := t.TempDir()
	startAge := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		b.Run(step, append([]chromedp.Action[chromedp.Void]{
			chromedp.SetValue(chromedp.CSS(`#restore-agent`), e.AgentB),
			chromedp.SetValue(chromedp.CSS(`#restore-target`), ageTarget)}, actions...)...)
	}
	// Something that is not an identity is refused beside the field, and not kept.
	startAge("start with a wrong identity",
		chromedp.SendKeys(chromedp.CSS(`#restore-identity-text`), "-----BEGIN OPENSSH PRIVATE KEY-----"),
		chromedp.Click(chromedp.CSS(`button[name="start"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#restore-identity-error`)))
	if got := b.Text(`#restore-identity-error`); !strings.Contains(got, "age identity") {
		t.Errorf("a wrong identity: %q", got)
	}
	if v, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`document.querySelector('#restore-identity-text').value`)); v != "" {
		t.Errorf("the refused identity is written back into the form: %q", v)
	}
	b.Audit("age restore, wrong identity")
	// The identity file, uploaded, lets agent B (which holds no key) restore the files.
	idFile := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(idFile, []byte("# created: now\n# public key: "+id.Recipient().String()+"\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startAge("start with the identity file",
		chromedp.SetUploadFiles(chromedp.CSS(`#restore-identity-file`), []string{idFile}),
		chromedp.Click(chromedp.CSS(`button[name="start"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#restore-status`)))
	waitStatus("Completed")
	e.CheckTree(t, ageTarget, "docs/a.txt")
	b.Audit("age restore, completed")

	// Without an identity the agent says what it needs; Retry asks for the identity
	// again (it went with that restore), and pasted, it restores.
	if err := os.RemoveAll(filepath.Join(ageTarget, e.Src)); err != nil {
		t.Fatal(err)
	}
	restorePage(ageRun)
	startAge("start without the identity", chromedp.Click(chromedp.CSS(`button[name="start"]`)), chromedp.WaitVisible(chromedp.CSS(`#restore-status`)))
	waitStatus("Failed")
	if got := b.Text(`main`); !strings.Contains(got, "identity") {
		t.Errorf("the restore without an identity failed saying %q", got)
	}
	b.Run("retry", chromedp.Click(chromedp.CSS(`form[action$="/retry"] button`)), chromedp.WaitVisible(chromedp.CSS(`#restore-identity-text`)))
	if got := b.Text(`.flash`); !strings.Contains(got, "Give the age identity again") {
		t.Errorf("retrying an age restore says %q", got)
	}
	b.Audit("age restore, retry asks for the identity")
	b.Run("paste the identity and start",
		chromedp.SendKeys(chromedp.CSS(`#restore-identity-text`), id.String()),
		chromedp.Click(chromedp.CSS(`button[name="start"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#restore-status`)))
	waitStatus("Completed")
	e.CheckTree(t, ageTarget, "docs/a.txt")
	// The identity went with its restore and is not kept once the restore is done.
	for _, r := range e.Alice.JSON("GET", "/api/restores", nil).Body["restores"].([]any) {
		if rid := r.(map[string]any)["id"].(string); identityStored(t, e.App.Store, rid) {
			t.Errorf("restore %s still holds an identity after it finished", rid)
		}
	}
}
