package agents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/agentkey"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/audit"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/store"
)

// OfflineAfter is how long an agent may stay silent before it counts as offline.
const OfflineAfter = 5 * time.Minute

// MaxNameLen is the longest agent name, in characters.
const MaxNameLen = 100

// InstallCommand registers an enrolled agent as a system service on Linux and macOS;
// Setups gives the command of each platform (Windows has no sudo).
const InstallCommand = "sudo backapp-agent install"

// Store is what the service needs from the database.
type Store interface {
	CreateAgent(ctx context.Context, a *store.Agent) error
	GetAgent(ctx context.Context, id string) (store.Agent, error)
	ListAgents(ctx context.Context, userID string) ([]store.Agent, error)
	RenameAgent(ctx context.Context, id, name string, now time.Time) error
	SetAgentKey(ctx context.Context, id, keyHash, keyPrefix string, now time.Time) error
	RevokeAgent(ctx context.Context, id string, now time.Time) error
	DeleteAgent(ctx context.Context, id string) error
	ListAgentLogs(ctx context.Context, f store.AgentLogFilter) ([]store.AgentLog, error)
	ListConfigs(ctx context.Context, userID string) ([]store.BackupConfig, error)
	ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error)
	LatestRuns(ctx context.Context, per store.RunsPer, userID string) ([]store.Run, error)
	ListUsers(ctx context.Context) ([]store.User, error)
	audit.Store
}

// Config configures the service.
type Config struct {
	Store Store // required
	// BaseURL is the server's public URL, put into the enroll command.
	BaseURL string
	Logger  *slog.Logger     // slog.Default() when nil
	Now     func() time.Time // time.Now when nil
}

// Service manages agents on behalf of signed-in users.
type Service struct {
	st      Store
	baseURL string
	log     *slog.Logger
	now     func() time.Time
}

// New returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("agents: Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{st: cfg.Store, baseURL: strings.TrimRight(cfg.BaseURL, "/"), log: cfg.Logger, now: cfg.Now}, nil
}

// Agent is an agent as people see it: the stored row, its status computed now, and
// its newest run.
type Agent struct {
	store.Agent
	// State is online, offline or error (store.Agent* constants), computed from
	// LastSeen at read time; a revoked agent is offline.
	State string
	// Owner is the owner's e-mail, filled in for administrators' lists only.
	Owner string
	// LastRun is the newest run the agent executed; nil when none.
	LastRun *store.Run
}

// Enrolled reports whether the agent has ever contacted the server.
func (a Agent) Enrolled() bool { return a.EnrolledAt != nil || a.LastSeen != nil }

// Created is the answer to registering an agent or rotating its key: the only time
// the key is ever available. Do not log it or keep it.
type Created struct {
	Agent          Agent
	Key            string
	EnrollCommand  string
	InstallCommand string // for the agent's platform when known, else Linux's and macOS's
	Setups         []Setup
}

// created is the answer with key for agent a.
func (s *Service) created(ctx context.Context, a store.Agent, key string) Created {
	c := Created{Agent: s.view(ctx, a), Key: key, EnrollCommand: s.EnrollCommand(key), InstallCommand: InstallCommand,
		Setups: s.Setups(a.Platform, key)}
	if len(c.Setups) == 1 {
		c.EnrollCommand, c.InstallCommand = c.Setups[0].EnrollCommand, c.Setups[0].InstallCommand
	}
	return c
}

// State computes an agent's status at now: offline when revoked, never seen, silent
// for OfflineAfter or stopped (it said so: the stored status is offline); else error
// when the stored status says so; else online.
func State(a store.Agent, now time.Time) string {
	switch {
	case a.Revoked, a.LastSeen == nil, now.Sub(*a.LastSeen) >= OfflineAfter, a.Status == store.AgentOffline:
		return store.AgentOffline
	case a.Status == store.AgentError:
		return store.AgentError
	default:
		return store.AgentOnline
	}
}

// EnrollCommand is the command that enrols an agent with key on this server.
func (s *Service) EnrollCommand(key string) string {
	return "backapp-agent enroll --server " + s.baseURL + " --key " + key
}

var errNotFound = apperr.New(apperr.NotFound, "no such agent")

// ValidateName trims name and checks it: required, at most MaxNameLen characters, no
// control characters.
func ValidateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", apperr.Invalidf("name", "enter a name for the agent, such as the machine's name")
	case !utf8.ValidString(name):
		return "", apperr.Invalidf("name", "the name must be valid UTF-8 text")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return "", apperr.Invalidf("name", "the name is %d characters long; use at most %d", utf8.RuneCountInString(name), MaxNameLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", apperr.Invalidf("name", "the name must not contain control characters such as tabs or line breaks")
	}
	return name, nil
}

// nameTaken reports whether userID has an agent other than exceptID named name
// (ignoring case, so "Laptop" and "laptop" cannot be confused in a list).
func (s *Service) nameTaken(ctx context.Context, userID, name, exceptID string) error {
	as, err := s.st.ListAgents(ctx, userID)
	if err != nil {
		return fmt.Errorf("list agents of user %s: %w", userID, err)
	}
	for _, a := range as {
		if a.ID != exceptID && strings.EqualFold(a.Name, name) {
			return apperr.Invalidf("name", "you already have an agent named %q; choose another name", a.Name)
		}
	}
	return nil
}

// Create registers a new agent owned by actor and returns it with its key, which is
// never available again.
func (s *Service) Create(ctx context.Context, actor store.User, name string, m auth.Meta) (Created, error) {
	name, err := ValidateName(name)
	if err != nil {
		return Created{}, err
	}
	if err := s.nameTaken(ctx, actor.ID, name, ""); err != nil {
		return Created{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Created{}, fmt.Errorf("agent id: %w", err)
	}
	key, hash, prefix := agentkey.Generate()
	now := s.now().UTC()
	a := store.Agent{ID: id.String(), UserID: actor.ID, Name: name, KeyHash: hash, KeyPrefix: prefix, Status: store.AgentOffline, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateAgent(ctx, &a); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Created{}, nameConflict(name, err)
		}
		return Created{}, fmt.Errorf("create agent %q: %w", name, err)
	}
	s.audit(ctx, actor.ID, "agent.create", a.ID, m, fmt.Sprintf("name %q, key %s…", a.Name, a.KeyPrefix))
	return s.created(ctx, a, key), nil
}

// nameConflict is the answer when the database refused a duplicate (two requests
// racing past nameTaken).
func nameConflict(name string, cause error) error {
	msg := fmt.Sprintf("you already have an agent named %q; choose another name", name)
	return &apperr.Error{Kind: apperr.Invalid, Message: msg, Fields: map[string]string{"name": msg}, Cause: cause}
}

// List lists the agents actor may see: their own, or every agent for administrators,
// each with its newest run (read for all agents in one query).
func (s *Service) List(ctx context.Context, actor store.User) ([]Agent, error) {
	owner := actor.Scope()
	as, err := s.st.ListAgents(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	var emails map[string]string
	if owner == "" {
		us, err := s.st.ListUsers(ctx)
		if err != nil {
			return nil, fmt.Errorf("list agents' owners: %w", err)
		}
		emails = make(map[string]string, len(us))
		for _, u := range us {
			emails[u.ID] = u.Email
		}
	}
	last := map[string]store.Run{}
	if runs, err := s.st.LatestRuns(ctx, store.PerAgent, owner); err != nil {
		s.log.Warn("read agents' last runs", "err", err) // the list must not vanish because of it
	} else {
		for _, r := range runs {
			last[r.AgentID] = r
		}
	}
	out := make([]Agent, 0, len(as))
	for _, a := range s.visible(ctx, actor, as) {
		v := s.viewWith(a, last)
		v.Owner = emails[a.UserID]
		out = append(out, v)
	}
	return out, nil
}

// visible keeps of as those List shows actor.
func (s *Service) visible(ctx context.Context, actor store.User, as []store.Agent) []store.Agent {
	out := as[:0:0]
	var serverMode map[string]bool // users with a server-mode configuration
	for _, a := range as {
		if a.Builtin && !actor.IsAdmin() {
			continue // the server's own agent: only administrators see it
		}
		if a.Builtin {
			if serverMode == nil {
				serverMode = s.serverModeUsers(ctx, actor.Scope())
			}
			if !serverMode[a.UserID] {
				continue // nothing runs on the server yet: it would only puzzle
			}
		}
		out = append(out, a)
	}
	return out
}

// Counts is how many of the agents List shows actor are online, and in all,
// without reading their runs (the dashboard's headline).
func (s *Service) Counts(ctx context.Context, actor store.User) (online, total int, err error) {
	as, err := s.st.ListAgents(ctx, actor.Scope())
	if err != nil {
		return 0, 0, fmt.Errorf("list agents: %w", err)
	}
	for _, a := range s.visible(ctx, actor, as) {
		total++
		if State(a, s.now()) == store.AgentOnline {
			online++
		}
	}
	return online, total, nil
}

// serverModeUsers are the owners (owner, or everyone for "") of a configuration that
// runs on the server ("server" execution mode: configs.ModeServer, which this package
// cannot import). On an error every user counts, so the built-in agent stays listed.
func (s *Service) serverModeUsers(ctx context.Context, owner string) map[string]bool {
	cs, err := s.st.ListConfigs(ctx, owner)
	users := map[string]bool{}
	if err != nil {
		s.log.Warn("list configurations for the built-in agent", "err", err)
		as, _ := s.st.ListAgents(ctx, owner)
		for _, a := range as {
			users[a.UserID] = true
		}
		return users
	}
	for _, c := range cs {
		if c.ExecutionMode == "server" {
			users[c.UserID] = true
		}
	}
	return users
}

// Get returns agent id as actor sees it. Another user's agent is ErrNotFound-kind
// (404), never forbidden, so ids cannot be probed.
func (s *Service) Get(ctx context.Context, actor store.User, id string) (Agent, error) {
	a, err := s.load(ctx, actor, id)
	if err != nil {
		return Agent{}, err
	}
	return s.view(ctx, a), nil
}

// load reads agent id when actor may see it.
func (s *Service) load(ctx context.Context, actor store.User, id string) (store.Agent, error) {
	if id == "" {
		return store.Agent{}, errNotFound
	}
	a, err := s.st.GetAgent(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Agent{}, errNotFound
	}
	if err != nil {
		return store.Agent{}, fmt.Errorf("load agent %s: %w", id, err)
	}
	if !actor.Sees(a.UserID) || (a.Builtin && !actor.IsAdmin()) {
		return store.Agent{}, errNotFound
	}
	return a, nil
}

// errBuiltin refuses changes to the server's built-in agent, which the server keeps
// (a new key at every start, never shown).
func errBuiltin(a store.Agent) error {
	return apperr.New(apperr.Conflict, "%q is the server's built-in agent, which runs server-mode backups; the server manages it, so it cannot be renamed, rotated, revoked or deleted", a.Name)
}

// loadChangeable is load for changes: the built-in agent is refused.
func (s *Service) loadChangeable(ctx context.Context, actor store.User, id string) (store.Agent, error) {
	a, err := s.load(ctx, actor, id)
	if err == nil && a.Builtin {
		return store.Agent{}, errBuiltin(a)
	}
	return a, err
}

// view adds the computed status and the newest run. A failure to read the run is
// logged and leaves LastRun empty: the page must not vanish because of it.
func (s *Service) view(ctx context.Context, a store.Agent) Agent {
	runs, err := s.st.ListRuns(ctx, store.RunFilter{AgentID: a.ID, Limit: 1})
	if err != nil {
		s.log.Warn("read agent's last run", "agent", a.ID, "err", err)
	}
	last := map[string]store.Run{}
	if len(runs) > 0 {
		last[a.ID] = runs[0]
	}
	return s.viewWith(a, last)
}

// viewWith adds the computed status and the newest run from last (by agent id).
func (s *Service) viewWith(a store.Agent, last map[string]store.Run) Agent {
	v := Agent{Agent: a, State: State(a, s.now())}
	if r, ok := last[a.ID]; ok {
		v.LastRun = &r
	}
	return v
}

// Rename gives agent id a new name.
func (s *Service) Rename(ctx context.Context, actor store.User, id, name string, m auth.Meta) (Agent, error) {
	a, err := s.loadChangeable(ctx, actor, id)
	if err != nil {
		return Agent{}, err
	}
	name, err = ValidateName(name)
	if err != nil {
		return Agent{}, err
	}
	if name == a.Name {
		return s.view(ctx, a), nil
	}
	if err := s.nameTaken(ctx, a.UserID, name, a.ID); err != nil {
		return Agent{}, err
	}
	now := s.now().UTC()
	if err := s.st.RenameAgent(ctx, a.ID, name, now); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Agent{}, nameConflict(name, err)
		}
		return Agent{}, fmt.Errorf("rename agent %s: %w", a.ID, err)
	}
	s.audit(ctx, actor.ID, "agent.rename", a.ID, m, fmt.Sprintf("from %q to %q", a.Name, name))
	a.Name, a.UpdatedAt = name, now
	return s.view(ctx, a), nil
}

// RotateKey gives agent id a new key, returned once; the old key is refused from
// the next request on. The agent must be enrolled again with the new key.
func (s *Service) RotateKey(ctx context.Context, actor store.User, id string, m auth.Meta) (Created, error) {
	a, err := s.loadChangeable(ctx, actor, id)
	if err != nil {
		return Created{}, err
	}
	if a.Revoked {
		return Created{}, apperr.New(apperr.Conflict, "agent %q is revoked, so it gets no new key; register a new agent instead", a.Name)
	}
	key, hash, prefix := agentkey.Generate()
	now := s.now().UTC()
	if err := s.st.SetAgentKey(ctx, a.ID, hash, prefix, now); err != nil {
		return Created{}, fmt.Errorf("rotate key of agent %s: %w", a.ID, err)
	}
	s.audit(ctx, actor.ID, "agent.rotate", a.ID, m, fmt.Sprintf("name %q, key %s… replaces %s…", a.Name, prefix, a.KeyPrefix))
	a.KeyHash, a.KeyPrefix, a.UpdatedAt = hash, prefix, now
	return s.created(ctx, a, key), nil
}

// Revoke refuses agent id's key from now on. The agent stays listed with its history;
// revoking twice is not an error.
func (s *Service) Revoke(ctx context.Context, actor store.User, id string, m auth.Meta) (Agent, error) {
	a, err := s.loadChangeable(ctx, actor, id)
	if err != nil {
		return Agent{}, err
	}
	if a.Revoked {
		return s.view(ctx, a), nil
	}
	now := s.now().UTC()
	if err := s.st.RevokeAgent(ctx, a.ID, now); err != nil {
		return Agent{}, fmt.Errorf("revoke agent %s: %w", a.ID, err)
	}
	s.audit(ctx, actor.ID, "agent.revoke", a.ID, m, fmt.Sprintf("name %q, key %s…", a.Name, a.KeyPrefix))
	a.Revoked, a.UpdatedAt = true, now
	return s.view(ctx, a), nil
}

// Delete removes agent id and its logs; configurations assigned to it are left
// without an agent. Its key stops working at once.
func (s *Service) Delete(ctx context.Context, actor store.User, id string, m auth.Meta) error {
	a, err := s.loadChangeable(ctx, actor, id)
	if err != nil {
		return err
	}
	if err := s.st.DeleteAgent(ctx, a.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound
		}
		return fmt.Errorf("delete agent %s: %w", a.ID, err)
	}
	s.audit(ctx, actor.ID, "agent.delete", a.ID, m, fmt.Sprintf("name %q", a.Name))
	return nil
}

// audit writes an audit entry. It never carries a key, only its display prefix.
func (s *Service) audit(ctx context.Context, actorID, action, target string, m auth.Meta, detail string) {
	audit.Writer{Store: s.st, Log: s.log, Now: s.now}.Write(ctx, actorID, action, target, m.IP, detail)
}
