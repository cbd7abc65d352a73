package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/version"
)

// Errors a caller can test with errors.Is. The error values returned carry a message
// that says what to do; these only classify them.
var (
	// ErrUnauthorized: the server refused the key (401): mistyped, revoked or rotated.
	ErrUnauthorized = errors.New("agent key refused")
	// ErrForbidden: the key is fine but the object is not this agent's (403).
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: no such config, run or endpoint for this agent (404).
	ErrNotFound = errors.New("not found")
	// ErrUnreachable: the server could not be reached or answered 5xx; worth retrying later.
	ErrUnreachable = errors.New("server unreachable")
	// ErrNotBackapp: something answered, but not the backapp agent API.
	ErrNotBackapp = errors.New("not a backapp server")
)

// APIError is an error answer of the agent API.
type APIError struct {
	Op      string // what the agent was doing: "heartbeat", "backup/start", …
	Status  int
	Code    string // the API's error code
	Message string // the server's message, safe to show
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("%s: status %d: %s", e.Op, e.Status, msg)
	switch e.Status {
	case http.StatusUnauthorized:
		s += " (the server refused this agent's key: it was mistyped, revoked or rotated; enroll again with a key from the server's Agents page)"
	case http.StatusUpgradeRequired:
		s += fmt.Sprintf(" (the server does not speak agent protocol %d: upgrade the agent or the server)", agentproto.Version)
	}
	return s
}

// Is classifies e for errors.Is.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrUnreachable:
		return transientStatus(e.Status)
	}
	return false
}

// NetError is a request that got no HTTP answer.
type NetError struct {
	Op     string
	Server string // host:port
	Err    error
}

func (e *NetError) Error() string {
	var dns *net.DNSError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	var rhe tls.RecordHeaderError
	switch {
	case errors.As(e.Err, &dns):
		if dns.IsNotFound {
			return fmt.Sprintf("%s: cannot resolve the server's name %q: check the server URL", e.Op, dns.Name)
		}
		return fmt.Sprintf("%s: cannot resolve the server's name %q: %v", e.Op, dns.Name, dns.Err)
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		return fmt.Sprintf("%s: connection to %s refused: is the server running, and is the URL's port right?", e.Op, e.Server)
	case errors.As(e.Err, &uae), errors.As(e.Err, &hne), errors.As(e.Err, &cie):
		return fmt.Sprintf("%s: the TLS certificate of %s is not trusted: %v", e.Op, e.Server, e.Err)
	case errors.As(e.Err, &rhe):
		return fmt.Sprintf("%s: %s does not speak TLS (try http:// for a local server without TLS)", e.Op, e.Server)
	case isTimeout(e.Err):
		return fmt.Sprintf("%s: %s did not answer in time (server unreachable)", e.Op, e.Server)
	}
	return fmt.Sprintf("%s: cannot reach %s: %v", e.Op, e.Server, e.Err)
}

func (e *NetError) Unwrap() error { return e.Err }

// Is reports the transient kinds as ErrUnreachable: not a misspelt name or an
// untrusted certificate, which waiting does not fix.
func (e *NetError) Is(target error) bool {
	return target == ErrUnreachable && e.transient()
}

func (e *NetError) transient() bool {
	var dns *net.DNSError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	var rhe tls.RecordHeaderError
	if errors.As(e.Err, &dns) && dns.IsNotFound {
		return false
	}
	return !(errors.As(e.Err, &uae) || errors.As(e.Err, &hne) || errors.As(e.Err, &cie) || errors.As(e.Err, &rhe))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// notBackappError is an answer that is not the agent API's.
type notBackappError struct {
	Op, Server, What string
}

func (e *notBackappError) Error() string {
	return fmt.Sprintf("%s: %s answered with %s, not the backapp agent API: check the server URL (the address of backapp's web UI)", e.Op, e.Server, e.What)
}

func (e *notBackappError) Is(target error) bool { return target == ErrNotBackapp }

func transientStatus(s int) bool {
	return s == http.StatusTooManyRequests || s == http.StatusRequestTimeout ||
		s == http.StatusBadGateway || s == http.StatusServiceUnavailable || s == http.StatusGatewayTimeout ||
		s == http.StatusInternalServerError
}

// ParseServerURL checks a server URL: http or https with a host, and plain http only to
// a loopback address unless insecure is set, since the agent key and the pre-signed URLs
// would otherwise cross the network in clear text.
func ParseServerURL(raw string, insecure bool) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, errors.New("server URL is empty: give the address of backapp's web UI, e.g. https://backup.example.com")
	}
	if !strings.Contains(raw, "://") {
		return nil, fmt.Errorf("server URL %q has no scheme: write https://%s", raw, raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", raw, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("server URL %q: scheme %q: want https (or http to localhost)", raw, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("server URL %q has no host", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server URL %q: must not carry user info, a query or a fragment", raw)
	}
	if u.Scheme == "http" && !insecure && !IsLoopback(u.Hostname()) {
		return nil, fmt.Errorf("refusing plain http to %s: the agent key and the upload URLs would cross the network unencrypted; use https://, or --insecure if the network is trusted", u.Host)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// IsLoopback reports whether host names this machine: localhost or a loopback address.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Unmap().IsLoopback()
}

// ClientOptions configure a Client.
type ClientOptions struct {
	Server   string
	Key      string
	Insecure bool         // allow plain http to a non-loopback host
	HTTP     *http.Client // nil: NewHTTPClient(RootCAs)
	// RootCAs are the certificate authorities trusted for https (nil: the system's);
	// see LoadCACert.
	RootCAs *x509.CertPool
	Log     *slog.Logger
	// Attempts is how many times a request is tried on transient failures (network,
	// 5xx, 429); 0 means 4. Backoff is between attempts (nil: exponential with jitter).
	Attempts int
	Backoff  func(attempt int) time.Duration
	// Timeout bounds one JSON request; 0 means one minute.
	Timeout time.Duration
	// Patience is how long the calls a run depends on (part URLs, completion, restore
	// reports) keep retrying while the server is unreachable or answers 5xx (its
	// database down, say): as long as the server waits before it fails a silent run.
	// 0 means DefaultPatience; the server's heartbeat answers replace it with its own
	// stale timer (HeartbeatResponse.StaleAfterSeconds).
	Patience time.Duration
}

// DefaultPatience is the server's default stale timer (--run-stale-after): a control
// plane outage shorter than that costs no run.
const DefaultPatience = 10 * time.Minute

// Client calls the server's agent API. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	key      string
	http     *http.Client
	log      *slog.Logger
	attempts int
	backoff  func(int) time.Duration
	timeout  time.Duration
	patience atomic.Int64 // nanoseconds
}

// NewClient checks the server URL (see ParseServerURL) and returns a client.
func NewClient(o ClientOptions) (*Client, error) {
	u, err := ParseServerURL(o.Server, o.Insecure)
	if err != nil {
		return nil, err
	}
	if o.Key == "" {
		return nil, errors.New("agent key is empty")
	}
	c := &Client{base: u, key: o.Key, http: o.HTTP, log: o.Log, attempts: o.Attempts, backoff: o.Backoff, timeout: o.Timeout}
	if c.http == nil {
		c.http = NewHTTPClient(o.RootCAs)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.attempts <= 0 {
		c.attempts = 4
	}
	if c.backoff == nil {
		c.backoff = Backoff(500*time.Millisecond, 15*time.Second)
	}
	if c.timeout <= 0 {
		c.timeout = time.Minute
	}
	c.SetPatience(o.Patience)
	return c, nil
}

// NewHTTPClient returns the HTTP client the agent uses for the API and for the
// pre-signed URLs: bounded dial, TLS and header waits, and no redirects (a redirect
// would carry the key elsewhere; the caller is told the right URL instead). roots are
// the certificate authorities to trust (nil: the system's).
func NewHTTPClient(roots *x509.CertPool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if roots != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 2 * time.Minute
	t.MaxIdleConnsPerHost = 8
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// Backoff returns exponential backoff from base, capped at limit, with full jitter.
func Backoff(base, limit time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt && d < limit; i++ {
			d *= 2
		}
		d = min(d, limit)
		return d/2 + rand.N(d/2+1)
	}
}

// SetPatience sets how long run calls retry an unreachable server (0: DefaultPatience).
func (c *Client) SetPatience(d time.Duration) {
	if d <= 0 {
		d = DefaultPatience
	}
	c.patience.Store(int64(d))
}

// Patience returns how long run calls retry an unreachable server.
func (c *Client) Patience() time.Duration { return time.Duration(c.patience.Load()) }

// Server returns the server's base URL.
func (c *Client) Server() string { return c.base.String() }

// UserAgent is what the agent sends as User-Agent.
func UserAgent() string {
	return fmt.Sprintf("backapp-agent/%s (%s/%s)", version.Version, runtime.GOOS, runtime.GOARCH)
}

type request struct {
	op          string
	method      string
	path        string
	query       url.Values
	body        func() (io.Reader, error) // called per attempt
	contentType string
	out         any // JSON answer decoded into out; nil: ignored
	attempts    int // 0: the client's
	// patient requests retry transient failures for the client's Patience instead of
	// attempts times: the calls a run cannot do without.
	patient bool
	raw     bool
}

// do sends r, retrying transient failures; for raw requests it returns the open
// response (status 2xx) for the caller to read and close.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	attempts := r.attempts
	if attempts <= 0 {
		attempts = c.attempts
	}
	var deadline time.Time
	if r.patient {
		deadline = time.Now().Add(c.Patience())
	}
	var err error
	for attempt := 1; ; attempt++ {
		var resp *http.Response
		var wait time.Duration
		resp, wait, err = c.once(ctx, r)
		if err == nil || !errors.Is(err, ErrUnreachable) || ctx.Err() != nil {
			return resp, err
		}
		if r.patient {
			if !time.Now().Before(deadline) {
				return resp, fmt.Errorf("%w (retried for %s)", err, c.Patience().Round(time.Second))
			}
		} else if attempt >= attempts {
			return resp, err
		}
		d := max(wait, c.backoff(attempt))
		if r.patient {
			d = min(d, max(time.Until(deadline), 0))
		}
		c.log.Debug("agent api: retrying", "op", r.op, "attempt", attempt, "wait", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

func (c *Client) once(ctx context.Context, r request) (*http.Response, time.Duration, error) {
	u := *c.base
	u.Path += r.path
	if r.query != nil {
		u.RawQuery = r.query.Encode()
	}
	if !r.raw {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var body io.Reader
	if r.body != nil {
		b, err := r.body()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", r.op, err)
		}
		body = b
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", r.op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set(agentproto.HeaderProtocol, strconv.Itoa(agentproto.Version))
	req.Header.Set("User-Agent", UserAgent())
	req.Header.Set("Accept", "application/json")
	if body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, 0, fmt.Errorf("%s: %w", r.op, err)
		}
		return nil, 0, &NetError{Op: r.op, Server: c.base.Host, Err: err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if r.raw {
			return resp, 0, nil
		}
		defer resp.Body.Close()
		if r.out == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			return nil, 0, nil
		}
		if !isJSON(resp) {
			return nil, 0, &notBackappError{Op: r.op, Server: c.base.String(), What: fmt.Sprintf("status %d and %s", resp.StatusCode, contentType(resp))}
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(r.out); err != nil {
			if ctx.Err() != nil {
				return nil, 0, &NetError{Op: r.op, Server: c.base.Host, Err: err}
			}
			return nil, 0, &notBackappError{Op: r.op, Server: c.base.String(), What: "malformed JSON (" + err.Error() + ")"}
		}
		return nil, 0, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return nil, 0, fmt.Errorf("%s: %s redirects to %q: use that address as the server URL", r.op, c.base, resp.Header.Get("Location"))
	}
	ae := &APIError{Op: r.op, Status: resp.StatusCode}
	var eb agentproto.ErrorBody
	if isJSON(resp) && json.Unmarshal(raw, &eb) == nil && (eb.Error.Code != "" || eb.Error.Message != "") {
		ae.Code, ae.Message = eb.Error.Code, eb.Error.Message
	} else if !transientStatus(resp.StatusCode) {
		// A 404 or 405 from something that is not the API (a proxy's page, another app).
		return nil, 0, &notBackappError{Op: r.op, Server: c.base.String(), What: fmt.Sprintf("status %d and %s", resp.StatusCode, contentType(resp))}
	}
	return nil, retryAfter(resp), ae
}

func contentType(resp *http.Response) string {
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		return "no content type"
	}
	return ct
}

func isJSON(resp *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func retryAfter(resp *http.Response) time.Duration {
	s := resp.Header.Get("Retry-After")
	if s == "" {
		return 0
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, 5*time.Minute)
	}
	if t, err := http.ParseTime(s); err == nil {
		return min(max(time.Until(t), 0), 5*time.Minute)
	}
	return 0
}

func jsonBody(v any) func() (io.Reader, error) {
	b, err := json.Marshal(v)
	return func() (io.Reader, error) {
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(b), nil
	}
}

func (c *Client) postJSON(ctx context.Context, op, path string, in, out any, attempts int) error {
	_, err := c.do(ctx, request{op: op, method: http.MethodPost, path: path, body: jsonBody(in), out: out, attempts: attempts})
	return err
}

// postPatient is postJSON for the calls a run depends on: they retry for the
// client's Patience.
func (c *Client) postPatient(ctx context.Context, op, path string, in, out any) error {
	_, err := c.do(ctx, request{op: op, method: http.MethodPost, path: path, body: jsonBody(in), out: out, patient: true})
	return err
}

// Register enrolls the agent: the server checks the key and answers who the agent is.
// It tries only twice, so a wrong URL or key is reported at once.
func (c *Client) Register(ctx context.Context, h agentproto.Host) (agentproto.RegisterResponse, error) {
	var out agentproto.RegisterResponse
	err := c.postJSON(ctx, "register", agentproto.PathRegister, agentproto.RegisterRequest{Host: h}, &out, 2)
	if err == nil && out.AgentID == "" {
		err = &notBackappError{Op: "register", Server: c.base.String(), What: "an answer without an agent id"}
	}
	return out, err
}

// Heartbeat reports the agent alive and returns its pending commands. With wait > 0
// the server holds the request until work appears or wait has passed (long poll), so
// "run now" reaches the agent at once.
func (c *Client) Heartbeat(ctx context.Context, req agentproto.HeartbeatRequest, wait time.Duration) (agentproto.HeartbeatResponse, error) {
	var out agentproto.HeartbeatResponse
	r := request{op: "heartbeat", method: http.MethodPost, path: agentproto.PathHeartbeat, body: jsonBody(req), out: &out, attempts: 2}
	if wait > 0 {
		r.query = url.Values{"wait": {wait.String()}}
	}
	_, err := c.do(ctx, r)
	return out, err
}

// Configs lists the configurations assigned to the agent.
func (c *Client) Configs(ctx context.Context) ([]agentproto.Config, error) {
	var out agentproto.ConfigsResponse
	_, err := c.do(ctx, request{op: "configs", method: http.MethodGet, path: agentproto.PathConfigs, out: &out})
	return out.Configs, err
}

// BackupStart opens a run.
func (c *Client) BackupStart(ctx context.Context, req agentproto.BackupStartRequest) (agentproto.BackupStartResponse, error) {
	var out agentproto.BackupStartResponse
	err := c.postJSON(ctx, "backup/start", agentproto.PathBackupStart, req, &out, 0)
	return out, err
}

// BackupResume continues a run the agent was executing before it restarted. It is
// patient: the checkpoint is worth waiting for.
func (c *Client) BackupResume(ctx context.Context, runID string) (agentproto.BackupStartResponse, error) {
	var out agentproto.BackupStartResponse
	err := c.postPatient(ctx, "backup/resume", agentproto.PathBackupResume, agentproto.BackupResumeRequest{RunID: runID}, &out)
	return out, err
}

// BackupParts asks for part URLs of an open run.
func (c *Client) BackupParts(ctx context.Context, req agentproto.PartsRequest) ([]agentproto.PartURL, error) {
	var out agentproto.PartsResponse
	err := c.postPatient(ctx, "backup/parts", agentproto.PathBackupParts, req, &out)
	return out.Parts, err
}

// BackupPartsOnce asks for part URLs ahead of need, trying once.
func (c *Client) BackupPartsOnce(ctx context.Context, req agentproto.PartsRequest) ([]agentproto.PartURL, error) {
	var out agentproto.PartsResponse
	err := c.postJSON(ctx, "backup/parts", agentproto.PathBackupParts, req, &out, 1)
	return out.Parts, err
}

// BackupProgress reports progress; the answer says whether to cancel.
func (c *Client) BackupProgress(ctx context.Context, p agentproto.Progress) (agentproto.ProgressResponse, error) {
	var out agentproto.ProgressResponse
	err := c.postJSON(ctx, "backup/progress", agentproto.PathBackupProgress, p, &out, 1)
	return out, err
}

// BackupComplete ends a run. It retries for the client's Patience: the run's outcome
// and the multipart uploads' fate depend on it.
func (c *Client) BackupComplete(ctx context.Context, req agentproto.BackupCompleteRequest) (agentproto.BackupCompleteResponse, error) {
	var out agentproto.BackupCompleteResponse
	err := c.postPatient(ctx, "backup/complete", agentproto.PathBackupComplete, req, &out)
	return out, err
}

// PutCatalog sends a run's catalog (the zstd-compressed, unencrypted manifest).
func (c *Client) PutCatalog(ctx context.Context, runID string, body io.ReadSeeker) error {
	resp, err := c.do(ctx, request{op: "backup/catalog", method: http.MethodPut, path: agentproto.PathBackupCatalog,
		query: url.Values{"runId": {runID}}, contentType: "application/zstd", raw: true, patient: true,
		body: func() (io.Reader, error) {
			_, err := body.Seek(0, io.SeekStart)
			return io.NopCloser(body), err
		}})
	return closeRaw(resp, err)
}

// GetCatalog fetches a run's catalog back (when the local copy is missing). The caller
// closes the returned body.
func (c *Client) GetCatalog(ctx context.Context, runID string) (io.ReadCloser, error) {
	resp, err := c.do(ctx, request{op: "get catalog", method: http.MethodGet, path: agentproto.PathBackupCatalog,
		query: url.Values{"runId": {runID}}, raw: true})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func closeRaw(resp *http.Response, err error) error {
	if resp != nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	return err
}

// Log ships log lines.
func (c *Client) Log(ctx context.Context, entries []agentproto.LogEntry) error {
	return c.postJSON(ctx, "log", agentproto.PathLog, agentproto.LogRequest{Entries: entries}, nil, 1)
}

// logPatient is Log retried for the client's Patience (bounded by ctx): the lines
// queued when the agent stops have no later flush to go with.
func (c *Client) logPatient(ctx context.Context, entries []agentproto.LogEntry) error {
	return c.postPatient(ctx, "log", agentproto.PathLog, agentproto.LogRequest{Entries: entries}, nil)
}

// Download returns the restore chain of runID (or of the newest run at or before
// pointInTime, when runID is empty or pointInTime is set) with fresh GET URLs.
func (c *Client) Download(ctx context.Context, runID string, pointInTime *time.Time) (agentproto.DownloadResponse, error) {
	q := url.Values{}
	if runID != "" {
		q.Set("runId", runID)
	}
	if pointInTime != nil {
		q.Set("pointInTime", pointInTime.UTC().Format(time.RFC3339))
	}
	var out agentproto.DownloadResponse
	_, err := c.do(ctx, request{op: "download", method: http.MethodGet, path: agentproto.PathDownload, query: q, out: &out, patient: true})
	if err == nil && len(out.Chain) == 0 {
		err = fmt.Errorf("download: the server gave no archives for run %s", runID)
	}
	return out, err
}

// RestoreComplete reports a restore's outcome.
func (c *Client) RestoreComplete(ctx context.Context, req agentproto.RestoreCompleteRequest) error {
	return c.postPatient(ctx, "restore/complete", agentproto.PathRestoreDone, req, nil)
}

// RestoreProgress reports a running restore's progress; the answer says whether the
// user cancelled it. Tried once: the next report follows soon.
func (c *Client) RestoreProgress(ctx context.Context, p agentproto.RestoreProgressRequest) (agentproto.RestoreProgressResponse, error) {
	var out agentproto.RestoreProgressResponse
	err := c.postJSON(ctx, "restore/progress", agentproto.PathRestoreProgress, p, &out, 1)
	return out, err
}

// Stopping tells the server the agent is shutting down cleanly, so it shows offline
// at once. Tried once: a server that cannot be reached learns it by the silence.
func (c *Client) Stopping(ctx context.Context) error {
	return c.postJSON(ctx, "stopping", agentproto.PathStopping, struct{}{}, nil, 1)
}

// EstimateComplete reports a size estimate's outcome.
func (c *Client) EstimateComplete(ctx context.Context, req agentproto.EstimateCompleteRequest) error {
	return c.postPatient(ctx, "estimate/complete", agentproto.PathEstimateDone, req, nil)
}

// LoadCACert returns the system's certificate authorities plus those in the PEM file
// path: for a server (or an S3 endpoint) whose certificate a private CA signed.
func LoadCACert(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA certificate %s: no PEM certificate in it (want a file with -----BEGIN CERTIFICATE-----)", path)
	}
	return pool, nil
}
