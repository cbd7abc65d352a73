package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/postgres"
)

func TestLockKeyIsOurOwn(t *testing.T) {
	for name, k := range map[string]int64{"LockFirstUser": postgres.LockFirstUser, "LockMigrate": postgres.LockMigrate} {
		if k == LockScheduler {
			t.Errorf("LockScheduler = postgres.%s = %#x; the scheduler would block %s", name, k, name)
		}
	}
}

// pgStore is the Store contract over a real database, with the same partial unique
// index as backup_logs (idx_backup_logs_one_active) and the slot compare-and-set the
// contract asks for: what the server's adapter must do.
type pgStore struct {
	pool         *pgxpool.Pool
	autoComplete bool // insert runs as completed: only the slot compare-and-set guards
}

const pgSchema = `
CREATE TABLE configs (
	id        text PRIMARY KEY,
	cron      text NOT NULL,
	tz        text NOT NULL,
	last_slot timestamptz,
	since     timestamptz NOT NULL
);
CREATE TABLE runs (
	id          bigserial PRIMARY KEY,
	config_id   text NOT NULL REFERENCES configs,
	slot        timestamptz NOT NULL,
	due_at      timestamptz NOT NULL,
	late        boolean NOT NULL,
	late_due_at timestamptz,
	status      text NOT NULL
);
CREATE UNIQUE INDEX runs_one_active ON runs (config_id) WHERE status IN ('queued', 'running');`

func (s *pgStore) ScheduledConfigs(ctx context.Context) ([]Config, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, cron, tz, last_slot, since FROM configs ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Config, error) {
		var c Config
		var last *time.Time
		err := r.Scan(&c.ID, &c.CronExpression, &c.Timezone, &last, &c.Since)
		if last != nil {
			c.LastScheduled = *last
		}
		return c, err
	})
}

func (s *pgStore) CreateRun(ctx context.Context, r RunRequest) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE configs SET last_slot = $2 WHERE id = $1 AND (last_slot IS NULL OR last_slot < $2)`, r.ConfigID, r.Slot)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("slot %v of %s already taken: %w", r.Slot, r.ConfigID, store.ErrConflict)
		}
		status := "queued"
		if s.autoComplete {
			status = "completed"
		}
		_, err = tx.Exec(ctx, `INSERT INTO runs (config_id, slot, due_at, late, status) VALUES ($1, $2, $3, $4, $5)`,
			r.ConfigID, r.Slot, r.DueAt, r.Late, status)
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "23505" {
			return fmt.Errorf("config %s has an active run: %w", r.ConfigID, store.ErrConflict)
		}
		return err
	})
}

func (s *pgStore) SkipSlot(ctx context.Context, configID string, slot, dueAt time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE configs SET last_slot = $2 WHERE id = $1 AND (last_slot IS NULL OR last_slot < $2)`, configID, slot)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE runs SET late_due_at = $2 WHERE config_id = $1 AND status = 'queued' AND late_due_at IS NULL`, configID, dueAt)
		return err
	})
}

func openPG(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func setupPG(t *testing.T, configs int, cron string, since time.Time) (url string, a, b *pgxpool.Pool) {
	t.Helper()
	url = pgtest.New(t)
	a, b = openPG(t, url), openPG(t, url) // two replicas: separate pools
	ctx := context.Background()
	if _, err := a.Exec(ctx, pgSchema); err != nil {
		t.Fatal(err)
	}
	for i := range configs {
		if _, err := a.Exec(ctx, `INSERT INTO configs (id, cron, tz, since) VALUES ($1, $2, 'Europe/Berlin', $3)`,
			fmt.Sprintf("c%02d", i), cron, since); err != nil {
			t.Fatal(err)
		}
	}
	return url, a, b
}

// checkRuns fails unless the runs table holds exactly one run per config and slot,
// want in all.
func checkRuns(t *testing.T, pool *pgxpool.Pool, want int) {
	t.Helper()
	var n, distinct int
	err := pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT (config_id, slot)) FROM runs`).Scan(&n, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if n != want || distinct != want {
		t.Errorf("%d runs for %d distinct (config, slot), want %d each", n, distinct, want)
	}
}

func TestPostgresLeader(t *testing.T) {
	t.Parallel()
	url := pgtest.New(t)
	ctx := context.Background()
	a, b := NewPostgresLeader(url), NewPostgresLeader(url)
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })

	try := func(name string, l *PostgresLeader, want bool) func() {
		t.Helper()
		held, release, err := l.TryLead(ctx)
		if err != nil || held != want {
			t.Fatalf("%s.TryLead = %v, %v; want %v, nil", name, held, err, want)
		}
		return release
	}
	releaseA := try("a", a, true)
	try("b", b, false)
	try("a (again)", a, true)
	try("b (again)", b, false)

	releaseA()
	releaseA() // twice is harmless
	releaseB := try("b after a released", b, true)
	try("a after b took over", a, false)
	releaseA() // a stale release must not touch anything
	try("b still", b, true)

	// b's process dies: its session ends and a takes over. b finds out on its next try.
	admin := openPG(t, url)
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend($1, 10000)`, b.conn.PgConn().PID()); err != nil { // waits until it is gone
		t.Fatal(err)
	}
	try("a after b's session died", a, true)
	held, _, err := b.TryLead(ctx)
	if held || err == nil {
		t.Errorf("b.TryLead after its session died = %v, %v; want false and an error", held, err)
	}
	try("b reconnected", b, false)
	releaseB() // stale
	try("a still", a, true)
}

// TestTwoReplicasOnePostgres: two schedulers, each with its own pool and its own
// PostgresLeader, tick together every minute. Exactly one leads each minute; when it
// stops, the other takes over, and every slot is dispatched exactly once.
func TestTwoReplicasOnePostgres(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 29, 0, 0, 30, 0, time.UTC) // Berlin's spring-forward night
	url, poolA, poolB := setupPG(t, 5, "* * * * *", start)
	clock := newFakeClock(start)
	leaderA, leaderB := NewPostgresLeader(url), NewPostgresLeader(url)
	t.Cleanup(func() { _ = leaderA.Close(); _ = leaderB.Close() })
	a := &Scheduler{Store: &pgStore{pool: poolA}, Leader: leaderA, Now: clock.Now}
	b := &Scheduler{Store: &pgStore{pool: poolB}, Leader: leaderB, Now: clock.Now}
	ctx := context.Background()

	tickBoth := func(ss ...*Scheduler) []bool {
		leading := make([]bool, len(ss))
		var wg sync.WaitGroup
		for i, s := range ss {
			wg.Go(func() {
				l, err := s.Tick(ctx)
				if err != nil {
					t.Error(err)
				}
				leading[i] = l
			})
		}
		wg.Wait()
		// Agents finish their runs within the minute.
		if _, err := poolA.Exec(ctx, `UPDATE runs SET status = 'completed' WHERE status = 'queued'`); err != nil {
			t.Fatal(err)
		}
		return leading
	}

	var first *Scheduler
	for minute := range 5 {
		clock.Advance(time.Minute)
		l := tickBoth(a, b)
		if l[0] == l[1] {
			t.Fatalf("minute %d: a leads %v, b leads %v; want exactly one", minute, l[0], l[1])
		}
		leader := a
		if l[1] {
			leader = b
		}
		if first == nil {
			first = leader
		} else if leader != first {
			t.Fatalf("minute %d: the lead moved without the leader stopping", minute)
		}
	}
	checkRuns(t, poolA, 5*5)

	// The leader shuts down.
	first.Release()
	other := a
	if first == a {
		other = b
	}
	for minute := range 5 {
		clock.Advance(time.Minute)
		if l := tickBoth(other); !l[0] {
			t.Fatalf("minute %d after the leader stopped: the other does not lead", minute)
		}
	}
	checkRuns(t, poolA, 5*10)
}

// TestSplitBrainPostgres: two schedulers that both think they lead (AlwaysLeader on
// PostgreSQL, or the instant a lock is lost) tick concurrently from several goroutines
// each. The database alone keeps every slot to one run: the slot compare-and-set when
// runs finish at once, and the one-active-run index while they stay queued.
func TestSplitBrainPostgres(t *testing.T) {
	t.Parallel()
	for _, autoComplete := range []bool{true, false} {
		t.Run(fmt.Sprintf("complete=%v", autoComplete), func(t *testing.T) {
			t.Parallel()
			start := time.Date(2026, 10, 25, 0, 0, 30, 0, time.UTC) // Berlin's fall-back night
			_, poolA, poolB := setupPG(t, 10, "* * * * *", start)
			clock := newFakeClock(start)
			a := &Scheduler{Store: &pgStore{pool: poolA, autoComplete: autoComplete}, Leader: AlwaysLeader{}, Now: clock.Now}
			b := &Scheduler{Store: &pgStore{pool: poolB, autoComplete: autoComplete}, Leader: AlwaysLeader{}, Now: clock.Now}
			const minutes = 8
			for range minutes {
				clock.Advance(time.Minute)
				var wg sync.WaitGroup
				for i := range 8 {
					s := a
					if i%2 == 1 {
						s = b
					}
					wg.Go(func() {
						if _, err := s.Tick(context.Background()); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
			}
			want := 10 * minutes
			if !autoComplete {
				want = 10 // the first run of each config stays queued
			}
			checkRuns(t, poolA, want)
		})
	}
}
