package agentapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/backapp/backapp/internal/agentkey"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/store"
)

// Destinations resolves a destination id of a user ("" is the built-in local one) to a
// storage.Destination; internal/destinations implements it.
type Destinations = runs.Resolver

// Sealer seals catalog copies and opens configs' passphrases under the server's
// master key (secrets.Keys).
type Sealer = runs.Sealer

// Store is what the agent API reads and writes: agents' keys, heartbeats and logs,
// and what the run lifecycle needs. A store that also keeps restores
// (store.Restores) and size estimates (store.Estimates) has those handed to agents.
type Store interface {
	runs.LifecycleStore
	GetAgentByKeyHash(ctx context.Context, keyHash string) (store.Agent, error)
	RecordHeartbeat(ctx context.Context, id string, hb store.AgentHeartbeat) error
	MarkAgentEnrolled(ctx context.Context, id string, at time.Time) error
	AddAgentLogs(ctx context.Context, logs []store.AgentLog) error
}

// Config configures the API. Store, Destinations and Keys are required.
type Config struct {
	Store        Store
	Destinations Destinations
	Keys         Sealer
	Logger       *slog.Logger
	Now          func() time.Time // time.Now when nil

	// URLTTL, FirstParts and StaleAfter configure the run lifecycle (see
	// runs.LifecycleConfig for their defaults).
	URLTTL     time.Duration
	FirstParts int
	StaleAfter time.Duration
	// HeartbeatEvery is the interval the server asks agents to heartbeat at (default 10 s).
	HeartbeatEvery time.Duration
	// PollEvery is how often a long-polling heartbeat re-checks the database for work
	// queued on another replica (default 5 s); work queued through Notify wakes it at once.
	PollEvery time.Duration
	// MaxWait caps ?wait= of a heartbeat (default 30 s).
	MaxWait time.Duration
	// AuthFailures failed authentications per IP in AuthWindow are allowed; further
	// failures from that IP get 429 until the window passes (defaults 20 per minute).
	// Valid keys are never limited.
	AuthFailures int
	AuthWindow   time.Duration
	// MaxJSONBytes caps JSON bodies (default 8 MiB: a completion lists up to 10,000
	// parts); MaxCatalogBytes caps a catalog upload (default 64 MiB).
	MaxJSONBytes    int64
	MaxCatalogBytes int64
	// MaxLogBatch is the most log lines one request may carry (default 500).
	MaxLogBatch int
	// Events receives run and restore progress and status changes and agents
	// coming online (nil: none).
	Events Publisher
	// RestoreIdentity reads the age identity given for a restore (restores.Service.
	// Identity), handed to the agent with that restore only, at every hand-out until
	// the agent acknowledges the restore; an error fails the heartbeat rather than
	// hand the restore out without it. nil: none.
	RestoreIdentity func(ctx context.Context, restoreID string) (string, error)
}

// API serves /api/agent/…. Create it with New; it is an http.Handler.
type API struct {
	cfg  Config
	st   Store
	log  *slog.Logger
	now  func() time.Time
	mux  *http.ServeMux
	lim  *failLimiter
	wake *notifier

	events Publisher
	runs   *runs.Lifecycle
}

// New checks cfg, fills in defaults and returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Store == nil || cfg.Destinations == nil || cfg.Keys == nil {
		return nil, errors.New("agentapi: Store, Destinations and Keys are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.HeartbeatEvery, 10*time.Second)
	def(&cfg.PollEvery, 5*time.Second)
	def(&cfg.MaxWait, 30*time.Second)
	def(&cfg.AuthWindow, time.Minute)
	if cfg.AuthFailures <= 0 {
		cfg.AuthFailures = 20
	}
	if cfg.MaxJSONBytes <= 0 {
		cfg.MaxJSONBytes = 8 << 20
	}
	if cfg.MaxCatalogBytes <= 0 {
		cfg.MaxCatalogBytes = 64 << 20
	}
	if cfg.MaxLogBatch <= 0 {
		cfg.MaxLogBatch = 500
	}
	if cfg.Events == nil {
		cfg.Events = noEvents{}
	}
	lc, err := runs.NewLifecycle(runs.LifecycleConfig{Store: cfg.Store, Destinations: cfg.Destinations, Keys: cfg.Keys,
		Logger: cfg.Logger, Now: cfg.Now, Events: cfg.Events, URLTTL: cfg.URLTTL, FirstParts: cfg.FirstParts,
		StaleAfter: cfg.StaleAfter})
	if err != nil {
		return nil, err
	}
	a := &API{cfg: cfg, st: cfg.Store, log: cfg.Logger, now: func() time.Time { return cfg.Now().UTC() },
		wake: newNotifier(), events: cfg.Events, runs: lc}
	a.lim = newFailLimiter(cfg.AuthFailures, cfg.AuthWindow, a.now)
	m := http.NewServeMux()
	m.Handle("POST "+agentproto.PathRegister, a.authed(a.register))
	m.Handle("POST "+agentproto.PathHeartbeat, a.authed(a.heartbeat))
	m.Handle("POST "+agentproto.PathStopping, a.authed(a.stopping))
	m.Handle("GET "+agentproto.PathConfigs, a.authed(a.configs))
	m.Handle("POST "+agentproto.PathBackupStart, a.authed(a.backupStart))
	m.Handle("POST "+agentproto.PathBackupParts, a.authed(a.backupParts))
	m.Handle("POST "+agentproto.PathBackupProgress, a.authed(a.backupProgress))
	m.Handle("POST "+agentproto.PathBackupComplete, a.authed(a.backupComplete))
	m.Handle("POST "+agentproto.PathBackupResume, a.authed(a.backupResume))
	m.Handle("PUT "+agentproto.PathBackupCatalog, a.authed(a.putCatalog))
	m.Handle("GET "+agentproto.PathBackupCatalog, a.authed(a.getCatalog))
	m.Handle("POST "+agentproto.PathLog, a.authed(a.logs))
	m.Handle("GET "+agentproto.PathDownload, a.authed(a.download))
	m.Handle("POST "+agentproto.PathRestoreDone, a.authed(a.restoreDone))
	m.Handle("POST "+agentproto.PathRestoreProgress, a.authed(a.restoreProgress))
	m.Handle("POST "+agentproto.PathEstimateDone, a.authed(a.estimateDone))
	a.mux = m
	return a, nil
}

// ServeHTTP serves the agent API. Mount it at /api/agent/.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if v := r.Header.Get(agentproto.HeaderProtocol); v != strconv.Itoa(agentproto.Version) {
		w.Header().Set(agentproto.HeaderProtocol, strconv.Itoa(agentproto.Version))
		msg := "this server speaks agent protocol " + strconv.Itoa(agentproto.Version) + "; "
		if v == "" {
			msg += "the request has no " + agentproto.HeaderProtocol + " header (is this a backapp agent?)"
		} else {
			msg += "the agent speaks " + strconv.Quote(v) + ": install the agent version that matches the server"
		}
		httpx.WriteJSON(w, http.StatusUpgradeRequired, httpx.ErrorBody{Error: httpx.ErrorDetail{
			Code: "unsupported_protocol", Message: msg, RequestID: httpx.RequestID(r.Context())}})
		return
	}
	h, pattern := a.mux.Handler(r)
	if pattern == "" {
		if allow, ok := allowed[r.URL.Path]; ok {
			w.Header().Set("Allow", allow)
			httpx.WriteJSON(w, http.StatusMethodNotAllowed, httpx.ErrorBody{Error: httpx.ErrorDetail{
				Code: "method_not_allowed", Message: r.Method + " is not allowed on " + r.URL.Path + "; use " + allow,
				RequestID: httpx.RequestID(r.Context())}})
			return
		}
		httpx.WriteError(w, r, nil, apperr.New(apperr.NotFound, "no agent endpoint %s", r.URL.Path))
		return
	}
	h.ServeHTTP(w, r)
}

// allowed lists the methods of each endpoint, for 405 answers.
var allowed = map[string]string{
	agentproto.PathRegister: "POST", agentproto.PathHeartbeat: "POST", agentproto.PathConfigs: "GET",
	agentproto.PathBackupStart: "POST", agentproto.PathBackupParts: "POST", agentproto.PathBackupProgress: "POST",
	agentproto.PathBackupComplete: "POST", agentproto.PathBackupCatalog: "GET, PUT", agentproto.PathLog: "POST",
	agentproto.PathDownload: "GET", agentproto.PathRestoreDone: "POST", agentproto.PathEstimateDone: "POST",
	agentproto.PathRestoreProgress: "POST", agentproto.PathBackupResume: "POST", agentproto.PathStopping: "POST",
}

type agentHandler func(w http.ResponseWriter, r *http.Request, ag store.Agent) error

// authed authenticates the bearer key, rate limiting bad keys per IP, and writes the
// handler's error in the API's shape.
func (a *API) authed(h agentHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ag, err := a.authenticate(r)
		if err == nil {
			err = h(w, r, ag)
		}
		if err != nil {
			// An unreachable database (answered 503) is noted, so the reaper does
			// not blame runs for progress the outage kept from being recorded.
			httpx.WriteError(w, r, a.log, a.runs.NoteOutage(err))
		}
	})
}

// Runs is the run lifecycle the API serves; the server runs its reaper
// (runs.Lifecycle.RunReaper).
func (a *API) Runs() *runs.Lifecycle { return a.runs }

// authenticate returns the agent of the request's key. The key is checked first (a
// hash lookup), so a valid key always passes: one agent's bad key behind a shared
// address (NAT, an office) never locks out the others there. Failures are counted per
// address; once an address has AuthFailures in AuthWindow, every further failure from
// it gets the same 429, whatever was wrong with the key (missing, malformed, unknown,
// revoked), so a guesser there learns nothing more until the window passes.
func (a *API) authenticate(r *http.Request) (store.Agent, error) {
	ag, err := a.agentOfKey(r)
	if err == nil || apperr.KindOf(err) != apperr.Unauthorized {
		return ag, err // a database failure is nobody's bad key
	}
	ip := httpx.ClientIP(r)
	if wait := a.lim.blocked(ip); wait > 0 {
		return store.Agent{}, &apperr.Error{Kind: apperr.RateLimited, RetryAfter: wait,
			Message: "too many requests with a bad agent key from this address; try again later"}
	}
	a.lim.fail(ip)
	return store.Agent{}, err
}

// agentOfKey looks up the agent of the bearer key; Unauthorized when there is none.
func (a *API) agentOfKey(r *http.Request) (store.Agent, error) {
	key, ok := cutPrefixFold(r.Header.Get("Authorization"), "Bearer ")
	if !ok || key == "" {
		return store.Agent{}, apperr.New(apperr.Unauthorized, "missing agent key: send Authorization: Bearer <agent key>")
	}
	bad := apperr.New(apperr.Unauthorized, "agent key not accepted: it is wrong, was rotated, or the agent was revoked; enroll the agent again with a new key")
	if !agentkey.WellFormed(key) {
		return store.Agent{}, bad
	}
	ag, err := a.st.GetAgentByKeyHash(r.Context(), agentkey.Hash(key))
	if errors.Is(err, store.ErrNotFound) || err == nil && (ag.Revoked || !agentkey.Verify(key, ag.KeyHash)) {
		return store.Agent{}, bad
	}
	if err != nil {
		return store.Agent{}, err
	}
	return ag, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !equalFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// decode reads a JSON body. Unlike httpx.DecodeJSON it ignores unknown fields: a newer
// agent of the same protocol version may send more.
func (a *API) decode(w http.ResponseWriter, r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return apperr.New(apperr.Unsupported, "send the body as JSON with Content-Type: application/json")
	}
	body := http.MaxBytesReader(w, r.Body, a.cfg.MaxJSONBytes)
	if err := json.NewDecoder(body).Decode(dst); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return apperr.New(apperr.TooLarge, "request body is larger than the limit of %d bytes", tooBig.Limit)
		case errors.Is(err, io.EOF):
			return apperr.New(apperr.Invalid, "request body is empty; send a JSON object")
		default:
			return apperr.Wrap(apperr.Invalid, err, "malformed JSON: %v", err)
		}
	}
	return nil
}

// failLimiter counts failed authentications per IP in fixed windows.
type failLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu sync.Mutex
	m  map[string]*failWindow
}

type failWindow struct {
	start time.Time
	n     int
}

func newFailLimiter(max int, window time.Duration, now func() time.Time) *failLimiter {
	return &failLimiter{max: max, window: window, now: now, m: map[string]*failWindow{}}
}

// blocked returns how long ip must wait, or 0.
func (l *failLimiter) blocked(ip string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.m[ip]
	if w == nil {
		return 0
	}
	left := w.start.Add(l.window).Sub(l.now())
	if left <= 0 {
		delete(l.m, ip)
		return 0
	}
	if w.n < l.max {
		return 0
	}
	return max(left.Round(time.Second), time.Second)
}

func (l *failLimiter) fail(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.m[ip]
	if w == nil || now.Sub(w.start) >= l.window {
		if len(l.m) > 100_000 { // an address sweep: forget the expired windows
			for k, v := range l.m {
				if now.Sub(v.start) >= l.window {
					delete(l.m, k)
				}
			}
		}
		w = &failWindow{start: now}
		l.m[ip] = w
	}
	w.n++
}

// notifier wakes long-polling heartbeats of an agent.
type notifier struct {
	mu sync.Mutex
	m  map[string]map[chan struct{}]struct{}
}

func newNotifier() *notifier { return &notifier{m: map[string]map[chan struct{}]struct{}{}} }

func (n *notifier) subscribe(agentID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	if n.m[agentID] == nil {
		n.m[agentID] = map[chan struct{}]struct{}{}
	}
	n.m[agentID][ch] = struct{}{}
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.m[agentID], ch)
		if len(n.m[agentID]) == 0 {
			delete(n.m, agentID)
		}
		n.mu.Unlock()
	}
}

func (n *notifier) notify(agentID string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.m[agentID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Notify wakes the agent's long-polling heartbeats on this server, so a run queued or
// cancelled here reaches the agent at once (other replicas find it at their next check).
func (a *API) Notify(agentID string) { a.wake.notify(agentID) }
