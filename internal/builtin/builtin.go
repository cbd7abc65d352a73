package builtin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/agentkey"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/engine/upload"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/version"
)

// Name is the name a built-in agent row gets; the agents pages show it read-only.
const Name = "Server (built-in)"

// Origin is the address the built-in agents use for the agent API. No socket ever
// serves it: the in-memory Transport calls the handler. It is a loopback name, so
// the agent client accepts plain http for it.
const Origin = "http://backapp-builtin.localhost"

// Store is what the supervisor needs from the database.
type Store interface {
	GuardStore
	ListUsers(ctx context.Context) ([]store.User, error)
	ListConfigs(ctx context.Context, userID string) ([]store.BackupConfig, error)
	store.Builtin
}

// Config configures a Supervisor. Store, AgentAPI and StateDir are required.
type Config struct {
	Store Store
	// AgentAPI is the server's agent API handler (agentapi.API), mounted at /api/agent/.
	AgentAPI http.Handler
	// Notify wakes long-polling heartbeats of an agent (agentapi.API.Notify); optional.
	Notify func(agentID string)
	// LocalPrefix and Local serve the built-in local destination's signed URLs
	// in-process too: requests whose URL starts with LocalPrefix (the destination's
	// base URL) go to Local. Optional; other URLs (S3) go over the network.
	LocalPrefix string
	Local       http.Handler
	// StateDir holds each built-in agent's local state (previous manifests), one
	// subdirectory per agent: <data-dir>/builtin-agent.
	StateDir string
	// Protected directories are never backed up nor restored into (the data directory).
	Protected []string
	Logger    *slog.Logger
	Now       func() time.Time
	// ClaimEvery is how often queued server-mode runs are handed to the built-in
	// agents (default 2 s); EnsureEvery how often new administrators get theirs
	// (default 1 min).
	ClaimEvery  time.Duration
	EnsureEvery time.Duration
	// Tune, when set, adjusts each daemon before it starts (tests shorten intervals).
	Tune func(*agent.Daemon)
	// Leader says whether this replica leads (the scheduler's lock); only the leader
	// runs the built-in agents. nil: always (one server, SQLite).
	Leader Leader
}

// Leader is the scheduler's leadership (scheduler.Leader).
type Leader interface {
	TryLead(ctx context.Context) (held bool, release func(), err error)
}

// Supervisor keeps one built-in agent per administrator (and per other owner of a
// built-in agent or of server-mode configurations, whose runs its guard then fails
// with a clear message) and runs the real agent daemon for each, in-process.
//
// Why one per owner rather than one for the whole server: the agent protocol acts for
// the agent's owner throughout (the owner's storage destinations, object keys under
// users/{owner}/agents/{agent}/, catalogs), so a built-in agent per owner gives
// server-mode runs exactly the keys, isolation and history of any agent's runs.
//
// Each start gives every built-in agent a new key, of which only the hash is stored;
// the key lives in the client of its daemon and nowhere else. With several replicas
// only the leader (the replica that schedules) runs the built-in agents, so one
// replica's disk is backed up, not whichever's agent heartbeats first; when the lead
// moves, the old leader stops its daemons and the new one starts them with new keys.
type Supervisor struct {
	cfg   Config
	guard *Guard
	log   *slog.Logger

	mu      sync.Mutex
	daemons map[string]*daemon // by owner's user id
	wg      sync.WaitGroup
}

type daemon struct {
	agentID string
	cancel  context.CancelFunc
	done    chan struct{} // closed when the daemon has reported its last runs
}

// New checks cfg and returns a supervisor; Run starts it.
func New(cfg Config) (*Supervisor, error) {
	if cfg.Store == nil || cfg.AgentAPI == nil || cfg.StateDir == "" {
		return nil, errors.New("builtin: Store, AgentAPI and StateDir are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Notify == nil {
		cfg.Notify = func(string) {}
	}
	if cfg.ClaimEvery <= 0 {
		cfg.ClaimEvery = 2 * time.Second
	}
	if cfg.EnsureEvery <= 0 {
		cfg.EnsureEvery = time.Minute
	}
	return &Supervisor{cfg: cfg, guard: &Guard{Store: cfg.Store, Protected: cfg.Protected},
		log: cfg.Logger.With("component", "builtin-agent"), daemons: map[string]*daemon{}}, nil
}

// Run keeps the built-in agents and hands them queued server-mode runs until ctx ends;
// then it stops the daemons, which cancel and report their running work, and waits
// for them.
func (s *Supervisor) Run(ctx context.Context) error {
	defer s.wg.Wait()
	defer s.stopAll()
	claim := time.NewTicker(s.cfg.ClaimEvery)
	defer claim.Stop()
	ensure := time.NewTicker(s.cfg.EnsureEvery)
	defer ensure.Stop()
	leading := false
	for {
		lead := s.leads(ctx)
		switch {
		case lead && !leading:
			s.log.Info("leading: starting the built-in agents")
			s.ensure(ctx)
		case !lead && leading:
			s.log.Info("no longer leading: stopping the built-in agents (the leader runs them)")
			s.stopAll()
		}
		leading = lead
		if leading {
			s.claim(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-claim.C:
		case <-ensure.C:
			if leading {
				s.ensure(ctx)
			}
		}
	}
}

// leads reports whether this replica leads (always without a Leader).
func (s *Supervisor) leads(ctx context.Context) bool {
	if s.cfg.Leader == nil {
		return true
	}
	held, _, err := s.cfg.Leader.TryLead(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("built-in agents: leadership", "err", err)
	}
	return held && err == nil
}

// AgentID returns the id of userID's running built-in agent, "" when none.
func (s *Supervisor) AgentID(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.daemons[userID]; ok {
		return d.agentID
	}
	return ""
}

func (s *Supervisor) claim(ctx context.Context) {
	// Owners whose first server-mode run waits for a built-in agent get one now, not
	// at the next ensure.
	owners, err := s.cfg.Store.UnclaimedServerRunOwners(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("find server-mode runs without a built-in agent", "err", err)
	}
	for _, uid := range owners {
		s.mu.Lock()
		_, running := s.daemons[uid]
		s.mu.Unlock()
		if !running {
			if err := s.start(ctx, uid); err != nil {
				s.log.Error("start the built-in agent", "user", uid, "err", err)
			}
		}
	}
	ids, err := s.cfg.Store.ClaimServerRuns(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("hand queued server-mode runs to the built-in agents", "err", err)
		}
		return
	}
	for _, id := range ids {
		s.cfg.Notify(id)
	}
}

// ensure starts a daemon for every user who should have a built-in agent and has
// none running, and stops those whose agent row is gone (its owner deleted).
func (s *Supervisor) ensure(ctx context.Context) {
	want := map[string]bool{}
	users, err := s.cfg.Store.ListUsers(ctx)
	if err != nil {
		s.log.Warn("built-in agents: list users", "err", err)
		return
	}
	for _, u := range users {
		if u.Role == store.RoleAdmin && !u.Disabled {
			want[u.ID] = true
		}
	}
	rows, err := s.cfg.Store.BuiltinAgents(ctx)
	if err != nil {
		s.log.Warn("built-in agents: list", "err", err)
		return
	}
	exists := map[string]bool{}
	for _, b := range rows {
		want[b.UserID] = true
		exists[b.ID] = true
	}
	cs, err := s.cfg.Store.ListConfigs(ctx, "")
	if err != nil {
		s.log.Warn("built-in agents: list configurations", "err", err)
		return
	}
	for _, c := range cs {
		if c.ExecutionMode == configs.ModeServer {
			want[c.UserID] = true
		}
	}
	s.mu.Lock()
	for uid, d := range s.daemons {
		if !exists[d.agentID] {
			s.log.Info("built-in agent removed; stopping it", "agent", d.agentID, "user", uid)
			d.cancel()
			delete(s.daemons, uid)
		}
	}
	s.mu.Unlock()
	for uid := range want {
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		_, running := s.daemons[uid]
		s.mu.Unlock()
		if running {
			continue
		}
		if err := s.start(ctx, uid); err != nil {
			s.log.Error("start the built-in agent", "user", uid, "err", err)
		}
	}
}

// start gives userID's built-in agent a new key and runs its daemon.
func (s *Supervisor) start(ctx context.Context, userID string) error {
	key, hash, prefix := agentkey.Generate()
	ag, err := s.cfg.Store.EnsureBuiltinAgent(ctx, userID, Name, hash, prefix, s.cfg.Now().UTC())
	if err != nil {
		return err
	}
	state, err := agent.OpenState(filepath.Join(s.cfg.StateDir, ag.ID), s.log)
	if err != nil {
		return fmt.Errorf("built-in agent %s: %w", ag.ID, err)
	}
	// The API client reaches only the agent API; nothing else is routed for it.
	api := &http.Client{Transport: &Transport{Routes: []Route{{Prefix: Origin + "/api/agent/", Handler: s.cfg.AgentAPI}},
		Next: refuse{}}}
	client, err := agent.NewClient(agent.ClientOptions{Server: Origin, Key: key, HTTP: api, Log: s.log})
	if err != nil {
		return fmt.Errorf("built-in agent %s: %w", ag.ID, err)
	}
	// Its log goes to the server's log and, like any agent's, to the agent's page and
	// the runs' details.
	ship := agent.NewLogShipper(client)
	log := slog.New(ship.Handler(s.log.Handler(), slog.LevelInfo)).With("agent", ag.ID, "user", userID)
	var routes []Route
	if s.cfg.Local != nil && s.cfg.LocalPrefix != "" {
		routes = append(routes, Route{Prefix: s.cfg.LocalPrefix, Handler: s.cfg.Local})
	}
	transfers := &http.Client{Transport: &Transport{Routes: routes}}
	runner := &agent.Runner{Client: client, State: state, Log: log, Now: s.cfg.Now,
		Upload:      upload.Options{Client: transfers, Log: log},
		CheckBackup: s.guard.CheckBackup,
		// Server-mode runs are not resumed: the server fails its own runs when it
		// restarts.
		NoCheckpoints: true,
		CheckRestore:  func(ctx context.Context, target string) error { return s.guard.CheckRestore(ctx, userID, target) }}
	host, _ := os.Hostname()
	d := &agent.Daemon{Runner: runner, Log: log,
		Host: agentproto.Host{Hostname: host, Platform: runtime.GOOS, Arch: runtime.GOARCH, Version: version.String()}}
	if s.cfg.Tune != nil {
		s.cfg.Tune(d)
	}
	dctx, cancel := context.WithCancel(ctx)
	dm := &daemon{agentID: ag.ID, cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	s.daemons[userID] = dm
	s.mu.Unlock()
	s.wg.Go(func() {
		defer close(dm.done)
		_ = agent.RunDaemon(dctx, d, ship)
	})
	return nil
}

// stopAll stops every daemon and waits until each has reported its last runs, so a
// later start (with a new key) does not cut those reports off.
func (s *Supervisor) stopAll() {
	s.mu.Lock()
	ds := s.daemons
	s.daemons = map[string]*daemon{}
	s.mu.Unlock()
	for _, d := range ds {
		d.cancel()
	}
	for _, d := range ds {
		<-d.done
	}
}

// refuse is the built-in agent API client's way out: there is none.
type refuse struct{}

func (refuse) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("built-in agent: %s is not the in-process agent API", r.URL.Redacted())
}
