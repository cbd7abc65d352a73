package builtin

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Route sends requests whose URL starts with Prefix (scheme, host and path, such as
// "http://backapp-builtin.localhost/api/agent/") to Handler.
type Route struct {
	Prefix  string
	Handler http.Handler
}

// Transport is an http.RoundTripper that serves requests matching one of Routes by
// calling the route's handler in-process (no socket), streaming both bodies through
// pipes; other requests go to Next (http.DefaultTransport when nil).
type Transport struct {
	Routes []Route
	Next   http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	u := req.URL.String()
	for _, rt := range t.Routes {
		if strings.HasPrefix(u, rt.Prefix) {
			return serve(rt.Handler, req)
		}
	}
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(req)
}

// serve runs h on a server-side copy of req and returns the response as soon as its
// header is written; the body streams while h keeps writing.
func serve(h http.Handler, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	sr := req.Clone(ctx)
	sr.RequestURI = req.URL.RequestURI()
	sr.RemoteAddr = "127.0.0.1:0" // the server itself
	sr.Host = req.URL.Host
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	if sr.ContentLength == 0 && sr.Body != http.NoBody {
		sr.ContentLength = -1
	}
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan *http.Response, 1), req: req, body: pr}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				w.WriteHeader(http.StatusInternalServerError)
				pw.CloseWithError(fmt.Errorf("in-process handler panicked: %v", p))
				return
			}
			w.WriteHeader(http.StatusOK) // a handler that wrote nothing answered 200
			pw.Close()
		}()
		h.ServeHTTP(w, sr)
	}()
	select {
	case resp := <-w.ready:
		return resp, nil
	case <-ctx.Done():
		// The handler sees the same cancelled context; a write it still makes fails.
		pr.CloseWithError(ctx.Err())
		return nil, ctx.Err()
	}
}

// pipeWriter is the handler's http.ResponseWriter: the header goes to the waiting
// RoundTrip once, the body into a pipe the client reads.
type pipeWriter struct {
	header http.Header
	pw     *io.PipeWriter
	body   *io.PipeReader
	req    *http.Request
	once   sync.Once
	ready  chan *http.Response
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		return // informational answers are not passed on
	}
	w.once.Do(func() {
		h := w.header.Clone()
		resp := &http.Response{Status: fmt.Sprintf("%d %s", code, http.StatusText(code)), StatusCode: code,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Body: w.body, ContentLength: -1, Request: w.req}
		if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
			resp.ContentLength = n
		}
		if w.req.Method == http.MethodHead {
			resp.Body = http.NoBody
			w.body.Close() // so that a body the handler writes anyway does not block it
		}
		w.ready <- resp
	})
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(p)
}
