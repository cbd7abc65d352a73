package browser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/backapp/backapp/internal/testenv"
)

var axeSource = sync.OnceValues(func() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for { // the module root holds .cache/axe (scripts/tools.d/axe.sh)
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			b, err := os.ReadFile(filepath.Join(dir, ".cache/axe/node_modules/axe-core/axe.min.js"))
			return string(b), err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's directory")
		}
		dir = parent
	}
})

// axeViolation is one rule axe-core found broken, with the elements that break it.
type axeViolation struct {
	ID    string `json:"id"`
	Help  string `json:"help"`
	Nodes []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// Audit runs axe-core's WCAG 2.0/2.1 A and AA rules on the page as it is now, in the
// light and the dark colour scheme, at 1280 and 390 pixels wide, and fails the test
// (naming the step) on any violation. The page keeps the scheme and width it had
// (1280, light) afterwards. axe-core comes from `make tools`; without it the test is
// skipped (failed in CI).
func (b *Browser) Audit(step string) {
	b.t.Helper()
	src, err := axeSource()
	testenv.Require(b.t, err == nil, "axe-core is not installed (make tools puts it in .cache/axe)")
	has, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](`typeof axe !== "undefined"`))
	if !has { // Runtime.evaluate is not bound by the page's Content-Security-Policy
		if _, err := chromedp.Run(b.Ctx, chromedp.Evaluate[any](src+";true")); err != nil {
			b.Fail(step+": load axe-core", err)
		}
	}
	var problems []string
	for _, width := range []int64{1280, 390} {
		for _, scheme := range []string{"light", "dark"} {
			b.Run(step+": emulate", chromedp.EmulateViewport(width, 800), colorScheme(scheme))
			vs, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]axeViolation](
				`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]}).then(r => r.violations)`,
				chromedp.EvalAwaitPromise))
			if err != nil {
				b.Fail(step+": axe-core", err)
			}
			for _, v := range vs {
				var where []string
				for i, n := range v.Nodes {
					if i == 3 {
						where = append(where, fmt.Sprintf("… %d more", len(v.Nodes)-3))
						break
					}
					where = append(where, fmt.Sprint(n.Target)+" "+n.HTML)
				}
				problems = append(problems, fmt.Sprintf("%d px, %s: %s (%s): %s", width, scheme, v.ID, v.Help, strings.Join(where, "; ")))
			}
		}
	}
	b.Run(step+": reset the emulation", chromedp.EmulateViewport(1280, 800), colorScheme("light"))
	if len(problems) > 0 {
		loc, _ := chromedp.Run(b.Ctx, chromedp.Location())
		b.t.Errorf("%s: WCAG 2.1 AA violations at %s:\n%s", step, loc, strings.Join(problems, "\n"))
	}
}

// ColorScheme makes the page's prefers-color-scheme scheme ("light" or "dark").
func ColorScheme(scheme string) chromedp.Action[chromedp.Void] { return colorScheme(scheme) }

// colorScheme makes the page's prefers-color-scheme scheme ("light" or "dark").
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})
}
