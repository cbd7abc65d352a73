package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/backapp/backapp/internal/notify"
	"github.com/backapp/backapp/internal/store"
)

// Store is what the worker needs from the database.
type Store interface {
	ClaimMessages(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]store.Message, error)
	FinishMessage(ctx context.Context, id, worker string, at time.Time, o store.Outcome) error
	GetChannel(ctx context.Context, id string) (store.Channel, error)
	PruneMessages(ctx context.Context, before time.Time, limit int) (int, error)
}

// Sender delivers one message (notify.Dispatcher).
type Sender interface {
	Deliver(ctx context.Context, ch store.Channel, id string, payload []byte) notify.Delivery
}

// Alerter raises and resolves the "channel failing" alert (alerts.Service).
type Alerter interface {
	Raise(ctx context.Context, a store.Alert) (store.Alert, bool, error)
	Resolve(ctx context.Context, rule, subject, why string) (bool, error)
}

// Observer counts deliveries by result (delivered, failed, dead, dropped) for
// Prometheus.
type Observer interface {
	Delivered(result string)
}

// RuleChannelFailing is the alert rule of a channel that gave up on a message.
const RuleChannelFailing = "channel_failing"

// Defaults.
const (
	DefaultEvery       = time.Second
	DefaultBatch       = 64
	DefaultConcurrency = 16
	// DefaultLease outlasts a delivery's own time limits (30 s for webhooks and
	// e-mail), so a live worker never loses a message it is sending.
	DefaultLease       = 2 * time.Minute
	DefaultBackoff     = 30 * time.Second
	DefaultMaxBackoff  = time.Hour
	DefaultGiveUpAfter = 24 * time.Hour
	// DefaultRetention is how long settled messages and their attempts are kept.
	DefaultRetention = 30 * 24 * time.Hour
	// pruneBatch is how many messages one prune statement deletes: short
	// transactions, so claims and deliveries are not held up behind a large prune.
	pruneBatch = 1000
)

// Worker delivers the outbox. Fill the fields, then Run; zero values are the defaults.
type Worker struct {
	Store   Store
	Sender  Sender
	Alerts  Alerter  // nil: no channel alerts
	Observe Observer // nil: not counted
	Logger  *slog.Logger
	Now     func() time.Time
	// ID names this worker in claims; by default the host, pid and a random suffix.
	ID          string
	Every       time.Duration // how often to look for due messages when idle
	Batch       int           // messages claimed at once
	Concurrency int           // deliveries in flight
	Lease       time.Duration
	// Backoff is the first retry's delay, doubling up to MaxBackoff (each ±20 %
	// jitter), until the message is GiveUpAfter old: then it is dead.
	Backoff, MaxBackoff, GiveUpAfter time.Duration
	// Retention is how long Prune keeps settled messages and their attempts.
	Retention time.Duration
	// Wake, when set, makes Run look at once (a message was enqueued).
	Wake <-chan struct{}

	once    sync.Once
	mu      sync.Mutex
	failing map[string]bool // channels that may have an open failing alert
}

func (w *Worker) init() {
	w.once.Do(func() {
		if w.Logger == nil {
			w.Logger = slog.New(slog.DiscardHandler)
		}
		if w.Now == nil {
			w.Now = time.Now
		}
		if w.ID == "" {
			host, _ := os.Hostname()
			b := make([]byte, 4)
			_, _ = rand.Read(b)
			w.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
		}
		def := func(d *time.Duration, v time.Duration) {
			if *d <= 0 {
				*d = v
			}
		}
		def(&w.Every, DefaultEvery)
		def(&w.Lease, DefaultLease)
		def(&w.Backoff, DefaultBackoff)
		def(&w.MaxBackoff, DefaultMaxBackoff)
		def(&w.GiveUpAfter, DefaultGiveUpAfter)
		def(&w.Retention, DefaultRetention)
		if w.Batch <= 0 {
			w.Batch = DefaultBatch
		}
		if w.Concurrency <= 0 {
			w.Concurrency = DefaultConcurrency
		}
		w.failing = map[string]bool{}
	})
}

// Run delivers until ctx ends, finishing the deliveries in flight.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	t := time.NewTicker(w.Every)
	defer t.Stop()
	for {
		n, err := w.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			w.Logger.Error("deliver notifications", "err", err)
		}
		if n == w.Batch && err == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.Wake:
		}
	}
}

// Pass claims one batch of due messages and delivers them; it returns how many it
// claimed.
func (w *Worker) Pass(ctx context.Context) (int, error) {
	w.init()
	msgs, err := w.Store.ClaimMessages(ctx, w.ID, w.Now().UTC(), w.Lease, w.Batch)
	if err != nil {
		return 0, err
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	// Deliveries outlive a shutdown's cancellation by their own time limits: a
	// message sent and not recorded would be sent again after the lease.
	dctx := context.WithoutCancel(ctx)
	channels := map[string]*chanResult{}
	for _, m := range msgs {
		if m.ChannelID != "" && channels[m.ChannelID] == nil {
			ch, err := w.Store.GetChannel(ctx, m.ChannelID)
			channels[m.ChannelID] = &chanResult{ch, err}
		}
	}
	sem := make(chan struct{}, w.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, m := range msgs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := w.deliver(dctx, m, channels[m.ChannelID]); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return len(msgs), errors.Join(errs...)
}

// Prune deletes the messages settled (delivered, dead or dropped) more than
// Retention ago with their delivery attempts, and test attempts as old, so the
// outbox of a server that notifies for years stays the size of its retention.
// Messages still to be sent or being sent are never deleted. It deletes in batches
// until none is left and returns how many messages it deleted. Replicas may prune
// at once (store.Notifications.PruneMessages).
func (w *Worker) Prune(ctx context.Context) (int, error) {
	w.init()
	before := w.Now().UTC().Add(-w.Retention)
	total := 0
	for {
		n, err := w.Store.PruneMessages(ctx, before, pruneBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("prune notifications settled before %s: %w", before.Format(time.RFC3339), err)
		}
		if n < pruneBatch {
			return total, nil
		}
	}
}

type chanResult struct {
	ch  store.Channel
	err error
}

func (w *Worker) finish(ctx context.Context, m store.Message, o store.Outcome) error {
	if err := w.Store.FinishMessage(ctx, m.ID, w.ID, w.Now().UTC(), o); err != nil {
		return fmt.Errorf("notification %s: %w", m.ID, err)
	}
	if w.Observe != nil {
		w.Observe.Delivered(o.State)
	}
	return nil
}

func (w *Worker) deliver(ctx context.Context, m store.Message, cr *chanResult) error {
	switch {
	case cr == nil || errors.Is(cr.err, store.ErrNotFound):
		return w.finish(ctx, m, store.Outcome{State: store.MessageDropped, LastError: "the channel was deleted before it was sent"})
	case cr.err != nil:
		// The database did not answer: leave the message to its lease.
		return fmt.Errorf("notification %s: channel: %w", m.ID, cr.err)
	case !cr.ch.Enabled:
		return w.finish(ctx, m, store.Outcome{State: store.MessageDropped, LastError: "the channel was disabled before it was sent"})
	}
	ch := cr.ch
	at := w.Now().UTC()
	d := w.Sender.Deliver(ctx, ch, m.ID, m.Payload)
	att := d.Attempt(m.Event, at)
	if d.Err == nil {
		err := w.finish(ctx, m, store.Outcome{State: store.MessageDelivered, Attempt: att})
		w.recovered(ctx, ch)
		return err
	}
	now := w.Now().UTC()
	if now.Sub(m.CreatedAt) >= w.GiveUpAfter {
		err := w.finish(ctx, m, store.Outcome{State: store.MessageDead, Attempt: att,
			LastError: fmt.Sprintf("gave up after %d attempts over %s: %s", m.Attempts, w.GiveUpAfter, att.Error)})
		w.failed(ctx, ch, m, att.Error)
		return err
	}
	next := now.Add(w.backoff(m.Attempts))
	w.Logger.Warn("notification not delivered; retrying", "message", m.ID, "channel", ch.ID, "attempt", m.Attempts,
		"next", next, "err", d.Err)
	return w.finish(ctx, m, store.Outcome{State: store.MessageFailed, Next: next, Attempt: att, LastError: att.Error})
}

// backoff is the delay after attempt n (1, 2, …): Backoff doubling to MaxBackoff,
// ±20 % so that a receiver back from an outage is not hit by every retry at once.
func (w *Worker) backoff(n int) time.Duration {
	d := w.Backoff
	for i := 1; i < n && d < w.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*mrand.Float64()))
}

// failed raises ch's failing alert: at most one new occurrence a day.
func (w *Worker) failed(ctx context.Context, ch store.Channel, m store.Message, cause string) {
	w.mu.Lock()
	w.failing[ch.ID] = true
	w.mu.Unlock()
	if w.Alerts == nil {
		return
	}
	now := w.Now().UTC()
	_, _, err := w.Alerts.Raise(ctx, store.Alert{UserID: ch.UserID, Type: "failure", Rule: RuleChannelFailing, Subject: ch.ID,
		Ref: now.Format("2006-01-02"), Timestamp: now,
		Message: fmt.Sprintf("notification channel %q is failing: a %s notification was not delivered in %s and was given up: %s",
			ch.Name, m.Event, w.GiveUpAfter, cause)})
	if err != nil {
		w.Logger.Error("channel failing alert", "channel", ch.ID, "err", err)
	}
}

// recovered resolves ch's failing alert after a delivery, once per channel and
// process (and after each failure).
func (w *Worker) recovered(ctx context.Context, ch store.Channel) {
	w.mu.Lock()
	seen, failing := w.failing[ch.ID]
	w.failing[ch.ID] = false
	w.mu.Unlock()
	if w.Alerts == nil || seen && !failing {
		return
	}
	if _, err := w.Alerts.Resolve(ctx, RuleChannelFailing, ch.ID, fmt.Sprintf("channel %q delivered again", ch.Name)); err != nil {
		w.Logger.Error("resolve channel failing alert", "channel", ch.ID, "err", err)
	}
}
