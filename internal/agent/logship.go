package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
)

// LogShipper sends the agent's log lines to the server (/api/agent/log) in batches. It
// keeps at most a bounded number of lines while the server is unreachable and drops the
// oldest beyond that (saying how many in the next batch), so a long outage costs
// memory once, not forever.
type LogShipper struct {
	c     *Client
	every time.Duration
	max   int
	batch int

	mu      sync.Mutex
	buf     []agentproto.LogEntry
	dropped int
	kick    chan struct{}
}

// NewLogShipper returns a shipper over c; Run sends.
func NewLogShipper(c *Client) *LogShipper {
	return &LogShipper{c: c, every: 2 * time.Second, max: 5000, batch: 200, kick: make(chan struct{}, 1)}
}

// Handler returns a slog.Handler that writes to next and queues records at level min
// or above for the server.
func (s *LogShipper) Handler(next slog.Handler, min slog.Level) slog.Handler {
	return &shipHandler{s: s, next: next, min: min}
}

func (s *LogShipper) add(e agentproto.LogEntry) {
	s.mu.Lock()
	if len(s.buf) >= s.max {
		n := len(s.buf) - s.max + 1
		s.buf = append(s.buf[:0], s.buf[n:]...)
		s.dropped += n
	}
	s.buf = append(s.buf, e)
	full := len(s.buf) >= s.batch
	s.mu.Unlock()
	if full {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// Run sends queued lines every few seconds until ctx ends, then sends what is left,
// retrying a transient failure (a 503, a dropped connection) for up to 5 seconds:
// those last lines (how the runs the agent stopped ended) have no later flush.
func (s *LogShipper) Run(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			s.flush(fctx, s.c.logPatient)
			cancel()
			return
		case <-t.C:
		case <-s.kick:
		}
		s.Flush(ctx)
	}
}

// Flush sends what is queued; lines stay queued when the server cannot take them.
func (s *LogShipper) Flush(ctx context.Context) { s.flush(ctx, s.c.Log) }

func (s *LogShipper) flush(ctx context.Context, send func(context.Context, []agentproto.LogEntry) error) {
	for {
		s.mu.Lock()
		n := min(len(s.buf), s.batch)
		if n == 0 {
			s.mu.Unlock()
			return
		}
		batch := append([]agentproto.LogEntry(nil), s.buf[:n]...)
		dropped := s.dropped
		s.mu.Unlock()
		if dropped > 0 {
			batch = append([]agentproto.LogEntry{{Level: "warning", Timestamp: time.Now().UTC(),
				Message: fmt.Sprintf("%d log lines dropped while the server was unreachable", dropped)}}, batch...)
		}
		if err := send(ctx, batch); err != nil {
			return
		}
		s.mu.Lock()
		s.buf = s.buf[n:]
		s.dropped -= dropped
		s.mu.Unlock()
	}
}

type shipHandler struct {
	s      *LogShipper
	next   slog.Handler
	min    slog.Level
	attrs  []slog.Attr
	prefix string
}

func (h *shipHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min || h.next.Enabled(ctx, l)
}

func (h *shipHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.next.Enabled(ctx, r.Level) {
		err = h.next.Handle(ctx, r)
	}
	if r.Level < h.min {
		return err
	}
	e := agentproto.LogEntry{Level: level(r.Level), Message: r.Message, Timestamp: r.Time.UTC()}
	if e.Timestamp.IsZero() {
		e.Timestamp = time.Now().UTC()
	}
	md := map[string]string{}
	for _, a := range h.attrs {
		flatten(md, "", a)
	}
	r.Attrs(func(a slog.Attr) bool { flatten(md, h.prefix, a); return true })
	if len(md) > 0 {
		e.Metadata = md
	}
	h.s.add(e)
	return err
}

func flatten(md map[string]string, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			flatten(md, p, g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	md[prefix+a.Key] = v.String()
}

func level(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warning"
	}
	return "info"
}

func (h *shipHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), prefixed(h.prefix, as)...)
	return &c
}

func prefixed(prefix string, as []slog.Attr) []slog.Attr {
	if prefix == "" {
		return as
	}
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = slog.Attr{Key: prefix + a.Key, Value: a.Value}
	}
	return out
}

func (h *shipHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	c.prefix = h.prefix + name + "."
	return &c
}

// RunDaemon runs d until ctx ends with ship sending its log lines beside it: the one
// way the agent's daemon is started, by `backapp-agent run` and by the server's
// built-in agents. The shipper stops (and flushes) only after the daemon has reported
// its last runs, so their final lines reach the server too.
func RunDaemon(ctx context.Context, d *Daemon, ship *LogShipper) error {
	sctx, stopShip := context.WithCancel(context.WithoutCancel(ctx))
	shipped := make(chan struct{})
	go func() { defer close(shipped); ship.Run(sctx) }()
	err := d.Run(ctx)
	stopShip()
	<-shipped
	return err
}
