package scheduler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// LockScheduler is the PostgreSQL advisory lock key the scheduler leader holds. It
// shares the "backapp" prefix of the store's keys (store/postgres.LockFirstUser,
// LockMigrate) with a last byte of its own, 'S'.
const LockScheduler int64 = 0x6261636b61707053

// AlwaysLeader leads unconditionally: for SQLite, where one server owns the database.
type AlwaysLeader struct{}

// TryLead always reports held.
func (AlwaysLeader) TryLead(context.Context) (bool, func(), error) { return true, func() {}, nil }

// PostgresLeader leads while it holds a session-level advisory lock (pg_try_advisory_lock)
// on a connection of its own, outside any pool: the lock belongs to the session, so a
// pooled connection would hand it to whoever borrows the connection next, and a
// crashed replica's lock goes away with its connection. The URL must reach PostgreSQL
// directly or through a session-mode pooler, never a transaction-mode one.
//
// It keeps its connection between attempts, so followers do not reconnect every tick.
// Close it when done.
type PostgresLeader struct {
	URL string
	// Key is the advisory lock key; zero means LockScheduler.
	Key int64

	mu   sync.Mutex
	conn *pgx.Conn
	held bool
	gen  int // counts holds, so a stale release cannot drop a later hold
}

// NewPostgresLeader returns a leader for the database at url; it connects on the
// first TryLead.
func NewPostgresLeader(url string) *PostgresLeader { return &PostgresLeader{URL: url} }

func (l *PostgresLeader) key() int64 {
	if l.Key != 0 {
		return l.Key
	}
	return LockScheduler
}

// TryLead takes the lock if it is free. When this leader already holds it, TryLead
// checks the session is alive (the lock lives exactly as long as the session) and
// reports false with an error if it is not.
func (l *PostgresLeader) TryLead(ctx context.Context) (bool, func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		if err := l.conn.Ping(ctx); err != nil {
			l.closeLocked()
			return false, func() {}, fmt.Errorf("scheduler lock session lost: %w", err)
		}
		return true, l.releaser(), nil
	}
	if l.conn == nil || l.conn.IsClosed() {
		conn, err := pgx.Connect(ctx, l.URL)
		if err != nil {
			return false, func() {}, fmt.Errorf("connect for the scheduler lock: %w", err)
		}
		l.conn = conn
	}
	var ok bool
	if err := l.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, l.key()).Scan(&ok); err != nil {
		l.closeLocked()
		return false, func() {}, fmt.Errorf("try the scheduler lock: %w", err)
	}
	if !ok {
		return false, func() {}, nil
	}
	l.held = true
	l.gen++
	return true, l.releaser(), nil
}

// releaser returns the release of the current hold. It unlocks at once, so another
// replica can take over on its next try; if the unlock fails it closes the session,
// which drops the lock as soon as the server notices.
func (l *PostgresLeader) releaser() func() {
	gen := l.gen
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if !l.held || l.gen != gen {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var ok bool
		if err := l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, l.key()).Scan(&ok); err != nil || !ok {
			l.closeLocked()
		}
		l.held = false
	}
}

// Close releases the lock if held and closes the connection.
func (l *PostgresLeader) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closeLocked()
	return nil
}

func (l *PostgresLeader) closeLocked() {
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.conn.Close(ctx) // the session ends either way; nothing to do about an error
		l.conn = nil
	}
	l.held = false
}
