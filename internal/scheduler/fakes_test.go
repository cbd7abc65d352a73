package scheduler

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// fakeClock is a clock that moves only when told, and wakes After waiters then.
type fakeClock struct {
	mu      sync.Mutex
	cond    *sync.Cond
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	c := &fakeClock{now: now}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	c.cond.Broadcast()
	return ch
}

// Advance moves the clock and fires the waiters now due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// AdvanceToWaiter moves the clock to the earliest waiter's deadline.
func (c *fakeClock) AdvanceToWaiter() {
	c.mu.Lock()
	if len(c.waiters) == 0 {
		c.mu.Unlock()
		panic("fakeClock: nobody waits")
	}
	at := c.waiters[0].at
	for _, w := range c.waiters {
		if w.at.Before(at) {
			at = w.at
		}
	}
	d := at.Sub(c.now)
	c.mu.Unlock()
	c.Advance(d)
}

// BlockUntilWaiting waits until n goroutines wait in After: the loop is idle.
func (c *fakeClock) BlockUntilWaiting(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.waiters) < n {
		c.cond.Wait()
	}
}

// memStore keeps the Store contract in memory: at most one active run per config and
// a compare-and-set on the last scheduled slot.
type memStore struct {
	mu      sync.Mutex
	configs map[string]*Config
	active  map[string]*memRun // config → its queued or running run
	runs    []*memRun          // every run created, in order
	calls   int                // CreateRun calls, successful or not
	// autoComplete finishes every run as soon as it is created, so only the slot
	// compare-and-set stands between concurrent schedulers and a double run.
	autoComplete bool
}

type memRun struct {
	RunRequest
	Status    string
	LateDueAt time.Time // set when SkipSlot flagged it late
}

func newMemStore(configs ...Config) *memStore {
	s := &memStore{configs: map[string]*Config{}, active: map[string]*memRun{}}
	for _, c := range configs {
		s.configs[c.ID] = &c
	}
	return s
}

func (s *memStore) ScheduledConfigs(context.Context) ([]Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Config
	for _, c := range s.configs {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *memStore) CreateRun(_ context.Context, r RunRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	c, ok := s.configs[r.ConfigID]
	if !ok {
		return store.ErrNotFound
	}
	if !c.LastScheduled.Before(r.Slot) {
		return fmt.Errorf("slot %v already taken: %w", r.Slot, store.ErrConflict)
	}
	if _, busy := s.active[r.ConfigID]; busy {
		return fmt.Errorf("a run is active: %w", store.ErrConflict)
	}
	run := &memRun{RunRequest: r, Status: "queued"}
	s.runs = append(s.runs, run)
	c.LastScheduled = r.Slot
	if s.autoComplete {
		run.Status = "completed"
	} else {
		s.active[r.ConfigID] = run
	}
	return nil
}

func (s *memStore) SkipSlot(_ context.Context, configID string, slot, dueAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.configs[configID]
	if !ok {
		return store.ErrNotFound
	}
	if !c.LastScheduled.Before(slot) {
		return nil
	}
	c.LastScheduled = slot
	if r := s.active[configID]; r != nil && r.Status == "queued" && r.LateDueAt.IsZero() {
		r.LateDueAt = dueAt
	}
	return nil
}

// setStatus moves the config's active run on (running, completed, failed).
func (s *memStore) setStatus(configID, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.active[configID]
	if r == nil {
		panic("no active run of " + configID)
	}
	r.Status = status
	if status != "queued" && status != "running" {
		delete(s.active, configID)
	}
}

func (s *memStore) created() []memRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]memRun, len(s.runs))
	for i, r := range s.runs {
		out[i] = *r
	}
	return out
}

// fakeLeader leads when told to, and counts releases.
type fakeLeader struct {
	mu       sync.Mutex
	lead     bool
	err      error
	released int
}

func (l *fakeLeader) TryLead(context.Context) (bool, func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || !l.lead {
		return false, func() {}, l.err
	}
	return true, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.released++
	}, nil
}

func (l *fakeLeader) set(lead bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lead, l.err = lead, err
}

func (l *fakeLeader) releases() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.released
}
