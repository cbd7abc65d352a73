# Sourced by scripts/tools.sh: axe-core, the WCAG audit the browser tests inject into
# every page they visit (internal/testenv/browser, Browser.Audit), from the npm
# registry into .cache/axe.
if [ ! -e .cache/axe/node_modules/axe-core/axe.min.js ]; then
	need_apt npm npm
	echo "tools: npm install axe-core" >&2
	mkdir -p .cache/axe
	npm install --prefix .cache/axe --no-audit --no-fund --silent axe-core@4.14.1 >/dev/null
fi
# And for the monitoring pages: axe-core (MPL-2.0), the WCAG checker the accessibility
# browser test (internal/server/a11y_browser_test.go) runs inside chromium. Kept in
# GOPATH/share/axe-core, so only the first `make tools` on a machine fetches it.
axe_dir="$(go env GOPATH)/share/axe-core"
if [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
	echo "tools: npm install axe-core@4.14.1" >&2
	mkdir -p "$axe_dir"
	npm install --silent --no-audit --no-fund --prefix "$axe_dir" axe-core@4.14.1 >/dev/null
fi
