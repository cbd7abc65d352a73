package restores

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// Destinations resolves a run's destination (internal/destinations implements it).
type Destinations interface {
	Resolve(ctx context.Context, userID, destinationID string) (storage.Destination, error)
}

// Opener seals and opens secrets under the server's master key (secrets.Keys).
type Opener interface {
	Open(purpose string, sealed, context []byte) ([]byte, error)
	Seal(purpose string, plaintext, context []byte) ([]byte, error)
}

// Store is what the service needs from the database: restores, and the runs,
// configurations and agents they are made from and sent to.
type Store interface {
	CreateRestore(ctx context.Context, r *store.Restore) error
	GetRestore(ctx context.Context, id string) (store.Restore, error)
	ListRestores(ctx context.Context, f store.RestoreFilter) ([]store.Restore, error)
	CancelRestore(ctx context.Context, id string, at time.Time) (store.Restore, error)
	GetRun(ctx context.Context, id string) (store.Run, error)
	ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error)
	GetConfig(ctx context.Context, id string) (store.BackupConfig, error)
	ListConfigs(ctx context.Context, userID string) ([]store.BackupConfig, error)
	GetAgent(ctx context.Context, id string) (store.Agent, error)
	ListAgents(ctx context.Context, userID string) ([]store.Agent, error)
	RestoreIdentity(ctx context.Context, id string, now time.Time) ([]byte, error)
}

// Config configures the service. Store, Destinations and Keys are required.
type Config struct {
	Store        Store
	Destinations Destinations
	Keys         Opener
	// Notify wakes the long-polling heartbeat of an agent that has new work
	// (agentapi.API.Notify); nil leaves it to the heartbeat's periodic re-check.
	Notify func(agentID string)
	// Events receives restores queued and cancelled (nil: none).
	Events interface{ Publish(events.Event) }
	Logger *slog.Logger
	Now    func() time.Time
	// CacheEntries bounds the decoded catalogs kept in memory, in entries over all
	// runs (default 1,000,000: about 180 bytes each with 40-byte paths, measured, so
	// some 180 MB at most); the least recently used go first.
	CacheEntries int
	// MaxCatalogBytes caps a sealed catalog read from storage (default 64 MiB, as the
	// agent API accepts).
	MaxCatalogBytes int64
}

// Service is the restore service.
type Service struct {
	st     Store
	dests  Destinations
	keys   Opener
	notify func(string)
	events interface{ Publish(events.Event) }
	log    *slog.Logger
	now    func() time.Time
	maxCat int64
	cache  *catalogCache
}

// New checks cfg and returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Destinations == nil || cfg.Keys == nil {
		return nil, errors.New("restores: Store, Destinations and Keys are required")
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
	if cfg.Events == nil {
		cfg.Events = noEvents{}
	}
	if cfg.CacheEntries <= 0 {
		cfg.CacheEntries = 1_000_000
	}
	if cfg.MaxCatalogBytes <= 0 {
		cfg.MaxCatalogBytes = 64 << 20
	}
	return &Service{st: cfg.Store, dests: cfg.Destinations, keys: cfg.Keys, notify: cfg.Notify, events: cfg.Events, log: cfg.Logger,
		now: func() time.Time { return cfg.Now().UTC() }, maxCat: cfg.MaxCatalogBytes,
		cache: newCatalogCache(cfg.CacheEntries)}, nil
}

type noEvents struct{}

func (noEvents) Publish(events.Event) {}

// MaxPaths is the most paths one restore may select.
const MaxPaths = 10_000

var errNotFound = apperr.New(apperr.NotFound, "no such restore")

// Run returns run id when actor may see it; another user's run is NotFound (404).
func (s *Service) Run(ctx context.Context, actor store.User, id string) (store.Run, error) {
	notFound := apperr.New(apperr.NotFound, "no backup %q", id)
	if id == "" {
		return store.Run{}, notFound
	}
	r, err := s.st.GetRun(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !actor.Sees(r.UserID) {
		return store.Run{}, notFound
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("load run %s: %w", id, err)
	}
	return r, nil
}

// RunAt returns the newest completed run of config configID at or before t.
func (s *Service) RunAt(ctx context.Context, actor store.User, configID string, t time.Time) (store.Run, error) {
	c, err := s.st.GetConfig(ctx, configID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !actor.Sees(c.UserID) {
		return store.Run{}, configs.NotFoundError(configID)
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("load config %s: %w", configID, err)
	}
	runs, err := s.st.ListRuns(ctx, store.RunFilter{ConfigID: c.ID, Status: store.RestoreCompleted, Until: t.Add(time.Nanosecond), Limit: 1})
	if err != nil {
		return store.Run{}, err
	}
	if len(runs) == 0 {
		return store.Run{}, apperr.Invalidf("pointInTime", "configuration %q has no completed backup at or before %s", c.Name, t.UTC().Format(time.RFC3339))
	}
	return runs[0], nil
}

// Input is a restore to start. RunID names the run; or ConfigID and PointInTime pick
// the newest completed run of that config at or before it.
type Input struct {
	RunID       string
	ConfigID    string
	PointInTime *time.Time
	AgentID     string // target agent: the run's own or another of the owner's
	TargetDir   string // absolute directory on the target agent's machine
	Paths       []string
	Overwrite   bool
	// UnportableNames: what the target agent does with names its file system
	// cannot hold (store.UnportableRename, also when empty, or store.UnportableSkip).
	UnportableNames string
	// Identity is the age identity (identity file text) that opens a backup encrypted
	// to recipients, for this restore only: it is kept with the restore sealed under
	// the master key until the agent acknowledges the restore, at most a day (see
	// Identity). Ignored for other backups.
	Identity string
}

// Start validates in and queues the restore for its agent, reporting every problem
// at once by field (runId, pointInTime, agentId, targetDir, paths, unportableNames). A run the actor
// cannot see is NotFound. The agent gets it with its next heartbeat.
func (s *Service) Start(ctx context.Context, actor store.User, in Input) (store.Restore, error) {
	var run store.Run
	var err error
	switch {
	case in.RunID != "":
		run, err = s.Run(ctx, actor, in.RunID)
	case in.ConfigID != "" && in.PointInTime != nil:
		run, err = s.RunAt(ctx, actor, in.ConfigID, *in.PointInTime)
	case in.ConfigID != "":
		err = apperr.Invalidf("pointInTime", "pointInTime is required with configId: the date and time to restore")
	default:
		err = apperr.Invalidf("runId", "runId is required: the backup to restore (or configId and pointInTime)")
	}
	if err != nil {
		return store.Restore{}, err
	}
	f := apperr.Fields{}
	if run.Status != store.RestoreCompleted {
		f.Add("runId", "backup %s is %s; only completed backups can be restored", run.ID, run.Status)
	}
	agent, err := s.targetAgent(ctx, run, in.AgentID)
	if err != nil {
		if apperr.KindOf(err) != apperr.Invalid {
			return store.Restore{}, err
		}
		f.Add("agentId", "%s", apperr.From(err).Message)
	}
	target, msg := cleanTarget(in.TargetDir)
	if msg != "" {
		f.Add("targetDir", "%s", msg)
	}
	unportable := strings.TrimSpace(in.UnportableNames)
	switch unportable {
	case "":
		unportable = store.UnportableRename
	case store.UnportableRename, store.UnportableSkip:
	default:
		if len(unportable) > 32 {
			unportable = unportable[:32] + "…"
		}
		f.Add("unportableNames", "unportableNames must be %q (restore names the target cannot hold under an escaped name) or %q (leave them out), not %q; both list them in the restore's result",
			store.UnportableRename, store.UnportableSkip, unportable)
	}
	var paths []string
	if run.Status == store.RestoreCompleted {
		paths, msg = s.checkPaths(ctx, run, in.Paths)
		if msg != "" {
			f.Add("paths", "%s", msg)
		}
	}
	identity := strings.TrimSpace(in.Identity)
	if !run.Encrypted {
		identity = ""
	}
	if identity != "" {
		if msg := checkIdentity(identity); msg != "" {
			f.Add("identity", "%s", msg)
		}
	}
	if err := f.Err(); err != nil {
		return store.Restore{}, err
	}
	r := store.Restore{UserID: run.UserID, RunID: run.ID, AgentID: agent.ID, TargetDir: target, Paths: paths,
		Overwrite: in.Overwrite, UnportableNames: unportable, Status: store.RestoreQueued, CreatedAt: s.now()}
	if identity != "" {
		// Stored with the restore, not after it: a heartbeat may take it at once.
		if err := s.sealIdentity(&r, identity); err != nil {
			return store.Restore{}, err
		}
	}
	if err := s.st.CreateRestore(ctx, &r); err != nil {
		return store.Restore{}, err
	}
	r.Identity = nil
	s.log.Info("restore queued", "restore", r.ID, "run", run.ID, "agent", agent.ID, "user", actor.ID, "paths", len(paths))
	s.notify(agent.ID)
	s.events.Publish(events.RestoreStatus(r))
	return r, nil
}

// targetAgent checks that agentID is an agent of the run's owner that can restore.
// An unknown agent and another user's agent get the same message, so ids cannot
// be probed.
func (s *Service) targetAgent(ctx context.Context, run store.Run, agentID string) (store.Agent, error) {
	if agentID == "" {
		return store.Agent{}, apperr.Invalidf("agentId", "choose the agent that restores the files")
	}
	a, err := s.st.GetAgent(ctx, agentID)
	if errors.Is(err, store.ErrNotFound) || err == nil && a.UserID != run.UserID {
		return store.Agent{}, apperr.Invalidf("agentId", "no agent %q among the backup owner's agents", agentID)
	}
	if err != nil {
		return store.Agent{}, fmt.Errorf("load agent %s: %w", agentID, err)
	}
	if a.Revoked {
		return store.Agent{}, apperr.Invalidf("agentId", "agent %q is revoked; choose another agent", a.Name)
	}
	return a, nil
}

// cleanTarget checks a target directory: an absolute path (POSIX, or a Windows drive
// path) without "." or ".." elements. It returns the path or a message.
func cleanTarget(dir string) (string, string) {
	dir = strings.TrimSpace(dir)
	switch {
	case dir == "":
		return "", "the target directory is required: an absolute path on the target agent's machine, such as /srv/restore"
	case len(dir) > 4096:
		return "", "the target directory is longer than 4096 characters"
	case strings.ContainsAny(dir, "\x00\n\r"):
		return "", "the target directory contains a control character"
	}
	win := len(dir) >= 3 && dir[1] == ':' && (dir[2] == '\\' || dir[2] == '/') &&
		(dir[0]|0x20 >= 'a' && dir[0]|0x20 <= 'z')
	if !strings.HasPrefix(dir, "/") && !win {
		return "", fmt.Sprintf("the target directory must be an absolute path such as /srv/restore, not %q", dir)
	}
	for _, el := range strings.FieldsFunc(dir, func(r rune) bool { return r == '/' || r == '\\' }) {
		if el == ".." || el == "." {
			return "", fmt.Sprintf("the target directory must not contain %q elements", el)
		}
	}
	if !win {
		dir = path.Clean(dir)
	}
	return dir, ""
}

// checkPaths normalises the selected paths (archive names: no leading or trailing
// slash), drops duplicates and paths below another selected one, and checks each
// is in the run's catalog. Empty selects everything.
func (s *Service) checkPaths(ctx context.Context, run store.Run, in []string) ([]string, string) {
	if len(in) > MaxPaths {
		return nil, fmt.Sprintf("%d paths selected; select at most %d (a directory includes what is below it)", len(in), MaxPaths)
	}
	var paths []string
	seen := map[string]bool{}
	for _, p := range in {
		p = strings.Trim(strings.TrimSpace(p), "/")
		if p == "" || seen[p] {
			continue
		}
		for _, el := range strings.Split(p, "/") {
			if el == "" || el == "." || el == ".." {
				return nil, fmt.Sprintf("path %q is not a path of the backup", p)
			}
		}
		seen[p] = true
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		return nil, ""
	}
	cat, err := s.catalog(ctx, run)
	if err != nil {
		if apperr.KindOf(err) == apperr.Internal {
			s.log.Error("read catalog to check restore paths", "run", run.ID, "err", err)
		}
		return nil, apperr.From(err).Message + "; restore the whole backup instead (select nothing)"
	}
	var missing []string
	for _, p := range paths {
		if _, ok := cat.lookup(p); !ok {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		more := ""
		if len(missing) > 3 {
			more, missing = fmt.Sprintf(" and %d more", len(missing)-3), missing[:3]
		}
		return nil, fmt.Sprintf("not in backup %s: %s%s", run.ID, strings.Join(quoteAll(missing), ", "), more)
	}
	// Drop paths below another selected one: the agent restores a directory whole.
	var out []string
	for _, p := range paths {
		covered := false
		for q := path.Dir(p); q != "." && q != "/"; q = path.Dir(q) {
			if seen[q] {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	return out, ""
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", "/"+s)
	}
	return out
}

// Get returns restore id; another user's is NotFound.
func (s *Service) Get(ctx context.Context, actor store.User, id string) (store.Restore, error) {
	if id == "" {
		return store.Restore{}, errNotFound
	}
	r, err := s.st.GetRestore(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !actor.Sees(r.UserID) {
		return store.Restore{}, errNotFound
	}
	if err != nil {
		return store.Restore{}, fmt.Errorf("load restore %s: %w", id, err)
	}
	return r, nil
}

// List lists the actor's own restores in f's order, newest first by default
// (administrators' too: restores carry file names, so nobody browses another user's
// list); f.UserID is the actor's.
func (s *Service) List(ctx context.Context, actor store.User, f store.RestoreFilter) ([]store.Restore, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	f.UserID = actor.ID
	return s.st.ListRestores(ctx, f)
}

// Cancel cancels a queued restore at once, or asks the agent running it to stop.
// A finished restore is a Conflict.
func (s *Service) Cancel(ctx context.Context, actor store.User, id string) (store.Restore, error) {
	r, err := s.Get(ctx, actor, id)
	if err != nil {
		return store.Restore{}, err
	}
	if r.Finished() {
		return store.Restore{}, apperr.New(apperr.Conflict, "restore %s is already %s", r.ID, r.Status)
	}
	r, err = s.st.CancelRestore(ctx, id, s.now())
	if err != nil {
		return store.Restore{}, err
	}
	if r.AgentID != "" {
		s.notify(r.AgentID)
	}
	s.events.Publish(events.RestoreStatus(r))
	return r, nil
}
