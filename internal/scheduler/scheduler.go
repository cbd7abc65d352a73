package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// Config is a scheduled config as the scheduler sees it.
type Config struct {
	ID             string
	CronExpression string
	Timezone       string
	// LastScheduled is the last slot dispatched or skipped (zero if none): the slot
	// recorded by CreateRun or SkipSlot.
	LastScheduled time.Time
	// Since is when the current schedule took effect: the config's creation, its last
	// schedule change, or its re-enabling. Slots before it are never run, so a change
	// takes effect from now. Configs with a zero Since are not scheduled.
	Since time.Time
}

// RunRequest asks the store to queue one scheduled run.
type RunRequest struct {
	ConfigID string
	// Slot is the latest slot at or before QueuedAt. The store records it as the
	// config's last scheduled time.
	Slot time.Time
	// DueAt is the first slot this run stands for: Slot, or an earlier one when slots
	// were missed while the server was down. It is what a "late" alert reports.
	DueAt time.Time
	// Late is set when slots were missed or the run is queued more than LateAfter
	// after DueAt.
	Late     bool
	QueuedAt time.Time
}

// Store is what the scheduler needs from the database. The server adapts store.Store
// to it; the fakes in the tests show the contract.
type Store interface {
	// ScheduledConfigs lists the enabled configs that have a schedule.
	ScheduledConfigs(ctx context.Context) ([]Config, error)
	// CreateRun queues a run and records r.Slot as the config's last scheduled time,
	// in one transaction and only if the recorded slot is before r.Slot. It returns an
	// error wrapping store.ErrConflict, and changes nothing, when the config already
	// has a queued or running run or the slot was already recorded (another scheduler
	// got there first).
	CreateRun(ctx context.Context, r RunRequest) error
	// SkipSlot records slot as the config's last scheduled time without a run, because
	// its previous run is still active, if the recorded slot is before it (otherwise it
	// does nothing). If that run is still queued (its agent has not picked it up), it
	// is flagged late with dueAt: it has now missed a slot.
	SkipSlot(ctx context.Context, configID string, slot, dueAt time.Time) error
}

// Leader elects the one scheduler among replicas that dispatches.
type Leader interface {
	// TryLead reports whether this process leads, taking the lead if it is free and
	// re-checking it when already held; it does not block waiting for the lead. While
	// held, further calls return the same release. release gives the lead up; it is
	// safe to call more than once.
	TryLead(ctx context.Context) (held bool, release func(), err error)
}

// Scheduler queues due runs. Fill in the fields, then call Run (the loop) or Tick
// (one pass, for tests and "check now").
type Scheduler struct {
	Store  Store
	Leader Leader
	Log    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// After waits like time.After; nil means time.After. Tests pass a fake clock's.
	After func(time.Duration) <-chan time.Time
	// LateAfter is how long after its slot a run may be queued before it is late;
	// zero means 5 minutes.
	LateAfter time.Duration

	mu      sync.Mutex // one Tick at a time
	release func()
	cache   map[scheduleKey]*Schedule
}

type scheduleKey struct{ expr, tz string }

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scheduler) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Run ticks at the start of every minute (one second past, so a slot is never missed
// by a timer firing early) until ctx is cancelled, then gives up the lead and returns
// nil. Errors of a tick are logged, and the next tick tries again.
func (s *Scheduler) Run(ctx context.Context) error {
	defer s.Release()
	after := s.After
	if after == nil {
		after = time.After
	}
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log().Error("scheduler tick", "err", err)
		}
		now := s.now()
		wait := now.Truncate(time.Minute).Add(time.Minute + time.Second).Sub(now)
		select {
		case <-ctx.Done():
			return nil
		case <-after(wait):
		}
	}
}

// Release gives up the lead if this scheduler holds it.
func (s *Scheduler) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.release != nil {
		s.release()
		s.release = nil
	}
}

// Tick checks the lead and, when this scheduler leads, queues every due run. It
// reports whether it led. Errors for one config do not stop the others; they are
// joined in the error returned.
func (s *Scheduler) Tick(ctx context.Context) (leading bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held, release, err := s.Leader.TryLead(ctx)
	if err != nil || !held {
		if s.release != nil {
			s.log().Warn("scheduler lost the lead", "err", err)
			s.release()
			s.release = nil
		}
		if err != nil {
			return false, fmt.Errorf("take the scheduler lead: %w", err)
		}
		return false, nil
	}
	if s.release == nil {
		s.log().Info("scheduler took the lead")
	}
	s.release = release
	return true, s.dispatch(ctx)
}

func (s *Scheduler) dispatch(ctx context.Context) error {
	configs, err := s.Store.ScheduledConfigs(ctx)
	if err != nil {
		return fmt.Errorf("list scheduled configs: %w", err)
	}
	now := s.now()
	cache := make(map[scheduleKey]*Schedule, len(configs))
	var errs []error
	for _, c := range configs {
		sched, err := s.schedule(cache, c)
		if err != nil {
			// Configs are validated when saved; this one was saved by an older version
			// or by hand. Say so on every tick rather than run it at a guessed time.
			errs = append(errs, fmt.Errorf("config %s: schedule %q in %q: %w", c.ID, c.CronExpression, c.Timezone, err))
			continue
		}
		r, due := s.due(sched, c, now)
		if !due {
			continue
		}
		if err := s.queue(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	s.cache = cache
	return errors.Join(errs...)
}

func (s *Scheduler) schedule(cache map[scheduleKey]*Schedule, c Config) (*Schedule, error) {
	k := scheduleKey{c.CronExpression, c.Timezone}
	if sc, ok := s.cache[k]; ok {
		cache[k] = sc
		return sc, nil
	}
	sc, err := Parse(c.CronExpression, c.Timezone)
	if err != nil {
		return nil, err
	}
	cache[k] = sc
	return sc, nil
}

// due says whether c has a slot in (base, now] and, if so, the run to queue for it.
func (s *Scheduler) due(sched *Schedule, c Config, now time.Time) (RunRequest, bool) {
	if c.Since.IsZero() {
		return RunRequest{}, false
	}
	base := c.LastScheduled
	if c.Since.After(base) {
		base = c.Since
	}
	first := sched.Next(base)
	if first.IsZero() || first.After(now) {
		return RunRequest{}, false
	}
	last := latestSlot(sched, first, now)
	lateAfter := s.LateAfter
	if lateAfter <= 0 {
		lateAfter = 5 * time.Minute
	}
	return RunRequest{
		ConfigID: c.ID,
		Slot:     last,
		DueAt:    first,
		Late:     last.After(first) || now.Sub(first) > lateAfter,
		QueuedAt: now,
	}, true
}

// latestSlot returns the last slot at or before now, given that first is one. After a
// long outage an every-minute schedule has many missed slots, so it looks back from
// now in growing windows instead of stepping from first.
func latestSlot(sched *Schedule, first, now time.Time) time.Time {
	for _, back := range []time.Duration{time.Minute, time.Hour, 25 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour} {
		from := now.Add(-back)
		if !from.After(first) {
			break
		}
		if t := sched.Next(from); !t.After(now) {
			return stepTo(sched, t, now)
		}
	}
	return stepTo(sched, first, now)
}

func stepTo(sched *Schedule, t, now time.Time) time.Time {
	for {
		n := sched.Next(t)
		if n.After(now) {
			return t
		}
		t = n
	}
}

func (s *Scheduler) queue(ctx context.Context, r RunRequest) error {
	err := s.Store.CreateRun(ctx, r)
	switch {
	case err == nil:
		s.log().Info("queued scheduled run", "config", r.ConfigID, "slot", r.Slot, "due", r.DueAt, "late", r.Late)
		return nil
	case errors.Is(err, store.ErrConflict):
		// A run is still queued or running, or another scheduler took this slot:
		// never a second run. Record the slot so the next one counts from it.
		if err := s.Store.SkipSlot(ctx, r.ConfigID, r.Slot, r.DueAt); err != nil {
			return fmt.Errorf("config %s: skip slot %s: %w", r.ConfigID, r.Slot.Format(time.RFC3339), err)
		}
		s.log().Info("skipped scheduled run: one is already active", "config", r.ConfigID, "slot", r.Slot)
		return nil
	default:
		return fmt.Errorf("config %s: queue run for %s: %w", r.ConfigID, r.Slot.Format(time.RFC3339), err)
	}
}
