package webhook

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRefusedAddresses: the addresses the guard refuses by default, and what
// --webhook-allow lets through.
func TestRefusedAddresses(t *testing.T) {
	g, err := ParseAllow("")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ip      string
		refused bool
	}{
		{"127.0.0.1", true}, {"::1", true}, {"10.0.0.1", true}, {"172.16.3.4", true}, {"192.168.1.1", true},
		{"169.254.169.254", true}, {"fe80::1", true}, {"100.64.0.1", true}, {"0.0.0.0", true},
		{"::ffff:127.0.0.1", true}, {"fd00:ec2::254", true}, {"64:ff9b::a00:1", true},
		{"93.184.215.14", false}, {"2606:4700::1111", false},
	} {
		if got := g.Refused(netip.MustParseAddr(c.ip)) != ""; got != c.refused {
			t.Errorf("Refused(%s) = %v, want %v", c.ip, got, c.refused)
		}
	}
	allowed, err := ParseAllow("10.0.0.0/8, 127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"10.1.2.3", "127.0.0.1"} {
		if why := allowed.Refused(netip.MustParseAddr(ip)); why != "" {
			t.Errorf("allowed %s refused: %s", ip, why)
		}
	}
	if allowed.Refused(netip.MustParseAddr("169.254.169.254")) == "" {
		t.Error("allowing 10/8 and 127.0.0.1 let the metadata address through")
	}
	for _, bad := range []string{"10.0.0.0/99", "user@host", "a b"} {
		if _, err := ParseAllow(bad); err == nil {
			t.Errorf("ParseAllow(%q) accepted it", bad)
		}
	}
}

// TestClientRefusesAtConnect: real connections to a local receiver (by IP and by a
// name resolving to loopback) and to private and metadata addresses are refused
// before any byte is sent, unless allowed; redirects are not followed.
func TestClientRefusesAtConnect(t *testing.T) {
	var hits atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer recv.Close()
	port := recv.URL[strings.LastIndex(recv.URL, ":")+1:]

	def, _ := ParseAllow("")
	c := def.Client()
	c.Timeout = 3 * time.Second // 10.0.0.1 and the metadata address never answer if dialled
	for _, u := range []string{recv.URL, "http://localhost:" + port, "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/"} {
		_, err := c.Get(u)
		if !errors.Is(err, ErrRefused) {
			t.Errorf("GET %s: %v, want refused", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the receiver got %d requests through the guard", n)
	}

	for _, allow := range []string{"127.0.0.1", "localhost"} {
		g, _ := ParseAllow(allow)
		for _, u := range []string{recv.URL, "http://localhost:" + port} {
			if allow == "127.0.0.1" || strings.Contains(u, "localhost") {
				resp, err := g.Client().Get(u)
				if err != nil {
					t.Errorf("allow %s: GET %s: %v", allow, u, err)
					continue
				}
				body, _ := ReadBody(resp)
				resp.Body.Close()
				if body != "ok" {
					t.Errorf("allow %s: GET %s = %q", allow, u, body)
				}
			}
		}
	}
	g, _ := ParseAllow("127.0.0.1")
	resp, err := g.Client().Get(recv.URL + "/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("redirect answered %d, want the 302 itself (not followed)", resp.StatusCode)
	}
}
