package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/store"
)

// EventsConfig configures GET /api/events; zero durations take the defaults.
type EventsConfig struct {
	Broker *events.Broker
	// Heartbeat is how often an idle stream sends a comment, so proxies keep it
	// open (default 15 s).
	Heartbeat time.Duration
	// SessionCheck is how often the stream checks that its session still holds; it
	// ends within this after a logout or expiry (default 10 s).
	SessionCheck time.Duration
	// WriteTimeout is how long one write may block on a client that does not read
	// before the stream is ended (default 10 s).
	WriteTimeout time.Duration
	// MaxPerUser caps one user's open streams (default 32: a page per tab);
	// more get 429.
	MaxPerUser int
}

type eventsAPI struct {
	*API
	cfg EventsConfig
}

// RegisterEvents adds GET /api/events, the Server-Sent Events stream
// (docs/events.md).
func (a *API) RegisterEvents(mux *http.ServeMux, cfg EventsConfig) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Heartbeat, 15*time.Second)
	def(&cfg.SessionCheck, 10*time.Second)
	def(&cfg.WriteTimeout, 10*time.Second)
	if cfg.MaxPerUser <= 0 {
		cfg.MaxPerUser = 32
	}
	e := &eventsAPI{API: a, cfg: cfg}
	mux.HandleFunc("GET /api/events", a.signedIn(e.stream))
}

// stream sends the events the session's user may see until the client goes, the
// session ends, the client lags too far behind (it reconnects with Last-Event-ID),
// or the server shuts down.
func (e *eventsAPI) stream(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if n := e.cfg.Broker.Streams(sess.User.ID); n >= e.cfg.MaxPerUser {
		e.fail(w, r, &apperr.Error{Kind: apperr.RateLimited, RetryAfter: 10 * time.Second,
			Message: fmt.Sprintf("%d event streams are open for this account, the most allowed; close some tabs", n)})
		return
	}
	rc := http.NewResponseController(w)
	// The server's ReadTimeout bounds reading a request; left set, it would cut
	// the stream when it expires.
	_ = rc.SetReadDeadline(time.Time{})
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("lastEventId") // for clients that cannot set headers
	}
	sub, replay, reset := e.cfg.Broker.Subscribe(sess.User.ID, sess.User.Role == store.RoleAdmin, lastID)
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store, no-transform")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events through as they come
	w.WriteHeader(http.StatusOK)

	buf := make([]byte, 0, 4096)
	buf = append(buf, "retry: 3000\n: connected\n\n"...)
	if reset {
		buf = appendEvent(buf, events.Event{Type: events.TypeReset, Data: []byte(`{"reason":"the events after Last-Event-ID are no longer kept"}`)})
	}
	for _, ev := range replay {
		buf = appendEvent(buf, ev)
	}
	if !e.write(rc, w, buf) {
		return
	}
	beat := time.NewTicker(e.cfg.Heartbeat)
	defer beat.Stop()
	check := time.NewTicker(e.cfg.SessionCheck)
	defer check.Stop()
	for {
		buf = buf[:0]
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-sub.C:
			if !ok {
				return // dropped for lagging, or the server is shutting down
			}
			buf = appendEvent(buf, ev)
		drain:
			for len(buf) < 32<<10 {
				select {
				case ev, ok := <-sub.C:
					if !ok {
						break drain
					}
					buf = appendEvent(buf, ev)
				default:
					break drain
				}
			}
		case <-beat.C:
			buf = append(buf, ": ping\n\n"...)
		case <-check.C:
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			err := e.auth.Check(ctx, sess)
			cancel()
			if err != nil {
				e.log.Debug("event stream ends: session no longer valid", "user", sess.User.ID, "err", err)
				return
			}
			continue
		}
		if !e.write(rc, w, buf) {
			return
		}
	}
}

// write sends b, giving up after WriteTimeout on a client that does not read.
func (e *eventsAPI) write(rc *http.ResponseController, w http.ResponseWriter, b []byte) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(e.cfg.WriteTimeout))
	if _, err := w.Write(b); err != nil {
		return false
	}
	return rc.Flush() == nil
}

// appendEvent appends ev in the SSE format; a reset has no id, so the client keeps
// its Last-Event-ID.
func appendEvent(b []byte, ev events.Event) []byte {
	if ev.ID != 0 {
		b = append(b, "id: "...)
		b = strconv.AppendUint(b, ev.ID, 10)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, ev.Type...)
	b = append(b, "\ndata: "...)
	b = append(b, ev.Data...) // compact JSON: no newlines
	return append(b, "\n\n"...)
}
