// Package pgevents carries events and agent wake-ups between the replicas of a
// PostgreSQL deployment with LISTEN/NOTIFY, so a browser on one replica sees what an
// agent reported to another, and an agent long-polling one replica learns at once of
// work queued on another.
//
// Ids: every replica publishes through one transaction that bumps the single row of
// event_seq by the number of events it sends and notifies them with those ids. The
// row lock serialises publishers, so ids follow commit order, and PostgreSQL
// delivers notifications in commit order: every replica sees the same events with
// the same ids in the same order, and a Last-Event-ID given to one replica means the
// same on another. Events bigger than a NOTIFY payload are stored in
// event_payloads and the notification carries only their id.
package pgevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/backapp/backapp/internal/events"
)

// Channels, and the largest notification sent inline (PostgreSQL refuses 8000 bytes).
const (
	ChannelEvents = "backapp_events"
	ChannelWake   = "backapp_wake"
	maxInline     = 7900
	maxBatch      = 512
	// ListenerName is the application_name of the listening connection.
	ListenerName = "backapp events listener"
)

// Config configures a Fanout. URL and Broker are required.
type Config struct {
	URL    string // the database URL (DATABASE_URL)
	Broker *events.Broker
	// Wake wakes an agent's long polls on this replica (agentapi.API.Notify).
	Wake   func(agentID string)
	Logger *slog.Logger
	// Queue bounds the events and wake-ups waiting to be sent (default 8192); when
	// it is full more are dropped, and subscribers told to reload.
	Queue int
	// KeepPayloads is how long oversize payloads stay in event_payloads (default 10 min).
	KeepPayloads time.Duration
	// CheckEvery is how long the listening connection may stay quiet before it is
	// pinged (default 30 s).
	CheckEvery time.Duration
}

// Fanout is the cross-replica events.Bus. Start it with Start; Close it.
type Fanout struct {
	cfg    Config
	log    *slog.Logger
	pool   *pgxpool.Pool
	connCf *pgx.ConnConfig
	origin string
	q      chan item
	cancel context.CancelFunc
	wg     sync.WaitGroup

	dropped   atomic.Uint64
	lastClean time.Time
}

type item struct {
	ev   events.Event
	wake string
}

var _ events.Bus = (*Fanout)(nil)

// Start connects, listens and starts sending. It fails when the database cannot be
// reached; later losses of the connection are retried with backoff.
func Start(ctx context.Context, cfg Config) (*Fanout, error) {
	if cfg.URL == "" || cfg.Broker == nil {
		return nil, errors.New("pgevents: URL and Broker are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Wake == nil {
		cfg.Wake = func(string) {}
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 8192
	}
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = 30 * time.Second
	}
	if cfg.KeepPayloads <= 0 {
		cfg.KeepPayloads = 10 * time.Minute
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("events: parse database url: %w", err)
	}
	connCf := pc.ConnConfig.Copy()
	connCf.RuntimeParams["application_name"] = ListenerName
	// Events are not worth an fsync: a crash loses the last few, and the counter
	// restarting lower is a reset every subscriber handles.
	pc.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pc.MaxConns = 2
	pc.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("events: connect: %w", err)
	}
	f := &Fanout{cfg: cfg, log: cfg.Logger, pool: pool, connCf: connCf, q: make(chan item, cfg.Queue),
		origin: strconv.FormatUint(rand.Uint64(), 36)}
	conn, err := f.connect(ctx)
	if err != nil {
		pool.Close()
		return nil, err
	}
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.cancel = cancel
	f.wg.Go(func() { f.listen(run, conn) })
	f.wg.Go(func() { f.send(run) })
	return f, nil
}

// Close stops listening and sending; events still queued are dropped.
func (f *Fanout) Close() {
	f.cancel()
	f.wg.Wait()
	f.pool.Close()
}

// Publish queues e for every replica; it never blocks.
func (f *Fanout) Publish(e events.Event) {
	select {
	case f.q <- item{ev: e}:
	default:
		f.lost(1, "the event queue is full")
	}
}

// Wake wakes the agent's long polls here at once and on the other replicas.
func (f *Fanout) Wake(agentID string) {
	f.cfg.Wake(agentID)
	select {
	case f.q <- item{wake: agentID}:
	default:
		f.dropped.Add(1) // the other replicas find the work at their next re-check
	}
}

// Dropped is how many events and wake-ups were dropped (queue full, database down).
func (f *Fanout) Dropped() uint64 { return f.dropped.Load() }

func (f *Fanout) lost(n int, why string) {
	if d := f.dropped.Add(uint64(n)); d-uint64(n) == 0 || d/1000 != (d-uint64(n))/1000 {
		f.log.Warn("events dropped", "why", why, "dropped", f.dropped.Load())
	}
	f.cfg.Broker.Reset("events were lost: " + why)
}

// connect opens the listening connection and tells the broker where ids continue.
func (f *Fanout) connect(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, f.connCf)
	if err != nil {
		return nil, fmt.Errorf("events: connect listener: %w", err)
	}
	var last int64
	_, err = conn.Exec(cctx, "LISTEN "+ChannelEvents+"; LISTEN "+ChannelWake)
	if err == nil {
		err = conn.QueryRow(cctx, "SELECT id FROM event_seq").Scan(&last)
	}
	if err != nil {
		_ = conn.Close(context.Background())
		return nil, fmt.Errorf("events: listen: %w", err)
	}
	f.cfg.Broker.Restart(uint64(last), "this server reconnected to the database; events may have been missed")
	return conn, nil
}

// listen delivers notifications until ctx ends, reconnecting with backoff.
func (f *Fanout) listen(ctx context.Context, conn *pgx.Conn) {
	backoff := 100 * time.Millisecond
	for {
		if conn != nil {
			err := f.receive(ctx, conn)
			_ = conn.Close(context.Background())
			conn = nil
			if ctx.Err() != nil {
				return
			}
			f.log.Warn("events: lost the database connection; reconnecting", "err", err)
			backoff = 100 * time.Millisecond
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		c, err := f.connect(ctx)
		if err != nil {
			backoff = min(2*backoff, 5*time.Second)
			f.log.Warn("events: reconnect", "err", err, "retry", backoff)
			continue
		}
		conn = c
	}
}

// receive delivers notifications until the connection fails. A connection quiet
// for CheckEvery is pinged, so one that died without a word (a dropped network
// path) is noticed in seconds, not at TCP keepalive's pace.
func (f *Fanout) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, f.cfg.CheckEvery)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(wctx.Err(), context.DeadlineExceeded) {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
			continue
		}
		if err != nil {
			return err
		}
		switch n.Channel {
		case ChannelWake:
			if origin, agentID, ok := strings.Cut(n.Payload, " "); ok && origin != f.origin {
				f.cfg.Wake(agentID)
			}
		case ChannelEvents:
			e, err := f.decode(ctx, conn, n.Payload)
			if err != nil {
				f.log.Warn("events: drop a notification", "err", err)
				continue
			}
			f.cfg.Broker.Deliver(e)
		}
	}
}

// envelope is an event on the wire (the id travels in front of it).
type envelope struct {
	Type   string          `json:"t"`
	UserID string          `json:"u,omitempty"`
	Data   json.RawMessage `json:"d"`
}

// decode reads "<id> <envelope>", or "<id> @" whose envelope is in event_payloads.
func (f *Fanout) decode(ctx context.Context, conn *pgx.Conn, payload string) (events.Event, error) {
	idText, body, _ := strings.Cut(payload, " ")
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil || id == 0 {
		return events.Event{}, fmt.Errorf("bad event id in %.40q", payload)
	}
	if body == "@" {
		if err := conn.QueryRow(ctx, "SELECT payload FROM event_payloads WHERE id = $1", int64(id)).Scan(&body); err != nil {
			return events.Event{}, fmt.Errorf("read event %d's payload: %w", id, err)
		}
	}
	var env envelope
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		return events.Event{}, fmt.Errorf("event %d: %w", id, err)
	}
	return events.Event{ID: id, Type: env.Type, UserID: env.UserID, Data: env.Data}, nil
}

// send sends queued items in batches until ctx ends.
func (f *Fanout) send(ctx context.Context) {
	batch := make([]item, 0, maxBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-f.q:
			batch = append(batch[:0], it)
		}
	more:
		for len(batch) < maxBatch {
			select {
			case it := <-f.q:
				batch = append(batch, it)
			default:
				break more
			}
		}
		backoff := 100 * time.Millisecond
		for try := 0; ; try++ {
			err := f.sendBatch(ctx, batch)
			if err == nil || ctx.Err() != nil {
				break
			}
			if try == 2 {
				f.log.Warn("events: could not publish; dropping them", "count", len(batch), "err", err)
				f.lost(len(batch), "the database is unreachable")
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff *= 4
		}
	}
}

// sendBatch numbers the batch's events and notifies them, with its wake-ups, in
// one transaction.
func (f *Fanout) sendBatch(ctx context.Context, batch []item) error {
	var bodies, wakes []string
	for _, it := range batch {
		if it.wake != "" {
			wakes = append(wakes, f.origin+" "+it.wake)
			continue
		}
		b, err := json.Marshal(envelope{Type: it.ev.Type, UserID: it.ev.UserID, Data: it.ev.Data})
		if err != nil {
			f.log.Warn("events: drop an event that does not encode", "type", it.ev.Type, "err", err)
			continue
		}
		bodies = append(bodies, string(b))
	}
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if len(bodies) > 0 {
		var last int64
		if err := tx.QueryRow(ctx, "UPDATE event_seq SET id = id + $1 RETURNING id", len(bodies)).Scan(&last); err != nil {
			return fmt.Errorf("number events: %w", err)
		}
		first := last - int64(len(bodies)) + 1
		msgs := make([]string, len(bodies))
		var bigIDs []int64
		var big []string
		for i, b := range bodies {
			id := first + int64(i)
			msgs[i] = strconv.FormatInt(id, 10) + " " + b
			if len(msgs[i]) > maxInline {
				msgs[i] = strconv.FormatInt(id, 10) + " @"
				bigIDs, big = append(bigIDs, id), append(big, b)
			}
		}
		if len(big) > 0 {
			if _, err := tx.Exec(ctx, "INSERT INTO event_payloads (id, payload) SELECT * FROM unnest($1::bigint[], $2::text[])", bigIDs, big); err != nil {
				return fmt.Errorf("store large events: %w", err)
			}
			if time.Since(f.lastClean) > f.cfg.KeepPayloads/10 {
				if _, err := tx.Exec(ctx, "DELETE FROM event_payloads WHERE created_at < now() - make_interval(secs => $1)", f.cfg.KeepPayloads.Seconds()); err != nil {
					return fmt.Errorf("delete old large events: %w", err)
				}
				f.lastClean = time.Now()
			}
		}
		if _, err := tx.Exec(ctx, "SELECT pg_notify('"+ChannelEvents+"', m) FROM unnest($1::text[]) WITH ORDINALITY AS t(m, i) ORDER BY i", msgs); err != nil {
			return fmt.Errorf("notify events: %w", err)
		}
	}
	if len(wakes) > 0 {
		if _, err := tx.Exec(ctx, "SELECT pg_notify('"+ChannelWake+"', w) FROM unnest($1::text[]) AS w", wakes); err != nil {
			return fmt.Errorf("notify wake-ups: %w", err)
		}
	}
	return tx.Commit(ctx)
}
