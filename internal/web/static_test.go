package web

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestStatic(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	total := 0
	for _, tc := range []struct{ name, ctype string }{
		{"app.css", "text/css"},
		{"app.js", "javascript"},
		{"icon.svg", "image/svg+xml"},
	} {
		u, err := e.h.static.url(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u, "/static/") || !strings.HasSuffix(u, "/"+tc.name) {
			t.Errorf("static URL %q", u)
		}
		r := b.get(u)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d", u, r.Status)
		}
		if got := r.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", u, got)
		}
		if got := r.Header.Get("Content-Type"); !strings.Contains(got, tc.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", u, got, tc.ctype)
		}
		if tc.name != "icon.svg" {
			total += len(r.Body)
		}
		// A page cached across an upgrade asks for an old checksum: it is sent on.
		r = b.get("/static/0123456789abcdef/" + tc.name)
		if r.Status != http.StatusFound || r.Location() != u {
			t.Errorf("old checksum for %s: got %d → %q, want 302 → %s", tc.name, r.Status, r.Location(), u)
		}
		if got := r.Header.Get("Cache-Control"); strings.Contains(got, "immutable") {
			t.Errorf("redirect for an old checksum is cacheable forever: %q", got)
		}
	}
	if total > 50*1024 {
		t.Errorf("CSS and JS weigh %d bytes, want under 50 KB", total)
	}

	// Pages link the checksummed URLs.
	r := b.get("/login")
	css, _ := e.h.static.url("app.css")
	js, _ := e.h.static.url("app.js")
	if !strings.Contains(r.Body, `href="`+css+`"`) || !strings.Contains(r.Body, `src="`+js+`"`) {
		t.Error("login page does not link the checksummed CSS and JS")
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("HTML page Cache-Control %q, want no-store", got)
	}
}

// TestStaticChecksumFollowsContent: the URL changes when the file does.
func TestStaticChecksumFollowsContent(t *testing.T) {
	st, err := loadStatic()
	if err != nil {
		t.Fatal(err)
	}
	f := st.files["app.css"]
	f2, err := staticFS.Open("static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	b, _ := io.ReadAll(f2)
	if string(b) != string(f.body) || len(f.sum) != 16 {
		t.Fatalf("app.css: sum %q, %d bytes", f.sum, len(f.body))
	}
}
