package alerts

import (
	"context"
	"time"

	"github.com/backapp/backapp/internal/events"
)

// Leader limits the evaluation to one replica (scheduler.Leader).
type Leader interface {
	TryLead(ctx context.Context) (bool, func(), error)
}

// Subscriber is where Watch learns that something an alert rule looks at moved
// (events.Broker), so a failed run raises its alert at once instead of at the next
// interval.
type Subscriber interface {
	Subscribe(userID string, admin bool, lastID string) (*events.Subscription, []events.Event, bool)
}

// Watch evaluates the rules every Every (30 s by default), and soon after a run
// finishes or an agent goes online or offline, on the replica holding Leader. It
// also raises checksum alerts from the restores' events (on every replica: the
// restore's id makes that idempotent).
type Watch struct {
	Service *Service
	Leader  Leader     // nil: always evaluate (one server)
	Events  Subscriber // nil: on the interval only
	Every   time.Duration
}

// Run evaluates until ctx ends.
func (w *Watch) Run(ctx context.Context) {
	every := w.Every
	if every <= 0 {
		every = 30 * time.Second
	}
	kick := make(chan struct{}, 1)
	if w.Events != nil {
		go w.listen(ctx, kick)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		w.pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
	}
}

// pass evaluates the rules if this replica leads.
func (w *Watch) pass(ctx context.Context) {
	if w.Leader != nil {
		if held, _, err := w.Leader.TryLead(ctx); err != nil || !held {
			return
		}
	}
	if err := w.Service.Evaluate(ctx); err != nil && ctx.Err() == nil {
		w.Service.log.Error("evaluate alert rules", "err", err)
	}
}

// listen kicks the loop on the events the rules depend on, resubscribing when the
// broker drops a lagging subscription.
func (w *Watch) listen(ctx context.Context, kick chan<- struct{}) {
	for ctx.Err() == nil {
		sub, _, _ := w.Events.Subscribe("", true, "")
		func() {
			defer sub.Close()
			for {
				select {
				case <-ctx.Done():
					return
				case e, ok := <-sub.C:
					if !ok {
						return
					}
					if e.Type == events.TypeRestoreStatus {
						if err := w.Service.RestoreFinished(ctx, e); err != nil && ctx.Err() == nil {
							w.Service.log.Error("checksum alert", "err", err)
						}
					}
					if e.Type == events.TypeRunStatus || e.Type == events.TypeAgentStatus {
						select {
						case kick <- struct{}{}:
						default:
						}
					}
				}
			}
		}()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second): // the broker closed or dropped us: try again shortly
		}
	}
}
