// Package wine tells tests built for Windows whether they run under wine, which stands
// in for Windows in `make test` but lacks a few of its parts (services, ACL
// enforcement, symbolic links that directory listings show). A test that needs one of
// those skips under wine with the reason, and runs on real Windows.
package wine

import "testing"

// Skip skips t when it runs under wine, saying what wine lacks.
func Skip(t testing.TB, lacks string) {
	t.Helper()
	if Running() {
		t.Skipf("under wine, which cannot stand in for Windows here: %s", lacks)
	}
}
