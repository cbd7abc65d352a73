package agent

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
)

func TestParseServerURL(t *testing.T) {
	for _, tc := range []struct {
		raw      string
		insecure bool
		want     string // "" when an error is wanted
		errHas   string
	}{
		{raw: "https://backup.example.com/", want: "https://backup.example.com"},
		{raw: "https://backup.example.com/backapp/", want: "https://backup.example.com/backapp"},
		{raw: "http://localhost:8080", want: "http://localhost:8080"},
		{raw: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{raw: "http://[::1]:8080", want: "http://[::1]:8080"},
		{raw: "http://backup.example.com", errHas: "refusing plain http"},
		{raw: "http://10.0.0.5:8080", errHas: "--insecure"},
		{raw: "http://10.0.0.5:8080", insecure: true, want: "http://10.0.0.5:8080"},
		{raw: "backup.example.com", errHas: "no scheme"},
		{raw: "ftp://backup.example.com", errHas: "scheme"},
		{raw: "", errHas: "empty"},
		{raw: "https://user:pw@backup.example.com", errHas: "user info"},
	} {
		u, err := ParseServerURL(tc.raw, tc.insecure)
		if tc.want == "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("ParseServerURL(%q, %v) = %v, %v; want an error with %q", tc.raw, tc.insecure, u, err, tc.errHas)
			}
			continue
		}
		if err != nil || u.String() != tc.want {
			t.Errorf("ParseServerURL(%q, %v) = %v, %v; want %s", tc.raw, tc.insecure, u, err, tc.want)
		}
	}
}

func fastClient(t *testing.T, server string) *Client {
	t.Helper()
	return fastClientWithin(t, server, 5*time.Second)
}

// fastClientWithin is fastClient with its own per-request timeout.
func fastClientWithin(t *testing.T, server string, timeout time.Duration) *Client {
	t.Helper()
	c, err := NewClient(ClientOptions{Server: server, Key: testKey, Attempts: 3, Timeout: timeout,
		Backoff: func(int) time.Duration { return time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientErrorsSayWhatToFix(t *testing.T) {
	ctx := context.Background()
	// A closed port: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	_, err = fastClient(t, closed).Register(ctx, agentproto.Host{})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("closed port: got %v, want unreachable and 'refused'", err)
	}

	// A name that does not resolve. The system resolver may take seconds to say so on
	// a loaded machine (5 s was seen to time out): give it a minute.
	_, err = fastClientWithin(t, "https://backapp-agent-test.invalid", time.Minute).Register(ctx, agentproto.Host{})
	if err == nil || !strings.Contains(err.Error(), "resolve") || errors.Is(err, ErrUnreachable) {
		t.Errorf("unknown host: got %v, want a permanent 'cannot resolve'", err)
	}

	// Something that is not backapp (a web page answering 404 in HTML).
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(404)
		w.Write([]byte("<html>nope</html>"))
	}))
	defer other.Close()
	_, err = fastClient(t, other.URL).Register(ctx, agentproto.Host{})
	if !errors.Is(err, ErrNotBackapp) || !strings.Contains(err.Error(), "check the server URL") {
		t.Errorf("other server: got %v, want ErrNotBackapp", err)
	}

	// 200 with HTML (a captive portal, a SPA's index page).
	html200 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html>hello</html>"))
	}))
	defer html200.Close()
	_, err = fastClient(t, html200.URL).Register(ctx, agentproto.Host{})
	if !errors.Is(err, ErrNotBackapp) {
		t.Errorf("html 200: got %v, want ErrNotBackapp", err)
	}

	// A redirect (http → https): the key is not sent on; the message names the target.
	redir := httptest.NewServer(http.RedirectHandler("https://backup.example.com/api/agent/register", http.StatusMovedPermanently))
	defer redir.Close()
	_, err = fastClient(t, redir.URL).Register(ctx, agentproto.Host{})
	if err == nil || !strings.Contains(err.Error(), "redirects to") {
		t.Errorf("redirect: got %v", err)
	}

	// Wrong, then revoked key.
	f := newFakeServer(t)
	bad, _ := NewClient(ClientOptions{Server: f.srv.URL, Key: agentproto.KeyPrefix + "wrong"})
	_, err = bad.Register(ctx, agentproto.Host{})
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "enroll again") {
		t.Errorf("wrong key: got %v, want ErrUnauthorized saying to enroll again", err)
	}
	c := fastClient(t, f.srv.URL)
	if _, err := c.Register(ctx, agentproto.Host{Hostname: "h"}); err != nil {
		t.Fatalf("register: %v", err)
	}
	f.set(func(f *fakeServer) { f.revoked = true })
	_, err = c.Heartbeat(ctx, agentproto.HeartbeatRequest{}, 0)
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("revoked key: got %v, want ErrUnauthorized", err)
	}
}

func TestClientRetriesTransientFailures(t *testing.T) {
	f := newFakeServer(t)
	c := fastClient(t, f.srv.URL)
	ctx := context.Background()
	f.set(func(f *fakeServer) { f.fail503 = 2 })
	if _, err := c.Configs(ctx); err != nil {
		t.Errorf("after two 503s: %v", err)
	}
	f.set(func(f *fakeServer) { f.fail503 = 5 })
	_, err := c.Configs(ctx)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 503 || !errors.Is(err, ErrUnreachable) {
		t.Errorf("after three 503s (3 attempts): got %v, want the 503", err)
	}
	f.set(func(f *fakeServer) { f.fail503 = 0; f.down = true })
	_, err = c.Configs(ctx)
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("connections dropped: got %v, want ErrUnreachable", err)
	}
	f.set(func(f *fakeServer) { f.down = false })
	if _, err := c.Configs(ctx); err != nil {
		t.Errorf("back up: %v", err)
	}
}

// TestPrivateCA: a server whose certificate a private CA signed is refused with a
// message about trust, and accepted with that CA from LoadCACert; the pre-signed URL
// client (NewHTTPClient) trusts it too. A file without a certificate is refused.
func TestPrivateCA(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(agentproto.RegisterResponse{AgentID: "a-1", Name: "box", UserID: "u-1"})
	}))
	defer srv.Close()
	key := agentproto.KeyPrefix + "k"
	plain, err := NewClient(ClientOptions{Server: srv.URL, Key: key, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Register(ctx, agentproto.Host{}); err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Errorf("without the CA: got %v, want 'not trusted'", err)
	}

	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	roots, err := LoadCACert(caFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(ClientOptions{Server: srv.URL, Key: key, RootCAs: roots, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if reg, err := c.Register(ctx, agentproto.Host{}); err != nil || reg.AgentID != "a-1" {
		t.Errorf("with the CA: %+v, %v", reg, err)
	}
	resp, err := NewHTTPClient(roots).Get(srv.URL + "/presigned")
	if err != nil {
		t.Errorf("pre-signed URL client with the CA: %v", err)
	} else {
		resp.Body.Close()
	}

	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCACert(empty); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("file without a certificate: got %v", err)
	}
	if _, err := LoadCACert(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("missing file accepted")
	}
}
