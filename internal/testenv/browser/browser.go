// Package browser starts Debian's headless chromium for tests that drive the web UI
// as a person does (through chromedp), and puts a handler behind the same
// Content-Security-Policy the server sends, so inline script or style breaks there too.
package browser

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/testenv"
)

// CSP is the Content-Security-Policy the server sends (internal/httpx).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// Browser is a started chromium and the context its steps run in.
type Browser struct {
	t   *testing.T
	Ctx context.Context // cancelled after timeout or when the test ends
}

// Start starts chromium for the test and stops it when the test ends; the steps get
// timeout in all. It skips the test (fails in CI) when chromium is not installed and
// skips it in -short mode.
func Start(t *testing.T, timeout time.Duration) *Browser {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test in -short mode")
	}
	path := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	testenv.Require(t, path != "", "chromium is not installed (make tools installs Debian's chromium)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(actx)
	// The first run starts the browser, which lives as long as that run's context: no
	// timeout on it, only on the steps after.
	if err := chromedp.Do(bctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, timeout)
	t.Cleanup(func() { cancel(); cancelCtx(); cancelAlloc() })
	return &Browser{t: t, Ctx: ctx}
}

// Serve serves h on a test server that adds the server's Content-Security-Policy, and
// returns its URL.
func Serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", CSP)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Run runs the actions of one step; on failure the test stops with the step's name,
// the page's address and its visible text.
func (b *Browser) Run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.Ctx, actions...); err != nil {
		b.Fail(step, err)
	}
}

// Fail stops the test with err, the page's address and its visible text.
func (b *Browser) Fail(step string, err error) {
	b.t.Helper()
	loc, _ := chromedp.Run(b.Ctx, chromedp.Location())
	body, _ := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("body")))
	b.t.Fatalf("%s: %v\nat %s:\n%s", step, err, loc, body)
}

// TryText returns the visible text of the first element sel matches, or the error
// reading it. A page whose script replaces the element (live.js re-rendering a run
// or a restore) can make a read fail with "No node with given id found": tests that
// poll such a page read again.
func (b *Browser) TryText(sel string) (string, error) {
	return chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS(sel)))
}

// Text returns the visible text of the first element sel matches.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.Fail("read "+sel, err)
	}
	return s
}

// SavePNG writes a PNG of the whole page as it is now (beyond the viewport, at the
// viewport's width) to path.
func (b *Browser) SavePNG(step, path string) {
	b.t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.Fail(step+": screenshot", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
}
