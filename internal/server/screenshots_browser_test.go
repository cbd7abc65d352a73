package server_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/server/servertest"
	"github.com/backapp/backapp/internal/testenv/browser"
)

// TestScreenshots is `make screenshots`: with BACKAPP_SCREENSHOTS naming a directory,
// it seeds a real server (SQLite, the built-in storage) through its API and a real
// agent — backups that complete and one that fails, a restore — and writes PNGs of
// the dashboard, the configurations, the backups, a run, a failed run, the restore
// form and a restore, at 390 and 1280 px, light and dark, for people to review. Each
// PNG is checked to be as wide as its viewport. Without the variable it is skipped.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("BACKAPP_SCREENSHOTS")
	if dir == "" {
		t.Skip("BACKAPP_SCREENSHOTS is not set: make screenshots sets it")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := browser.Start(t, 4*time.Minute)
	e := startRestoreEnv(t, "")
	e.RunDaemon(t, e.KeyB)
	base := browser.Serve(t, e.Srv.Config.Handler)
	t.Cleanup(e.App.Events.Close)
	ctx := context.Background()

	runner := servertest.AgentRunner(t, e.Env, e.KeyA)
	ship := agent.NewLogShipper(runner.Client)
	runner.Log = slog.New(ship.Handler(slog.DiscardHandler, slog.LevelInfo))
	r := e.Alice.JSON("POST", "/api/configs", with(goodConfig(e.AgentA), "name", "Database dumps",
		"sources", []map[string]any{{"path": filepath.Join(t.TempDir(), "missing")}}, "options", map[string]any{"type": "full", "compression": "zstd", "onError": "fail"}))
	want(t, r, http.StatusCreated)
	res, _ := runner.Backup(ctx, agent.BackupRequest{ConfigID: r.Body["id"].(string)})
	failed := res.RunID
	ship.Flush(ctx)
	r = e.Alice.JSON("POST", "/api/restores", map[string]any{"runId": e.Run2, "agentId": e.AgentB, "targetDir": t.TempDir(),
		"paths": []string{e.Abs("docs")}})
	want(t, r, http.StatusCreated)
	restore := r.Body["id"].(string)
	e.WaitRestore(t, e.Alice, restore)

	b.Run("sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/configs"]`)))
	pages := []struct{ name, path, sel string }{
		{"dashboard", "/dashboard", "main h1"},
		{"configurations", "/configs", "table.configs"},
		{"configuration", "/configs/" + e.ConfigID, "#settings"},
		{"backups", "/backups", "table.backups"},
		{"run", "/backups/" + e.Run2, "main h1"},
		{"run-failed", "/backups/" + failed, "#run-cause"},
		{"restore-form", "/restores/new?run=" + e.Run2, "#restore-target"},
		{"restore", "/restores/" + restore, "#restore-status"},
	}
	for _, scheme := range []string{"light", "dark"} {
		for _, width := range []int64{390, 1280} {
			b.Run("emulate", chromedp.EmulateViewport(width, 800), browser.ColorScheme(scheme))
			for _, p := range pages {
				b.Run("open "+p.path, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(p.sel)))
				file := filepath.Join(dir, fmt.Sprintf("%s-%d-%s.png", p.name, width, scheme))
				b.SavePNG(p.name, file)
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				cfg, err := png.DecodeConfig(bytes.NewReader(data))
				if err != nil || int64(cfg.Width) != width {
					t.Errorf("%s: %dx%d (%v), want %d px wide", file, cfg.Width, cfg.Height, err, width)
				}
			}
		}
	}
	t.Logf("screenshots in %s", dir)
}
