# Sourced by scripts/tools.sh: Debian's chromium, which the browser tests
# (internal/web/browser_test.go, chromedp) drive headless.
need_apt chromium chromium
