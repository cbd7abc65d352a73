package faultproxy_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/faultproxy"
)

// upstream is an httptest server that records what reaches it and answers GETs with
// body (Content-Length set unless chunked), honouring a Range of the form bytes=N-.
type upstream struct {
	*httptest.Server
	body    []byte
	chunked bool

	mu     sync.Mutex
	hits   int
	hosts  []string
	uris   []string
	header []http.Header
	got    [][]byte // request bodies as far as they arrived
	errs   []error  // request body read errors
}

func newUpstream(t *testing.T, body []byte) *upstream {
	t.Helper()
	u := &upstream{body: body}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	got, err := io.ReadAll(r.Body)
	u.mu.Lock()
	u.hits++
	u.hosts = append(u.hosts, r.Host)
	u.uris = append(u.uris, r.RequestURI)
	u.header = append(u.header, r.Header.Clone())
	u.got = append(u.got, got)
	u.errs = append(u.errs, err)
	u.mu.Unlock()
	if err != nil {
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("ETag", `"`+strconv.Itoa(len(got))+`"`)
		return
	}
	body := u.body
	if rg := r.Header.Get("Range"); rg != "" {
		off, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		if err != nil || off > len(body) {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		body = body[off:]
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, len(u.body)-1, len(u.body)))
		w.WriteHeader(http.StatusPartialContent)
	}
	if u.chunked {
		// Two writes with a flush between: the server cannot know the length.
		half := len(body) / 2
		_, _ = w.Write(body[:half])
		http.NewResponseController(w).Flush()
		_, _ = w.Write(body[half:])
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func (u *upstream) Hits() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits
}

// client returns a client of its own, so no test shares connections with another,
// and no compression is asked for (the transparency test checks the headers).
func client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func do(t *testing.T, c *http.Client, method, url string, body []byte) (*http.Response, []byte, error) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	return resp, got, err
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// isConnError reports whether err is what a client sees when the server drops the
// connection: a reset, a broken pipe, an early EOF, or net.ErrClosed when the reset
// reached the client's reading side first and it closed the connection its writing
// side was still using.
func isConnError(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func TestTransparent(t *testing.T) {
	up := newUpstream(t, payload(100_000))
	p := faultproxy.Start(t, up.URL, faultproxy.Config{})
	c := client(t)

	// An escaped slash, a '+', a ';' and a bare '%' in the query: ReverseProxy on its
	// own would re-encode that query, and a signature over it would no longer match.
	uri := "/bucket/dir%2Fa+b%20c?partNumber=3&uploadId=x;y&bad=%zz"
	put := payload(300_000)
	resp, _, err := do(t, c, http.MethodPut, p.URL()+uri, put)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != `"300000"` {
		t.Fatalf("PUT: status %d etag %q, want 200 \"300000\"", resp.StatusCode, resp.Header.Get("ETag"))
	}
	resp, got, err := do(t, c, http.MethodGet, p.URL()+"/bucket/obj", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, up.body) || resp.ContentLength != int64(len(up.body)) {
		t.Fatalf("GET: got %d bytes (Content-Length %d), want the %d-byte body", len(got), resp.ContentLength, len(up.body))
	}

	up.mu.Lock()
	defer up.mu.Unlock()
	if up.uris[0] != uri {
		t.Errorf("upstream request URI %q, want %q", up.uris[0], uri)
	}
	if !bytes.Equal(up.got[0], put) {
		t.Errorf("upstream got a %d-byte body, want the %d-byte one sent", len(up.got[0]), len(put))
	}
	for _, h := range []string{"X-Forwarded-For", "Accept-Encoding", "Forwarded"} {
		if v, ok := up.header[0][h]; ok {
			t.Errorf("upstream got header %s: %q, which the client did not send", h, v)
		}
	}
	if s := p.Stats(); s.Requests != 2 || s.Responded+s.RequestBodyResets+s.ResponseBodyResets+s.Delayed+s.Throttled != 0 {
		t.Errorf("stats %+v, want 2 requests and no faults", s)
	}
}

// sign is a stand-in for a SigV4 pre-signed URL: an HMAC over the method, the Host
// and the request URI, appended as a query parameter. Like SigV4 it breaks when the
// Host the server sees differs from the one signed.
func sign(method, rawURL string) string {
	u, _ := url.Parse(rawURL)
	sep := "?"
	if u.RawQuery != "" {
		sep = "&"
	}
	return rawURL + sep + "sig=" + mac(method, u.Host, u.RequestURI())
}

func mac(method, host, uri string) string {
	m := hmac.New(sha256.New, []byte("secret"))
	fmt.Fprintf(m, "%s\n%s\n%s", method, host, uri)
	return hex.EncodeToString(m.Sum(nil))
}

// verifying answers 403 unless the request carries a valid sign signature for the Host
// it arrived with, as an S3 server checks a pre-signed URL.
func verifying(hosts chan<- string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts <- r.Host
		uri, sig, ok := strings.Cut(r.RequestURI, "&sig=")
		if !ok {
			uri, sig, _ = strings.Cut(r.RequestURI, "?sig=")
		}
		if !hmac.Equal([]byte(sig), []byte(mac(r.Method, r.Host, uri))) {
			http.Error(w, "<Error><Code>SignatureDoesNotMatch</Code></Error>", http.StatusForbidden)
		}
	})
}

func TestHostAndSignatures(t *testing.T) {
	hosts := make(chan string, 1)
	up := httptest.NewServer(verifying(hosts))
	defer up.Close()
	upURL, _ := url.Parse(up.URL)

	tests := []struct {
		name        string
		rewriteHost bool
		signFor     string // "proxy" or "upstream": the address the URL was pre-signed for
		wantHost    string // "proxy" or "upstream": the Host the upstream must see
		wantStatus  int
	}{
		{"presigned for the proxy, host kept", false, "proxy", "proxy", http.StatusOK},
		{"presigned for the upstream, host rewritten", true, "upstream", "upstream", http.StatusOK},
		// Why the default keeps the Host: the same rewrite breaks the usual case.
		{"presigned for the proxy, host rewritten", true, "proxy", "upstream", http.StatusForbidden},
		{"presigned for the upstream, host kept", false, "upstream", "proxy", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := faultproxy.Start(t, up.URL, faultproxy.Config{RewriteHost: tt.rewriteHost})
			pURL, _ := url.Parse(p.URL())
			addr := map[string]string{"proxy": pURL.Host, "upstream": upURL.Host}
			signed := sign(http.MethodGet, "http://"+addr[tt.signFor]+"/bucket/key?X-Amz-Expires=60")
			// The request always goes to the proxy, whatever the URL was signed for.
			target := strings.Replace(signed, addr[tt.signFor], pURL.Host, 1)

			resp, _, err := do(t, client(t), http.MethodGet, target, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := <-hosts; got != addr[tt.wantHost] {
				t.Errorf("upstream saw Host %q, want %q (the %s's)", got, addr[tt.wantHost], tt.wantHost)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
}

func TestRespond(t *testing.T) {
	up := newUpstream(t, []byte("hello"))
	slow := faultproxy.SlowDown()
	slow.Header = http.Header{"Retry-After": {"1"}}
	tests := []struct {
		name     string
		method   string
		fault    faultproxy.Respond
		wantCode string
	}{
		{"slow down", http.MethodPut, slow, "SlowDown"},
		{"internal error", http.MethodGet, faultproxy.InternalError(), "InternalError"},
		{"code from status", http.MethodGet, faultproxy.Respond{Status: http.StatusTooManyRequests}, "TooManyRequests"},
		{"head has no body", http.MethodHead, faultproxy.Respond{Status: http.StatusServiceUnavailable}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits := up.Hits()
			p := faultproxy.Start(t, up.URL, faultproxy.Config{Rules: []faultproxy.Rule{{Name: "r", Fault: tt.fault}}})
			resp, body, err := do(t, client(t), tt.method, p.URL()+"/bucket/key", []byte("data"))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.fault.Status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.fault.Status)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/xml" {
				t.Errorf("Content-Type %q, want application/xml", got)
			}
			for k := range tt.fault.Header {
				if got, want := resp.Header.Get(k), tt.fault.Header.Get(k); got != want {
					t.Errorf("header %s: %q, want %q", k, got, want)
				}
			}
			var e struct {
				Code, Message, Resource string
				RequestID               string `xml:"RequestId"`
			}
			if tt.wantCode == "" {
				if len(body) != 0 {
					t.Errorf("HEAD got a body: %q", body)
				}
			} else if err := xml.Unmarshal(body, &e); err != nil {
				t.Errorf("body %q: %v", body, err)
			}
			if e.Code != tt.wantCode || tt.wantCode != "" && (e.Resource != "/bucket/key" || e.RequestID == "") {
				t.Errorf("error %+v, want code %q, resource /bucket/key and a request ID (body %q)", e, tt.wantCode, body)
			}
			if got := up.Hits() - hits; got != 0 {
				t.Errorf("upstream got %d requests, want none", got)
			}
			if s := p.Stats(); s.Responded != 1 || s.ByRule["r"] != 1 {
				t.Errorf("stats %+v, want Responded 1 and ByRule[r] 1", s)
			}
		})
	}
}

// statuses sends n GETs to path one at a time and returns their statuses.
func statuses(t *testing.T, c *http.Client, url string, n int) []int {
	t.Helper()
	var got []int
	for range n {
		resp, _, err := do(t, c, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.StatusCode)
	}
	return got
}

func TestNthAndLimit(t *testing.T) {
	up := newUpstream(t, []byte("x"))
	tests := []struct {
		name string
		rule faultproxy.Rule
		want string // status of requests 1..8, 5 for 503 and . for 200
	}{
		{"nth", faultproxy.Rule{Nth: []int{2, 5}}, ".5..5..."},
		{"always", faultproxy.Rule{}, "55555555"},
		{"limit", faultproxy.Rule{Limit: 3}, "555....."},
		{"nth under limit", faultproxy.Rule{Nth: []int{1, 3, 4}, Limit: 2}, "5.5....."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rule.Fault = faultproxy.SlowDown()
			p := faultproxy.Start(t, up.URL, faultproxy.Config{Rules: []faultproxy.Rule{tt.rule}})
			var got strings.Builder
			for _, s := range statuses(t, client(t), p.URL()+"/b/k", 8) {
				got.WriteString(map[int]string{200: ".", 503: "5"}[s])
			}
			if got.String() != tt.want {
				t.Errorf("got %s, want %s", got.String(), tt.want)
			}
			if s := p.Stats(); s.Responded != int64(strings.Count(tt.want, "5")) {
				t.Errorf("Stats().Responded = %d, want %d", s.Responded, strings.Count(tt.want, "5"))
			}
		})
	}
}

func TestMatch(t *testing.T) {
	up := newUpstream(t, []byte("x"))
	p := faultproxy.Start(t, up.URL, faultproxy.Config{Rules: []faultproxy.Rule{
		// The second matching request: the second part upload, whatever came between.
		{Name: "parts", Match: faultproxy.PartUploads(), Nth: []int{2}, Fault: faultproxy.InternalError()},
		{Name: "logs", Match: faultproxy.All(faultproxy.Methods("GET", "HEAD"), faultproxy.PathPrefix("/logs/")), Fault: faultproxy.SlowDown()},
	}})
	c := client(t)
	tests := []struct {
		method, uri string
		want        int
	}{
		{"PUT", "/b/k?partNumber=1&uploadId=u", 200},
		{"PUT", "/b/k", 200},                         // no partNumber: a plain PUT
		{"GET", "/b/k?partNumber=2&uploadId=u", 200}, // a ranged GET by part, not an upload
		{"PUT", "/b/k?partNumber=2", 200},            // no uploadId
		{"PUT", "/b/k?partNumber=2&uploadId=u", 500}, // second part upload
		{"PUT", "/b/k?partNumber=3&uploadId=u", 200},
		{"GET", "/logs/1", 503},
		{"PUT", "/logs/1", 200},
		{"GET", "/b/logs/1", 200},
	}
	for _, tt := range tests {
		resp, _, err := do(t, c, tt.method, p.URL()+tt.uri, []byte("part"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.uri, resp.StatusCode, tt.want)
		}
	}
	s := p.Stats()
	if s.ByRule["parts"] != 1 || s.ByRule["logs"] != 1 || s.Responded != 2 || s.Requests != int64(len(tests)) {
		t.Errorf("stats %+v, want parts 1, logs 1, Responded 2, Requests %d", s, len(tests))
	}
}

// failures returns, for n sequential GETs through a proxy with cfg, which ones failed.
func failures(t *testing.T, target string, cfg faultproxy.Config, n int) []bool {
	t.Helper()
	p := faultproxy.Start(t, target, cfg)
	var got []bool
	for _, s := range statuses(t, client(t), p.URL()+"/b/k", n) {
		got = append(got, s != http.StatusOK)
	}
	return got
}

func TestProbability(t *testing.T) {
	up := newUpstream(t, []byte("x"))
	const n = 1000
	cfg := func(seed uint64) faultproxy.Config {
		return faultproxy.Config{Seed: seed, Rules: []faultproxy.Rule{
			{Probability: 0.05, Fault: faultproxy.InternalError()},
			{Probability: 0.05, Fault: faultproxy.SlowDown()},
		}}
	}
	a, b, other := failures(t, up.URL, cfg(42), n), failures(t, up.URL, cfg(42), n), failures(t, up.URL, cfg(43), n)

	count := 0
	same, sameOther := true, true
	for i := range n {
		if a[i] {
			count++
		}
		same = same && a[i] == b[i]
		sameOther = sameOther && a[i] == other[i]
	}
	// Two independent 5% draws: 1-0.95² = 9.75%, sd ≈ 9.4 over 1000 requests.
	if count < 60 || count > 135 {
		t.Errorf("%d of %d requests failed, want about 97", count, n)
	}
	if !same {
		t.Error("the same seed gave different failures")
	}
	if sameOther {
		t.Error("seeds 42 and 43 gave the same failures")
	}
}

func TestResetRequestBody(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		wantReset bool
	}{
		{"longer body", 1 << 20, true},
		{"body of exactly After bytes", 64 << 10, false},
		{"shorter body", 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, nil)
			p := faultproxy.Start(t, up.URL, faultproxy.Config{Rules: []faultproxy.Rule{
				{Name: "cut", Match: faultproxy.Methods("PUT"), Fault: faultproxy.ResetRequestBody{After: 64 << 10}},
			}})
			resp, _, err := do(t, client(t), http.MethodPut, p.URL()+"/b/k?partNumber=1&uploadId=u", payload(tt.size))
			s := p.Stats()
			if !tt.wantReset {
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("got %v, status %v; want 200", err, resp)
				}
				if s.RequestBodyResets != 0 || s.ByRule["cut"] != 0 {
					t.Errorf("stats %+v, want no resets", s)
				}
				return
			}
			if err == nil {
				t.Fatalf("PUT succeeded with status %d, want a connection error", resp.StatusCode)
			}
			if !isConnError(err) {
				t.Errorf("PUT error %v, want a reset, broken pipe or EOF", err)
			}
			t.Logf("client error: %v", err)
			if s.RequestBodyResets != 1 || s.ByRule["cut"] != 1 {
				t.Errorf("stats %+v, want 1 request body reset", s)
			}
			// The upstream saw the upload break off too, never a whole body.
			up.mu.Lock()
			defer up.mu.Unlock()
			for i, got := range up.got {
				if up.errs[i] == nil || len(got) > 64<<10 {
					t.Errorf("upstream read %d bytes, error %v; want at most %d and an error", len(got), up.errs[i], 64<<10)
				}
			}
		})
	}
}

func TestResetResponseBody(t *testing.T) {
	const after = 100_000
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			up := newUpstream(t, payload(1<<20))
			up.chunked = chunked
			p := faultproxy.Start(t, up.URL, faultproxy.Config{Rules: []faultproxy.Rule{
				{Name: "cut", Nth: []int{1}, Fault: faultproxy.ResetResponseBody{After: after}},
			}})
			c := client(t)

			resp, got, err := do(t, c, http.MethodGet, p.URL()+"/b/k", nil)
			if err == nil {
				t.Fatalf("GET read the whole %d-byte body, want an error", len(got))
			}
			if resp.StatusCode != http.StatusOK || !isConnError(err) {
				t.Errorf("status %d, error %v; want 200 then a reset or EOF", resp.StatusCode, err)
			}
			if len(got) > after || !bytes.Equal(got, up.body[:len(got)]) {
				t.Fatalf("got %d bytes before the error, want a prefix of at most %d", len(got), after)
			}
			t.Logf("read %d bytes, then: %v", len(got), err)

			// Resume from where the body broke off, as a ranged download would.
			req, _ := http.NewRequest(http.MethodGet, p.URL()+"/b/k", nil)
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", len(got)))
			resp, err = c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusPartialContent {
				t.Fatalf("resume: status %d, error %v", resp.StatusCode, err)
			}
			if whole := append(got, rest...); !bytes.Equal(whole, up.body) {
				t.Errorf("resumed download has %d bytes, differs from the %d-byte body", len(whole), len(up.body))
			}
			if s := p.Stats(); s.ResponseBodyResets != 1 || s.ByRule["cut"] != 1 {
				t.Errorf("stats %+v, want 1 response body reset", s)
			}
		})
	}
}

func TestResetResponseBodyShort(t *testing.T) {
	up := newUpstream(t, payload(1000))
	p := faultproxy.Start(t, up.URL, faultproxy.Config{Rules: []faultproxy.Rule{
		{Fault: faultproxy.ResetResponseBody{After: 1000}},
	}})
	_, got, err := do(t, client(t), http.MethodGet, p.URL()+"/b/k", nil)
	if err != nil || len(got) != 1000 {
		t.Fatalf("got %d bytes, error %v; want the whole 1000-byte body", len(got), err)
	}
	if s := p.Stats(); s.ResponseBodyResets != 0 {
		t.Errorf("ResponseBodyResets = %d, want 0", s.ResponseBodyResets)
	}
}

func TestDelay(t *testing.T) {
	up := newUpstream(t, []byte("x"))
	const d = 150 * time.Millisecond
	p := faultproxy.Start(t, up.URL, faultproxy.Config{Rules: []faultproxy.Rule{
		{Match: faultproxy.Methods("GET"), Fault: faultproxy.Delay{Duration: d}},
		{Match: faultproxy.Methods("GET"), Fault: faultproxy.Delay{Duration: d}}, // delays add up
		{Match: faultproxy.Methods("PUT"), Fault: faultproxy.Delay{Duration: time.Hour}},
	}})
	c := client(t)
	start := time.Now()
	if _, _, err := do(t, c, http.MethodGet, p.URL()+"/b/k", nil); err != nil {
		t.Fatal(err)
	}
	if got := time.Since(start); got < 2*d {
		t.Errorf("GET took %v, want at least %v", got, 2*d)
	}
	if s := p.Stats(); s.Delayed != 2 {
		t.Errorf("Stats().Delayed = %d, want 2", s.Delayed)
	}

	// Close must not wait out an hour-long delay.
	errc := make(chan error, 1)
	go func() {
		_, _, err := do(t, c, http.MethodPut, p.URL()+"/b/k", []byte("x"))
		errc <- err
	}()
	testenv.Eventually(t, "three delayed requests", func() bool { return p.Stats().Delayed >= 3 })
	start = time.Now()
	p.Close()
	if err := <-errc; err == nil {
		t.Error("PUT delayed by an hour succeeded when the proxy closed, want an error")
	}
	if got := time.Since(start); got > 5*time.Second {
		t.Errorf("Close took %v with a request delayed", got)
	}
}

func TestThrottle(t *testing.T) {
	const rate = 400_000 // bytes/s
	const size = 200_000 // half a second at rate
	up := newUpstream(t, payload(size))
	p := faultproxy.Start(t, up.URL, faultproxy.Config{Rules: []faultproxy.Rule{
		{Fault: faultproxy.Throttle{BytesPerSecond: 10 * rate}},
		{Fault: faultproxy.Throttle{BytesPerSecond: rate}}, // the lowest rate applies
	}})
	c := client(t)
	for _, method := range []string{http.MethodGet, http.MethodPut} {
		var body []byte
		if method == http.MethodPut {
			body = payload(size)
		}
		start := time.Now()
		_, got, err := do(t, c, method, p.URL()+"/b/k", body)
		elapsed := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodGet && len(got) != size {
			t.Errorf("GET got %d bytes, want %d", len(got), size)
		}
		if min := 400 * time.Millisecond; elapsed < min {
			t.Errorf("%s of %d bytes at %d B/s took %v, want at least %v", method, size, rate, elapsed, min)
		}
	}
	if s := p.Stats(); s.Throttled != 4 {
		t.Errorf("Stats().Throttled = %d, want 4 (two rules, two requests)", s.Throttled)
	}
}

// TestConcurrent runs many clients through a proxy that fails some requests every
// way, and checks each outcome the clients saw was counted once.
func TestConcurrent(t *testing.T) {
	up := newUpstream(t, payload(50_000))
	p := faultproxy.Start(t, up.URL, faultproxy.Config{Seed: 7, Rules: []faultproxy.Rule{
		{Match: faultproxy.Methods("PUT"), Probability: 0.2, Fault: faultproxy.SlowDown()},
		{Match: faultproxy.Methods("PUT"), Probability: 0.2, Fault: faultproxy.ResetRequestBody{After: 10_000}},
		{Match: faultproxy.Methods("GET"), Probability: 0.2, Fault: faultproxy.ResetResponseBody{After: 10_000}},
		{Probability: 0.3, Fault: faultproxy.Delay{Duration: time.Millisecond}},
	}})
	const workers, each = 16, 25
	var ok, slow, putErrs, getErrs atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c := client(t)
			for i := range each {
				method, body := http.MethodGet, []byte(nil)
				if (w+i)%2 == 0 {
					method, body = http.MethodPut, payload(50_000)
				}
				resp, _, err := do(t, c, method, p.URL()+"/b/k", body)
				switch {
				case err != nil && method == http.MethodPut:
					putErrs.Add(1)
				case err != nil:
					getErrs.Add(1)
				case resp.StatusCode == http.StatusServiceUnavailable:
					slow.Add(1)
				case resp.StatusCode == http.StatusOK:
					ok.Add(1)
				default:
					t.Errorf("%s: unexpected status %d", method, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()

	s := p.Stats()
	if s.Requests != workers*each {
		t.Errorf("Stats().Requests = %d, want %d", s.Requests, workers*each)
	}
	if s.Responded != slow.Load() || s.RequestBodyResets != putErrs.Load() || s.ResponseBodyResets != getErrs.Load() {
		t.Errorf("stats %+v; clients saw %d slow downs, %d failed PUTs, %d failed GETs", s, slow.Load(), putErrs.Load(), getErrs.Load())
	}
	if s.Responded == 0 || s.RequestBodyResets == 0 || s.ResponseBodyResets == 0 || s.Delayed == 0 || ok.Load() == 0 {
		t.Errorf("stats %+v, %d ok: want some of every outcome", s, ok.Load())
	}
}

func TestSetRules(t *testing.T) {
	up := newUpstream(t, []byte("x"))
	p := faultproxy.Start(t, up.URL, faultproxy.Config{})
	c := client(t)
	if got := statuses(t, c, p.URL()+"/b/k", 2); got[0] != 200 || got[1] != 200 {
		t.Fatalf("without rules: %v, want 200s", got)
	}
	if err := p.SetRules(faultproxy.Rule{Nth: []int{1}, Fault: faultproxy.SlowDown()}); err != nil {
		t.Fatal(err)
	}
	// Nth counts from the change, not from the proxy's start.
	if got := statuses(t, c, p.URL()+"/b/k", 2); got[0] != 503 || got[1] != 200 {
		t.Errorf("after SetRules: %v, want [503 200]", got)
	}
	if err := p.SetRules(faultproxy.Rule{Probability: 2, Fault: faultproxy.SlowDown()}); err == nil {
		t.Error("SetRules accepted probability 2")
	}
}

func TestNewRejects(t *testing.T) {
	ok := faultproxy.SlowDown()
	tests := []struct {
		name   string
		target string
		rule   faultproxy.Rule
	}{
		{"no scheme", "127.0.0.1:9000", faultproxy.Rule{Fault: ok}},
		{"path", "http://127.0.0.1:9000/bucket", faultproxy.Rule{Fault: ok}},
		{"no fault", "http://127.0.0.1:9000", faultproxy.Rule{}},
		{"probability", "http://127.0.0.1:9000", faultproxy.Rule{Probability: -0.1, Fault: ok}},
		{"nth from zero", "http://127.0.0.1:9000", faultproxy.Rule{Nth: []int{0}, Fault: ok}},
		{"status", "http://127.0.0.1:9000", faultproxy.Rule{Fault: faultproxy.Respond{}}},
		{"offset", "http://127.0.0.1:9000", faultproxy.Rule{Fault: faultproxy.ResetResponseBody{After: -1}}},
		{"rate", "http://127.0.0.1:9000", faultproxy.Rule{Fault: faultproxy.Throttle{}}},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.target)
		if err != nil {
			continue // "no scheme" may not even parse; that is a rejection too
		}
		p, err := faultproxy.New(u, faultproxy.Config{Rules: []faultproxy.Rule{tt.rule}})
		if err == nil {
			p.Close()
			t.Errorf("%s: New accepted it", tt.name)
		}
	}
}

func TestUpstreamDown(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	up.Close()
	p := faultproxy.Start(t, up.URL, faultproxy.Config{})
	resp, _, err := do(t, client(t), http.MethodGet, p.URL()+"/b/k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
}
