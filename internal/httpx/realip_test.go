package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRealIP(t *testing.T) {
	trusted, err := ParsePrefixes("10.0.0.0/8, 192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		peer, xff, want string
	}{
		{"203.0.113.5:1234", "1.2.3.4", "203.0.113.5"},             // untrusted peer: header ignored
		{"10.1.1.1:1234", "198.51.100.9", "198.51.100.9"},          // one trusted proxy
		{"10.1.1.1:1234", "6.6.6.6, 198.51.100.9", "198.51.100.9"}, // client prepends a forgery: rightmost wins
		{"10.1.1.1:1234", "198.51.100.9, 192.0.2.7", "198.51.100.9"},
		{"10.1.1.1:1234", "", "10.1.1.1"},
		{"10.1.1.1:1234", "garbage", "10.1.1.1"},
	}
	for _, c := range cases {
		var got string
		h := RealIP(trusted)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = ClientIP(r) }))
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != c.want {
			t.Errorf("peer %s XFF %q: client %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
	if _, err := ParsePrefixes("10.0.0.0/33"); err == nil {
		t.Error("bad prefix accepted")
	}
}
