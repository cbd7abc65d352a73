package runs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/audit"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// Statuses of a run. Late is not a status but a flag; history filters accept it.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusExpired   = store.RunExpired
	FilterLate      = "late"
)

// Statuses lists what the history can filter by, in display order.
var Statuses = []string{StatusQueued, StatusRunning, StatusCompleted, StatusFailed, StatusCancelled, StatusExpired, FilterLate}

// Resolver gives the storage of a user's destination ("" is the built-in local one);
// internal/destinations implements it.
type Resolver interface {
	Resolve(ctx context.Context, userID, destinationID string) (storage.Destination, error)
}

// Store is what the service needs from the database: runs as people see and queue
// them, scheduling, retention's expiry, the configurations and agents runs belong to,
// and the audit log it writes.
type Store interface {
	CreateRun(ctx context.Context, r *store.Run) error
	ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error)
	GetRunRecord(ctx context.Context, id string) (store.RunRecord, error)
	ListRunRecords(ctx context.Context, f store.RunFilter) ([]store.RunRecord, int, error)
	LatestRuns(ctx context.Context, per store.RunsPer, userID string) ([]store.Run, error)
	CancelRun(ctx context.Context, id string, at time.Time) (store.Run, error)
	ExpireRun(ctx context.Context, id string, at time.Time) error
	ScheduledConfigs(ctx context.Context) ([]store.ScheduledConfig, error)
	QueueScheduledRun(ctx context.Context, q store.ScheduledRun) error
	SkipSlot(ctx context.Context, configID string, slot, dueAt time.Time, alert func(runDueAt time.Time) store.Alert) (flagged bool, err error)
	FlagLateQueued(ctx context.Context, cutoff time.Time, alert func(r store.RunRecord) store.Alert) ([]store.RunRecord, error)
	GetConfig(ctx context.Context, id string) (store.BackupConfig, error)
	ListConfigs(ctx context.Context, userID string) ([]store.BackupConfig, error)
	GetAgent(ctx context.Context, id string) (store.Agent, error)
	ListAgentLogs(ctx context.Context, f store.AgentLogFilter) ([]store.AgentLog, error)
	LastCompletedRun(ctx context.Context, configID string) (store.Run, error)
	audit.Store
}

// Config configures the service. Store is required.
type Config struct {
	Store        Store
	Destinations Resolver // needed by retention
	// Notify wakes the long-polling heartbeats of an agent (events.Bus.Wake: on
	// every replica), so "run now" and "cancel" reach it at once.
	Notify func(agentID string)
	// Events receives runs queued and cancelled, and late alerts (nil: none).
	Events Publisher
	Logger *slog.Logger
	Now    func() time.Time
	// OfflineAfter is how long without a heartbeat makes an agent offline (5 min).
	OfflineAfter time.Duration
	// LateAfter is how long after its slot a scheduled run may wait for its agent
	// before it is flagged late with an alert (5 min, as the scheduler's).
	LateAfter time.Duration
	// Retention hears how each config's retention pass went (internal/alerts; nil:
	// nobody).
	Retention RetentionReporter
}

// RetentionReporter hears the outcome of retention per configuration: err is what
// kept it from deleting what it should, nil when it did.
type RetentionReporter interface {
	RetentionDone(ctx context.Context, c store.BackupConfig, err error)
}

// Publisher takes events (internal/events' buses).
type Publisher interface {
	Publish(events.Event)
}

type noEvents struct{}

func (noEvents) Publish(events.Event) {}

// Service manages runs. Create it with New.
type Service struct {
	st     Store
	dests  Resolver
	notify func(string)
	log    *slog.Logger
	now    func() time.Time
	cfg    Config
}

// New returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("runs: Store is required")
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
	if cfg.OfflineAfter <= 0 {
		cfg.OfflineAfter = 5 * time.Minute
	}
	if cfg.LateAfter <= 0 {
		cfg.LateAfter = 5 * time.Minute
	}
	return &Service{st: cfg.Store, dests: cfg.Destinations, notify: cfg.Notify, log: cfg.Logger,
		now: func() time.Time { return cfg.Now().UTC() }, cfg: cfg}, nil
}

var errNotFound = apperr.New(apperr.NotFound, "no such backup run")

// Run is a run as people see it.
type Run struct {
	store.RunRecord
}

// Duration is how long the run took (or has taken so far, for a running one).
func (r Run) Duration(now time.Time) time.Duration {
	if r.DurationMS != nil {
		return time.Duration(*r.DurationMS) * time.Millisecond
	}
	if r.EndTime != nil {
		return r.EndTime.Sub(r.StartTime)
	}
	if r.Status == StatusRunning {
		return now.Sub(r.StartTime)
	}
	return 0
}

// Active reports whether the run is queued or running (it can be cancelled).
func (r Run) Active() bool { return r.Status == StatusQueued || r.Status == StatusRunning }

// Queued is the answer to "run now".
type Queued struct {
	Run Run
	// Message says what happens next, for instance that the agent is offline and
	// the run waits for it.
	Message      string
	AgentOffline bool
}

func (s *Service) loadConfig(ctx context.Context, actor store.User, id string) (store.BackupConfig, error) {
	if id == "" {
		return store.BackupConfig{}, configs.NotFoundError(id)
	}
	c, err := s.st.GetConfig(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !actor.Sees(c.UserID) {
		return store.BackupConfig{}, configs.NotFoundError(id)
	}
	if err != nil {
		return store.BackupConfig{}, fmt.Errorf("load config %s: %w", id, err)
	}
	return c, nil
}

func (s *Service) load(ctx context.Context, actor store.User, id string) (Run, error) {
	if id == "" {
		return Run{}, errNotFound
	}
	r, err := s.st.GetRunRecord(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !actor.Sees(r.UserID) {
		return Run{}, errNotFound
	}
	if err != nil {
		return Run{}, fmt.Errorf("load run %s: %w", id, err)
	}
	return Run{r}, nil
}

// Queue queues a run of config configID now. A config with a queued or running
// run gives a Conflict error (409). An agent-mode config whose agent is offline is
// queued all the same; the message says it waits for the agent.
func (s *Service) Queue(ctx context.Context, actor store.User, configID string, m auth.Meta) (Queued, error) {
	c, err := s.loadConfig(ctx, actor, configID)
	if err != nil {
		return Queued{}, err
	}
	now := s.now()
	var q Queued
	q.Message = "queued"
	if c.ExecutionMode != "server" {
		if c.AgentID == "" {
			return Queued{}, apperr.New(apperr.Conflict, "configuration %q has no agent to run it; choose one in the configuration", c.Name)
		}
		ag, err := s.st.GetAgent(ctx, c.AgentID)
		if err != nil {
			return Queued{}, fmt.Errorf("load agent of config %s: %w", c.ID, err)
		}
		if ag.Revoked {
			return Queued{}, apperr.New(apperr.Conflict, "agent %q of configuration %q is revoked; choose another agent", ag.Name, c.Name)
		}
		switch {
		case ag.LastSeen == nil || now.Sub(*ag.LastSeen) > s.cfg.OfflineAfter || ag.Status == store.AgentOffline:
			q.AgentOffline = true
			q.Message = fmt.Sprintf("queued; agent %q is offline, so the backup starts when it comes back", ag.Name)
		case now.Sub(*ag.LastSeen) > NotConnectedAfter:
			// Connected agents are heard at least every ~55 s (a 25 s long poll, last
			// seen written every 30 s): silent longer, it is not connected now.
			q.AgentOffline = true
			q.Message = fmt.Sprintf("queued; agent %q is not connected (last heard from %s ago), so the backup waits for it to come back",
				ag.Name, now.Sub(*ag.LastSeen).Round(time.Second))
		default:
			q.Message = fmt.Sprintf("queued; agent %q starts it within seconds", ag.Name)
		}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Queued{}, fmt.Errorf("queue run: %w", err)
	}
	run := store.Run{ID: id.String(), ConfigID: c.ID, UserID: c.UserID, AgentID: c.AgentID, StartTime: now, Status: StatusQueued}
	if c.ExecutionMode == "server" {
		run.AgentID = ""
	}
	if err := s.st.CreateRun(ctx, &run); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Queued{}, apperr.Wrap(apperr.Conflict, err, "configuration %q already has a backup queued or running; wait for it or cancel it", c.Name)
		}
		return Queued{}, fmt.Errorf("queue run of config %s: %w", c.ID, err)
	}
	if run.AgentID != "" {
		s.notify(run.AgentID)
	}
	s.cfg.Events.Publish(events.RunStatus(run))
	s.audit(ctx, actor.ID, "run.queue", run.ID, m, "config "+c.ID)
	q.Run, err = s.load(ctx, actor, run.ID)
	return q, err
}

// Cancel cancels a queued run at once, or asks a running one to stop: its agent
// stops at its next progress report or heartbeat. Cancelling a finished run is a
// Conflict error.
func (s *Service) Cancel(ctx context.Context, actor store.User, id string, m auth.Meta) (Run, error) {
	r, err := s.load(ctx, actor, id)
	if err != nil {
		return Run{}, err
	}
	if !r.Active() {
		return Run{}, apperr.New(apperr.Conflict, "the backup run is %s; only a queued or running one can be cancelled", r.Status)
	}
	if _, err := s.st.CancelRun(ctx, id, s.now()); err != nil {
		return Run{}, fmt.Errorf("cancel run %s: %w", id, err)
	}
	if r.AgentID != "" {
		s.notify(r.AgentID)
	}
	s.audit(ctx, actor.ID, "run.cancel", id, m, "was "+r.Status)
	r, err = s.load(ctx, actor, id)
	if err == nil {
		s.cfg.Events.Publish(events.RunStatus(r.Run))
	}
	return r, err
}

// Filter selects runs of the history. Zero fields do not filter.
type Filter struct {
	Status   string // a status, or "late"
	ConfigID string
	AgentID  string
	From     time.Time // start at or after
	To       time.Time // start before
	Limit    int       // 1..200; 0 means 50
	Offset   int
	NoTotal  bool // Page.Total is left 0 (a short list that shows no count)
	// Sort is one of store.RunSorts ("" is newest first); the order is descending
	// unless Asc.
	Sort string
	Asc  bool
}

// Page is one page of the history.
type Page struct {
	Runs  []Run
	Total int
	// TotalCapped says Total is a lower bound: more runs match than the history
	// counts (CountCap past the page's start).
	TotalCapped bool
	Limit       int
	Offset      int
}

// CountCap is how many matching runs past a page's start the history counts: with
// 100,000 runs, counting them all costs more than the page itself (docs/benchmarks.md),
// and nobody pages through a thousand runs to learn the exact number.
const CountCap = 1000

// Validate checks f, naming each bad field (by its query-parameter name).
func (f Filter) Validate() error {
	fields := apperr.Fields{}
	f.check(fields)
	return fields.Err()
}

// check adds f's problems to fields, keeping those already there.
func (f Filter) check(fields apperr.Fields) {
	if f.Status != "" && !validStatus(f.Status) {
		fields.Add("status", "unknown status %q; use one of queued, running, completed, failed, cancelled, expired, late", f.Status)
	}
	if f.Limit < 0 || f.Limit > 200 {
		fields.Add("limit", "limit must be between 1 and 200")
	}
	if f.Offset < 0 {
		fields.Add("offset", "offset must be 0 or more")
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) && fields["to"] == "" {
		fields.Add("to", "the end of the date range must be after its start")
	}
}

func validStatus(s string) bool {
	for _, v := range Statuses {
		if v == s {
			return true
		}
	}
	return false
}

// List returns a page of actor's runs (every run for an administrator), newest first.
func (s *Service) List(ctx context.Context, actor store.User, f Filter) (Page, error) {
	if err := f.Validate(); err != nil {
		return Page{}, err
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	sf := store.RunFilter{ConfigID: f.ConfigID, AgentID: f.AgentID, Status: f.Status, Since: f.From, Until: f.To,
		Limit: f.Limit, Offset: f.Offset, CountUpTo: f.Offset + CountCap + 1, NoTotal: f.NoTotal, Sort: f.Sort, Asc: f.Asc}
	sf.UserID = actor.Scope()
	recs, total, err := s.st.ListRunRecords(ctx, sf)
	if err != nil {
		return Page{}, fmt.Errorf("list runs: %w", err)
	}
	p := Page{Runs: make([]Run, len(recs)), Total: total, Limit: f.Limit, Offset: f.Offset}
	if total > f.Offset+CountCap {
		p.Total, p.TotalCapped = f.Offset+CountCap, true
	}
	for i, r := range recs {
		p.Runs[i] = Run{r}
	}
	return p, nil
}

// NotConnectedAfter is how long an agent may go unheard before "Run now" says it is
// not connected and the backup waits for it (it shows offline only after
// OfflineAfter, the seed's five minutes).
const NotConnectedAfter = time.Minute

// Details is one run with its agent's log lines around it.
type Details struct {
	Run
	// Logs are the agent's log lines tagged with this run (metadata run=ID) from a
	// minute before it started to a minute after it ended (or now), oldest first, the
	// last 200: other runs', restores' and the daemon's lines are left out.
	Logs []store.AgentLog
}

// Get returns run id with its agent's log lines. Another user's run is a NotFound
// error (404), so ids cannot be probed.
func (s *Service) Get(ctx context.Context, actor store.User, id string) (Details, error) {
	r, err := s.load(ctx, actor, id)
	if err != nil {
		return Details{}, err
	}
	d := Details{Run: r}
	if r.AgentID != "" {
		until := s.now()
		if r.EndTime != nil {
			until = *r.EndTime
		}
		logs, err := s.st.ListAgentLogs(ctx, store.AgentLogFilter{AgentID: r.AgentID,
			Since: r.StartTime.Add(-time.Minute), Until: until.Add(time.Minute), Limit: 2000})
		if err != nil {
			s.log.Warn("read agent logs of run", "run", id, "err", err)
		}
		for i := len(logs) - 1; i >= 0; i-- {
			if logs[i].Metadata["run"] == r.ID { // the agent tags a backup's lines with its run
				d.Logs = append(d.Logs, logs[i])
			}
		}
		d.Logs = d.Logs[max(0, len(d.Logs)-200):]
	}
	return d, nil
}

func (s *Service) audit(ctx context.Context, actorID, action, target string, m auth.Meta, detail string) {
	audit.Writer{Store: s.st, Log: s.log, Now: s.now}.Write(ctx, actorID, action, target, m.IP, detail)
}
