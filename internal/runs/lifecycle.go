package runs

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// LifecycleStore is what the run lifecycle reads and writes. A store that also keeps
// restores (store.Restores) and size estimates (store.Estimates) has those reaped
// and settled too.
type LifecycleStore interface {
	GetConfig(ctx context.Context, id string) (store.BackupConfig, error)
	ListAgentConfigs(ctx context.Context, agentID string) ([]store.BackupConfig, error)
	CreateRun(ctx context.Context, r *store.Run) error
	GetRun(ctx context.Context, id string) (store.Run, error)
	ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error)
	UpdateRun(ctx context.Context, r *store.Run) error
	RecordRunProgress(ctx context.Context, id string, p store.RunProgress) error
	LastCompletedRun(ctx context.Context, configID string) (store.Run, error)
	StaleRuns(ctx context.Context, cutoff time.Time) ([]store.Run, error)
	ActiveRuns(ctx context.Context, agentID string) ([]store.Run, error)
}

// Sealer seals and opens secrets under the server's master key (secrets.Keys): the
// configs' passphrases and the runs' catalog copies.
type Sealer interface {
	Seal(purpose string, plaintext, context []byte) ([]byte, error)
	Open(purpose string, sealed, context []byte) ([]byte, error)
}

// LifecycleConfig configures the lifecycle. Store, Destinations and Keys are required.
type LifecycleConfig struct {
	Store        LifecycleStore
	Destinations Resolver
	Keys         Sealer
	Logger       *slog.Logger
	Now          func() time.Time // time.Now when nil
	// Events receives runs started, progressing and finished, and restores reaped
	// (nil: none).
	Events Publisher

	// URLTTL is the lifetime of pre-signed URLs (default 15 min, at most
	// storage.MaxURLLifetime).
	URLTTL time.Duration
	// FirstParts is how many archive part URLs Start hands out (default 4).
	FirstParts int
	// StaleAfter is how long a running run, restore or size estimate may stay silent
	// before the reaper fails it (default 10 min).
	StaleAfter time.Duration
}

// Lifecycle runs backups for agents: it opens a run (full or incremental, its
// archive named), hands out upload URLs, records progress, completes or fails it,
// resumes it after the agent restarted, settles the runs a restarted agent left and
// reaps the runs of silent agents. The agent API (internal/agentapi) calls it.
type Lifecycle struct {
	cfg    LifecycleConfig
	st     LifecycleStore
	log    *slog.Logger
	now    func() time.Time
	events Publisher
	// dbDown is when (unix ns) a request or the reaper last found the database
	// unreachable; see Reap.
	dbDown atomic.Int64
}

// NewLifecycle checks cfg, fills in defaults and returns the lifecycle.
func NewLifecycle(cfg LifecycleConfig) (*Lifecycle, error) {
	if cfg.Store == nil || cfg.Destinations == nil || cfg.Keys == nil {
		return nil, errors.New("runs: Store, Destinations and Keys are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Events == nil {
		cfg.Events = noEvents{}
	}
	if cfg.URLTTL <= 0 {
		cfg.URLTTL = 15 * time.Minute
	}
	cfg.URLTTL = min(cfg.URLTTL, storage.MaxURLLifetime)
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 10 * time.Minute
	}
	if cfg.FirstParts <= 0 {
		cfg.FirstParts = 4
	}
	return &Lifecycle{cfg: cfg, st: cfg.Store, log: cfg.Logger, events: cfg.Events,
		now: func() time.Time { return cfg.Now().UTC() }}, nil
}

// StaleAfter is how long a run may stay silent before the reaper fails it.
func (l *Lifecycle) StaleAfter() time.Duration { return l.cfg.StaleAfter }

// NoteOutage remembers when a request found the database unreachable, so the reaper
// does not blame runs for progress the outage kept from being recorded. It returns
// err unchanged.
func (l *Lifecycle) NoteOutage(err error) error {
	if store.Unavailable(err) {
		l.dbDown.Store(l.now().UnixNano())
	}
	return err
}

func errNoRun(id string) error {
	return apperr.New(apperr.NotFound, "no run %q of this agent", id)
}

// resolve returns the storage of a run's or config's destination, or an error that
// says what to do.
func (l *Lifecycle) resolve(ctx context.Context, userID, destinationID string) (storage.Destination, error) {
	d, err := l.cfg.Destinations.Resolve(ctx, userID, destinationID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || apperr.KindOf(err) == apperr.NotFound {
			return nil, apperr.Wrap(apperr.Conflict, err, "the configuration's storage destination no longer exists; edit the configuration")
		}
		return nil, apperr.Wrap(apperr.Unavailable, err, "storage destination unavailable")
	}
	return d, nil
}

func storageErr(what string, err error) error {
	return apperr.Wrap(apperr.Unavailable, err, "%s: the storage destination failed (%s); try again", what, storage.CauseOf(err))
}

// ownRun returns a run of this agent, or NotFound (never saying whether it exists).
func (l *Lifecycle) ownRun(ctx context.Context, ag store.Agent, id string) (store.Run, error) {
	run, err := l.st.GetRun(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (run.AgentID != ag.ID || run.UserID != ag.UserID) {
		return store.Run{}, errNoRun(id)
	}
	return run, err
}

var clip = agentproto.Clip
