package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"
)

// Config configures a [Proxy].
type Config struct {
	// Seed seeds each rule's random source; the same seed and the same sequence of
	// requests give the same faults.
	Seed uint64

	// Rules are the faults to inject; none means a transparent proxy. See [Rule] for
	// how rules pick requests and combine.
	Rules []Rule

	// RewriteHost sends the upstream's host:port as the Host header instead of the
	// one the client sent. Leave it off for clients that sign for the proxy's
	// address (the usual case, see the package documentation); set it for requests
	// signed for the upstream's address and then sent to the proxy.
	RewriteHost bool

	// Transport sends requests upstream. Nil means a fresh [http.Transport] that
	// ignores proxy environment variables and does not ask for compression.
	Transport http.RoundTripper
}

// Proxy is a running fault-injecting reverse proxy on 127.0.0.1. Its methods are safe
// for concurrent use.
type Proxy struct {
	target *url.URL
	url    string
	srv    *http.Server
	rp     *httputil.ReverseProxy
	ownTr  *http.Transport // closed by Close when the proxy made it
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	handlers sync.WaitGroup
	seed     uint64
	rules    []*rule
	stats    Stats
}

// Stats counts what a [Proxy] has done since it started.
type Stats struct {
	Requests           int64 // requests received
	Responded          int64 // answered by a Respond fault, not forwarded
	RequestBodyResets  int64 // connections reset by ResetRequestBody
	ResponseBodyResets int64 // connections reset by ResetResponseBody
	Delayed            int64 // requests a Delay applied to
	Throttled          int64 // requests a Throttle applied to

	// ByRule counts the faults injected by each named rule, by [Rule.Name].
	ByRule map[string]int64
}

type rule struct {
	Rule
	rng     *rand.Rand
	matched int // requests Match accepted
	picked  int // requests the rule injected its fault into (or tried to)
}

// New starts a proxy in front of target, an http or https URL with no path beyond "/".
// The caller must Close it.
func New(target *url.URL, cfg Config) (*Proxy, error) {
	if target.Scheme != "http" && target.Scheme != "https" || target.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q: want http(s)://host:port", target)
	}
	if target.Path != "" && target.Path != "/" || target.RawQuery != "" {
		return nil, fmt.Errorf("faultproxy: target %q: path and query are not supported", target)
	}
	rules, err := newRules(cfg.Seed, cfg.Rules)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target: &url.URL{Scheme: target.Scheme, Host: target.Host},
		url:    "http://" + ln.Addr().String(),
		cancel: cancel,
		seed:   cfg.Seed,
		rules:  rules,
		stats:  Stats{ByRule: map[string]int64{}},
	}
	tr := cfg.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		// The client asked for whatever encoding it wanted; asking for gzip on its
		// behalf would make the transport decode the body and drop Content-Length.
		t.DisableCompression = true
		p.ownTr, tr = t, t
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { p.rewrite(pr, cfg.RewriteHost) },
		Transport:     tr,
		FlushInterval: -1, // stream: a client reading a throttled or cut body sees it as it comes
		ErrorHandler:  p.upstreamError,
	}
	p.srv = &http.Server{
		Handler:     http.HandlerFunc(p.serveHTTP),
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Start starts a proxy in front of target (such as an S3 endpoint or an
// httptest.Server's URL) and closes it when the test ends; it fails the test if the
// proxy cannot start.
func Start(tb testing.TB, target string, cfg Config) *Proxy {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatalf("faultproxy: target: %v", err)
	}
	p, err := New(u, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	return p
}

// URL returns the proxy's base URL, http://127.0.0.1:port: the endpoint to give
// clients, and to pre-sign URLs against.
func (p *Proxy) URL() string { return p.url }

// Close stops the proxy: it aborts requests in flight (delays, throttled bodies and
// upstream requests included) and returns when their handlers have finished.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()

	_ = p.srv.Close() // clients see their connections drop, not a response
	p.cancel()        // and delays, throttles and upstream requests stop
	p.handlers.Wait()
	if p.ownTr != nil {
		p.ownTr.CloseIdleConnections()
	}
}

// SetRules replaces the rules, restarting their counts (Nth, Limit) and random
// sources; requests already past rule selection keep their faults. Stats are kept.
func (p *Proxy) SetRules(rules ...Rule) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	rs, err := newRules(p.seed, rules)
	if err != nil {
		return err
	}
	p.rules = rs
	return nil
}

// Stats returns a snapshot of the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.ByRule = maps.Clone(p.stats.ByRule)
	return s
}

func newRules(seed uint64, rules []Rule) ([]*rule, error) {
	rs := make([]*rule, len(rules))
	for i, r := range rules {
		if err := validate(r); err != nil {
			return nil, fmt.Errorf("faultproxy: rule %d %q: %w", i, r.Name, err)
		}
		rs[i] = &rule{Rule: r, rng: rand.New(rand.NewPCG(seed, uint64(i)))}
	}
	return rs, nil
}

func validate(r Rule) error {
	if r.Probability < 0 || r.Probability > 1 {
		return fmt.Errorf("probability %v outside [0, 1]", r.Probability)
	}
	for _, n := range r.Nth {
		if n < 1 {
			return fmt.Errorf("nth %d: positions start at 1", n)
		}
	}
	if r.Limit < 0 {
		return fmt.Errorf("negative limit %d", r.Limit)
	}
	switch f := r.Fault.(type) {
	case nil:
		return errors.New("no fault")
	case Respond:
		if f.Status < 100 || f.Status > 599 {
			return fmt.Errorf("respond: status %d", f.Status)
		}
	case ResetRequestBody:
		if f.After < 0 {
			return fmt.Errorf("reset request body: negative offset %d", f.After)
		}
	case ResetResponseBody:
		if f.After < 0 {
			return fmt.Errorf("reset response body: negative offset %d", f.After)
		}
	case Delay:
		if f.Duration < 0 {
			return fmt.Errorf("delay: negative duration %v", f.Duration)
		}
	case Throttle:
		if f.BytesPerSecond <= 0 {
			return fmt.Errorf("throttle: rate %d bytes/s", f.BytesPerSecond)
		}
	}
	return nil
}

// rewrite points the outbound request at the upstream and undoes what ReverseProxy
// would change, so a signature over the request still verifies.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest, rewriteHost bool) {
	pr.Out.URL.Scheme = p.target.Scheme
	pr.Out.URL.Host = p.target.Host
	pr.Out.Host = pr.In.Host
	if rewriteHost {
		pr.Out.Host = p.target.Host
	}
	// ReverseProxy re-encodes queries it cannot parse (a ';', a bad escape) and
	// strips forwarding headers; the client's request is sent as it was.
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := pr.In.Header[h]; ok {
			pr.Out.Header[h] = v
		}
	}
}

// plan is what happens to one request.
type plan struct {
	id      int64
	delay   time.Duration
	rate    int64 // bytes/s; 0 means no throttle
	end     Fault // Respond, ResetRequestBody, ResetResponseBody or nil
	endRule string
}

func (p *Proxy) plan(r *http.Request) plan {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Requests++
	pl := plan{id: p.stats.Requests}
	for _, ru := range p.rules {
		if ru.Match != nil && !ru.Match(r) {
			continue
		}
		ru.matched++
		if !ru.picks() {
			continue
		}
		if terminal(ru.Fault) {
			if pl.end != nil {
				continue // an earlier rule already ends this request
			}
			pl.end, pl.endRule = ru.Fault, ru.Name
		}
		ru.picked++
		switch f := ru.Fault.(type) {
		case Delay:
			pl.delay += f.Duration
			p.countLocked(KindDelay, ru.Name)
		case Throttle:
			if pl.rate == 0 || f.BytesPerSecond < pl.rate {
				pl.rate = f.BytesPerSecond
			}
			p.countLocked(KindThrottle, ru.Name)
		}
	}
	return pl
}

func (ru *rule) picks() bool {
	if ru.Limit > 0 && ru.picked >= ru.Limit {
		return false
	}
	if len(ru.Nth) > 0 {
		return slices.Contains(ru.Nth, ru.matched)
	}
	if ru.Probability > 0 {
		return ru.rng.Float64() < ru.Probability
	}
	return true
}

func (p *Proxy) count(k Kind, ruleName string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.countLocked(k, ruleName)
}

func (p *Proxy) countLocked(k Kind, ruleName string) {
	switch k {
	case KindRespond:
		p.stats.Responded++
	case KindResetRequestBody:
		p.stats.RequestBodyResets++
	case KindResetResponseBody:
		p.stats.ResponseBodyResets++
	case KindDelay:
		p.stats.Delayed++
	case KindThrottle:
		p.stats.Throttled++
	}
	if ruleName != "" {
		p.stats.ByRule[ruleName]++
	}
}
