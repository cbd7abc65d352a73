package events

import (
	"encoding/json"
	"strconv"
	"sync"
)

// Defaults of BrokerConfig.
const (
	DefaultBuffer = 256
	DefaultRing   = 4096
	// maxAhead is how far a Last-Event-ID may be ahead of this replica's newest
	// event and still be waited for (another replica delivered it a moment sooner).
	maxAhead = 10000
)

// BrokerConfig sizes a Broker; zero fields take the defaults.
type BrokerConfig struct {
	// Buffer is how many events a subscriber may lag behind before it is dropped.
	Buffer int
	// Ring is how many recent events are kept for Last-Event-ID resumes.
	Ring int
	// First is the id after which this broker's ids start (Publish gives First+1
	// next). An in-process broker starts at the clock's microseconds, so ids keep
	// increasing across restarts; pgevents sets it from the database.
	First uint64
}

// Broker fans events out to subscribers. Publishers never wait for subscribers: a
// subscriber whose buffer is full is dropped (its channel closed) and reconnects.
// Safe for concurrent use.
type Broker struct {
	buf int

	mu      sync.Mutex
	ring    []Event // circular; ring[(head+i)%len] for i < n
	head    int
	n       int
	last    uint64 // newest id delivered
	floor   uint64 // the ring holds every event after floor
	broken  bool   // events were missed and no event has come since: nothing resumes
	started bool   // Restart was called
	users   map[string]map[*Subscription]struct{}
	admins  map[*Subscription]struct{}
	count   map[string]int // open subscriptions per user, administrators' too
	closed  bool
	drops   uint64
}

// NewBroker returns a broker.
func NewBroker(cfg BrokerConfig) *Broker {
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultBuffer
	}
	if cfg.Ring <= 0 {
		cfg.Ring = DefaultRing
	}
	return &Broker{buf: cfg.Buffer, ring: make([]Event, cfg.Ring), last: cfg.First, floor: cfg.First,
		users: map[string]map[*Subscription]struct{}{}, admins: map[*Subscription]struct{}{}, count: map[string]int{}}
}

// Subscription receives the events a subscriber may see on C. C is closed when the
// subscriber is dropped for lagging (Dropped reports true), when the broker closes,
// or by Close.
type Subscription struct {
	C <-chan Event

	ch      chan Event
	b       *Broker
	userID  string
	admin   bool
	skip    uint64 // events up to this id were seen elsewhere (resumed ahead)
	dropped bool
	done    bool
}

// Dropped reports whether the subscription was closed because it lagged.
func (s *Subscription) Dropped() bool {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.dropped
}

// Close ends the subscription; safe to call more than once.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.remove(s)
}

// remove takes s out and closes its channel; b.mu is held.
func (b *Broker) remove(s *Subscription) {
	if s.done {
		return
	}
	s.done = true
	if b.count[s.userID]--; b.count[s.userID] <= 0 {
		delete(b.count, s.userID)
	}
	if s.admin {
		delete(b.admins, s)
	} else if m := b.users[s.userID]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(b.users, s.userID)
		}
	}
	close(s.ch)
}

// Subscribe subscribes a user (every user's events when admin). lastID is the
// Last-Event-ID the client resumes from ("" for a fresh page): the events after it
// that it may see are returned in replay, to be sent before anything from C. When the
// events after lastID are no longer known, reset is true: send a reset event.
func (b *Broker) Subscribe(userID string, admin bool, lastID string) (s *Subscription, replay []Event, reset bool) {
	ch := make(chan Event, b.buf)
	s = &Subscription{C: ch, ch: ch, b: b, userID: userID, admin: admin}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		s.done = true
		close(ch)
		return s, nil, false
	}
	if lastID != "" {
		replay, reset = b.resume(s, lastID)
	}
	b.count[userID]++
	if admin {
		b.admins[s] = struct{}{}
	} else {
		if b.users[userID] == nil {
			b.users[userID] = map[*Subscription]struct{}{}
		}
		b.users[userID][s] = struct{}{}
	}
	return s, replay, reset
}

// resume returns what s missed after lastID, or reset; b.mu is held.
func (b *Broker) resume(s *Subscription, lastID string) ([]Event, bool) {
	n, err := strconv.ParseUint(lastID, 10, 64)
	switch {
	case err != nil || b.broken || n < b.floor:
		return nil, true
	case n >= b.last:
		if n-b.last > maxAhead {
			return nil, true // from another epoch (the database was replaced)
		}
		s.skip = n
		return nil, false
	}
	var out []Event
	for i := 0; i < b.n; i++ {
		e := b.ring[(b.head+i)%len(b.ring)]
		if e.ID > n && s.wants(e) {
			out = append(out, e)
		}
	}
	return out, false
}

func (s *Subscription) wants(e Event) bool { return s.admin || e.UserID == s.userID }

// Publish gives e the next id and delivers it.
func (b *Broker) Publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e.ID = b.last + 1
	b.deliver(e)
}

// Deliver delivers an event that already has its id (from the database). An id
// that does not follow the last one means events were missed (or the counter went
// back): subscribers get a reset and resumes from before it are refused.
func (b *Broker) Deliver(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.broken: // the first event after a loss: the ring starts again here
		b.n, b.floor, b.broken = 0, e.ID-1, false
	case e.ID == b.last+1:
	case e.ID <= b.last && b.last-e.ID < maxAhead:
		return // counted before Restart: not news
	default:
		b.n, b.floor = 0, e.ID-1
		b.sendReset("events were missed")
	}
	b.deliver(e)
}

// deliver appends e to the ring and sends it to the subscribers that see it; b.mu is held.
func (b *Broker) deliver(e Event) {
	if b.closed {
		return
	}
	b.last = e.ID
	if b.n == len(b.ring) {
		b.floor = b.ring[b.head].ID
		b.head = (b.head + 1) % len(b.ring)
		b.n--
	}
	b.ring[(b.head+b.n)%len(b.ring)] = e
	b.n++
	for s := range b.users[e.UserID] {
		b.send(s, e)
	}
	for s := range b.admins {
		b.send(s, e)
	}
}

// send gives e to s, or drops s when its buffer is full; b.mu is held.
func (b *Broker) send(s *Subscription, e Event) {
	if e.ID != 0 && e.ID <= s.skip {
		return
	}
	select {
	case s.ch <- e:
	default:
		s.dropped = true
		b.drops++
		b.remove(s)
	}
}

// Reset tells every subscriber that events may have been missed (reason says why)
// and refuses resumes until the next event arrives: a replica lost its database
// connection and cannot know what passed meanwhile.
//
// Until then further resets are not sent again: under overload every dropped event
// calls Reset, and a reset per drop would overflow the subscribers it warns.
func (b *Broker) Reset(reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.broken {
		return
	}
	b.broken, b.n = true, 0
	b.sendReset(reason)
}

// Restart sets where ids continue (the database's counter, read after LISTEN):
// events up to last are not coming. After the first call, a counter that moved
// while the broker was not listening is a reset: those events were missed.
func (b *Broker) Restart(last uint64, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started || last != b.last || b.broken {
		if b.started {
			b.sendReset(reason)
		}
		b.n, b.floor = 0, last
	}
	b.last, b.broken, b.started = last, false, true
}

func (b *Broker) sendReset(reason string) {
	data, _ := json.Marshal(ResetData{Reason: reason})
	e := Event{Type: TypeReset, Data: data}
	for _, m := range b.users {
		for s := range m {
			b.send(s, e)
		}
	}
	for s := range b.admins {
		b.send(s, e)
	}
}

// Close closes every subscription (server shutdown); later ones are closed at once.
func (b *Broker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for _, m := range b.users {
		for s := range m {
			b.remove(s)
		}
	}
	for s := range b.admins {
		b.remove(s)
	}
}

// Streams is how many subscriptions user has open.
func (b *Broker) Streams(userID string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.count[userID]
}

// Stats are a broker's counters.
type Stats struct {
	Subscribers int
	Last        uint64 // newest id
	Drops       uint64 // subscribers dropped for lagging
}

// Stats returns the counters.
func (b *Broker) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.admins)
	for _, m := range b.users {
		n += len(m)
	}
	return Stats{Subscribers: n, Last: b.last, Drops: b.drops}
}

// Local is the in-process Bus of a single server (SQLite): events get their ids
// from the Broker, and Wake wakes this server's heartbeats.
type Local struct {
	Broker *Broker
	// WakeFunc wakes the agent's long polls here (agentapi.API.Notify).
	WakeFunc func(agentID string)
}

// Publish delivers e at once.
func (l *Local) Publish(e Event) { l.Broker.Publish(e) }

// Wake calls WakeFunc.
func (l *Local) Wake(agentID string) {
	if l.WakeFunc != nil {
		l.WakeFunc(agentID)
	}
}
