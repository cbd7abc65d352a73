package builtin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTransport(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/agent/echo":
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Remote", r.RemoteAddr)
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(r.Method + " " + r.URL.RequestURI() + " " + string(b)))
		case "/api/agent/stream":
			w.Write([]byte("first"))
			<-release // the client has the header and first bytes before the handler ends
			w.Write([]byte(" second"))
		case "/api/agent/slow":
			<-r.Context().Done()
		case "/api/agent/panic":
			panic("boom")
		}
	})
	other := roundTripFunc(func(r *http.Request) (*http.Response, error) { return nil, errors.New("went to the network") })
	c := &http.Client{Transport: &Transport{Routes: []Route{{Prefix: Origin + "/api/agent/", Handler: h}}, Next: other}}

	resp, err := c.Post(Origin+"/api/agent/echo?x=1", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || string(b) != "POST /api/agent/echo?x=1 body" || resp.Header.Get("X-Remote") != "127.0.0.1:0" {
		t.Errorf("echo = %d %q remote %q", resp.StatusCode, b, resp.Header.Get("X-Remote"))
	}

	resp, err = c.Get(Origin + "/api/agent/stream")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first" {
		t.Errorf("first bytes = %q, %v", buf, err)
	}
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(rest) != " second" {
		t.Errorf("rest = %q", rest)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, Origin+"/api/agent/slow", nil)
	if _, err := c.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow handler with a deadline: %v, want deadline exceeded", err)
	}

	resp, err = c.Get(Origin + "/api/agent/panic")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError || err == nil {
			t.Errorf("panicking handler: %d, body error %v; want 500 and a body error", resp.StatusCode, err)
		}
	}

	if _, err := c.Get("http://elsewhere.example/x"); err == nil || !strings.Contains(err.Error(), "went to the network") {
		t.Errorf("other URL: %v, want it sent to Next", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
