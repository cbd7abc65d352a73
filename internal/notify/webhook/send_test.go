package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a real HTTP server that keeps what it got.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []*http.Request
	body [][]byte
}

func newReceiver(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got, rc.body = append(rc.got, r), append(rc.body, b)
		rc.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Write([]byte("thanks"))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) last(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) == 0 {
		t.Fatal("the receiver got nothing")
	}
	return rc.got[len(rc.got)-1], rc.body[len(rc.body)-1]
}

func localClient(t *testing.T) *http.Client {
	g, err := ParseAllow("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return g.Client()
}

// TestGenericSignature: a real receiver recomputes the HMAC over "<timestamp>.<body>"
// with the channel's secret and checks the timestamp; a changed body, another
// secret or an old timestamp (a replay) fail the check.
func TestGenericSignature(t *testing.T) {
	rc := newReceiver(t, nil)
	body := []byte(`{"version":1,"event":"failure","title":"Failed"}`)
	now := time.Now()
	res := Send(context.Background(), localClient(t), Request{URL: rc.URL + "/hook", Preset: Generic, Secret: "0123456789abcdef",
		ID: "msg-1", Event: "failure", Body: body}, now)
	if res.Err != nil || res.Status != 200 || res.Response != "thanks" {
		t.Fatalf("Send = %+v, want 200 thanks", res)
	}
	r, got := rc.last(t)
	if string(got) != string(body) {
		t.Errorf("body = %s, want the generic document as it is", got)
	}
	sig, ts := r.Header.Get(HeaderSignature), r.Header.Get(HeaderTimestamp)
	if err := Verify("0123456789abcdef", sig, ts, got, time.Now(), 5*time.Minute); err != nil {
		t.Errorf("the receiver's check failed: %v", err)
	}
	if r.Header.Get(HeaderDelivery) != "msg-1" || r.Header.Get(HeaderEvent) != "failure" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", r.Header)
	}
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Errorf("signature %q is not sha256=<64 hex>", sig)
	}
	for name, err := range map[string]error{
		"another secret": Verify("another-secret-16", sig, ts, got, time.Now(), 5*time.Minute),
		"a changed body": Verify("0123456789abcdef", sig, ts, append([]byte(nil), append(got, ' ')...), time.Now(), 5*time.Minute),
		"a replay":       Verify("0123456789abcdef", sig, ts, got, time.Now().Add(10*time.Minute), 5*time.Minute),
	} {
		if err == nil {
			t.Errorf("%s passed the check", name)
		}
	}
}

// TestPresetBodies: each preset's body is what its service accepts.
func TestPresetBodies(t *testing.T) {
	rc := newReceiver(t, nil)
	c := localClient(t)
	req := Request{URL: rc.URL, Title: "Failed: backup \"site\"", Text: "it failed\nRun: http://x/backups/1", Failure: true,
		Body: []byte(`{"version":1}`)}
	for _, tc := range []struct {
		preset string
		check  func(r *http.Request, body []byte) string
	}{
		{Slack, func(_ *http.Request, b []byte) string { return jsonField(b, "text") }},
		{Discord, func(_ *http.Request, b []byte) string { return jsonField(b, "content") }},
		{Teams, func(_ *http.Request, b []byte) string {
			if jsonField(b, "@type") != "MessageCard" {
				return ""
			}
			return jsonField(b, "title") + "\n" + jsonField(b, "text")
		}},
		{Ntfy, func(r *http.Request, b []byte) string {
			if r.Header.Get("Priority") != "high" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
				return ""
			}
			return r.Header.Get("Title") + "\n" + string(b)
		}},
		{Gotify, func(_ *http.Request, b []byte) string {
			var m struct {
				Title, Message string
				Priority       int
			}
			if json.Unmarshal(b, &m) != nil || m.Priority != 8 {
				return ""
			}
			return m.Title + "\n" + m.Message
		}},
	} {
		req.Preset = tc.preset
		if res := Send(context.Background(), c, req, time.Now()); res.Err != nil {
			t.Fatalf("%s: %v", tc.preset, res.Err)
		}
		r, b := rc.last(t)
		got := tc.check(r, b)
		if !strings.Contains(got, "site") || !strings.Contains(got, "it failed") {
			t.Errorf("%s: body %s (headers %v) does not carry the title and the text", tc.preset, b, r.Header)
		}
		if r.Header.Get(HeaderSignature) != "" {
			t.Errorf("%s: signed; only generic deliveries are", tc.preset)
		}
	}
	if _, err := Build(context.Background(), Request{URL: rc.URL, Preset: "pager"}, time.Now()); err == nil {
		t.Error("an unknown preset was built")
	}
}

func jsonField(b []byte, k string) string {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	s, _ := m[k].(string)
	return s
}

// TestSendFailures: a 500 names the status and the answer's start, a redirect to a
// private address is not followed, a body larger than MaxBodyRead is cut, an unknown
// scheme is refused before anything is sent, and a hostname resolving to 127.0.0.1
// is refused unless allowed.
func TestSendFailures(t *testing.T) {
	big := strings.Repeat("x", 3*MaxBodyRead)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/500":
			http.Error(w, "database on fire", http.StatusInternalServerError)
		case "/redirect":
			http.Redirect(w, r, "http://10.0.0.1/internal", http.StatusTemporaryRedirect)
		case "/big":
			w.Write([]byte(big))
		}
	})
	c := localClient(t)
	send := func(path string) Result {
		return Send(context.Background(), c, Request{URL: rc.URL + path, Body: []byte(`{}`)}, time.Now())
	}
	if r := send("/500"); r.Status != 500 || r.Err == nil || !strings.Contains(r.Err.Error(), "status 500: database on fire") {
		t.Errorf("500: %+v", r)
	}
	if r := send("/redirect"); r.Status != 307 || r.Err == nil || !strings.Contains(r.Err.Error(), "10.0.0.1") {
		t.Errorf("redirect: %+v, want the 307 as an error naming where it pointed", r)
	}
	if r := send("/big"); r.Err != nil || len(r.Response) != MaxBodyRead {
		t.Errorf("big answer: %d bytes read, err %v; want %d", len(r.Response), r.Err, MaxBodyRead)
	}
	for _, u := range []string{"ftp://example.com/x", "file:///etc/passwd", "http://user:pw@example.com/", "/relative"} {
		if r := Send(context.Background(), c, Request{URL: u}, time.Now()); r.Err == nil || r.Status != 0 {
			t.Errorf("%s: %+v, want refused before sending", u, r)
		}
	}
	// A host name that resolves to 127.0.0.1 (localhost) is refused by default.
	_, port, _ := net.SplitHostPort(rc.Listener.Addr().String())
	def, _ := ParseAllow("")
	if r := Send(context.Background(), def.Client(), Request{URL: "http://localhost:" + port + "/", Body: []byte(`{}`)}, time.Now()); r.Err == nil ||
		!strings.Contains(r.Err.Error(), "refused") {
		t.Errorf("localhost without allowing it: %+v", r)
	}
}
