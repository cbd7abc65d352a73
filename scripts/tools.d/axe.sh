# Sourced by scripts/tools.sh: axe-core, the WCAG audit the browser tests inject into
# every page they visit (internal/testenv/browser, Browser.Audit), from the npm
# registry into .cache/axe.
if [ ! -e .cache/axe/node_modules/axe-core/axe.min.js ]; then
	need_apt npm npm
	echo "tools: npm install axe-core" >&2
	mkdir -p .cache/axe
	npm install --prefix .cache/axe --no-audit --no-fund --silent axe-core@4.14.1 >/dev/null
fi
