package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/store"
)

// Rules: an alert's rule, with what its subject is.
const (
	RuleRunFailed    = "run_failed"    // config: its last run failed
	RuleRunWarning   = "run_warning"   // config: its last run had skipped files or errors
	RuleLate         = "late"          // config: a scheduled run late or missed (raised by internal/runs)
	RuleNoBackup     = "no_backup"     // config: no successful backup for longer than its threshold
	RuleAgentOffline = "agent_offline" // agent: no heartbeat for more than OfflineAfter
	RuleDestination  = "destination"   // destination: its connection check fails
	RuleRetention    = "retention"     // config: retention could not delete
	RuleChecksum     = "checksum"      // run: an archive's checksum did not match
	// RuleChannelFailing: notification channel: it gave up on a message (raised by
	// internal/notify/outbox, which names it too).
	RuleChannelFailing = "channel_failing"
)

// Types are the seed's Alert.type.
const (
	TypeFailure = "failure"
	TypeWarning = "warning"
	TypeInfo    = "info"
)

// Store is what the service needs from the database.
type Store interface {
	RaiseAlert(ctx context.Context, a *store.Alert) (bool, error)
	ResolveAlert(ctx context.Context, rule, subject string, at time.Time, resolution string) (store.Alert, error)
	RaiseAlertNotify(ctx context.Context, a *store.Alert, notice func(store.Alert) store.Notice) (bool, error)
	ResolveAlertNotify(ctx context.Context, rule, subject string, at time.Time, resolution string, notice func(store.Alert) store.Notice) (store.Alert, error)
	OpenAlerts(ctx context.Context, rule string) ([]store.Alert, error)
	ListAlerts(ctx context.Context, f store.AlertFilter) ([]store.Alert, int, error)
	GetAlert(ctx context.Context, id string) (store.Alert, error)
	AcknowledgeAlerts(ctx context.Context, userID string, ids []string, at time.Time) (int, error)
	CountOpenAlerts(ctx context.Context, userID string) (int, error)
	ConfigAges(ctx context.Context) ([]store.ConfigAge, error)
	LatestRuns(ctx context.Context, per store.RunsPer, userID string) ([]store.Run, error)
	ListAgents(ctx context.Context, userID string) ([]store.Agent, error)
}

// Publisher takes events (internal/events' buses).
type Publisher interface {
	Publish(events.Event)
}

type noEvents struct{}

func (noEvents) Publish(events.Event) {}

// Noticer turns an alert's change into the notice its owner's channels get
// (notify.Noticer).
type Noticer interface {
	Notice(a store.Alert, event string) store.Notice
}

// Config configures the service. Store is required.
type Config struct {
	Store Store
	// Notice, when set, makes every alert opened, counted or resolved enqueue its
	// notifications in the same transaction.
	Notice Noticer
	Events Publisher // alert.new and alert.resolved (nil: none)
	Logger *slog.Logger
	Now    func() time.Time
	// OfflineAfter is how long without a heartbeat raises agent_offline (5 min).
	OfflineAfter time.Duration
}

// Service raises, resolves, lists and acknowledges alerts. Create it with New.
type Service struct {
	st           Store
	notice       Noticer
	ev           Publisher
	log          *slog.Logger
	now          func() time.Time
	offlineAfter time.Duration
}

// New returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("alerts: Store is required")
	}
	s := &Service{st: cfg.Store, notice: cfg.Notice, ev: cfg.Events, log: cfg.Logger, now: cfg.Now, offlineAfter: cfg.OfflineAfter}
	if s.ev == nil {
		s.ev = noEvents{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.offlineAfter <= 0 {
		s.offlineAfter = 5 * time.Minute
	}
	return s, nil
}

// Raise opens a's alert or counts a new occurrence of it (see store.Alerts.RaiseAlert)
// and publishes alert.new when it did. a.Timestamp defaults to now.
func (s *Service) Raise(ctx context.Context, a store.Alert) (store.Alert, bool, error) {
	if a.Timestamp.IsZero() {
		a.Timestamp = s.now().UTC()
	}
	var raised bool
	var err error
	if s.notice != nil {
		raised, err = s.st.RaiseAlertNotify(ctx, &a, func(a store.Alert) store.Notice { return s.notice.Notice(a, EventOf(a)) })
	} else {
		raised, err = s.st.RaiseAlert(ctx, &a)
	}
	if err != nil {
		return a, false, fmt.Errorf("raise %s alert about %s: %w", a.Rule, a.Subject, err)
	}
	if raised {
		s.log.Warn("alert", "rule", a.Rule, "subject", a.Subject, "count", a.Occurrences, "message", a.Message)
		s.ev.Publish(events.Alert(a))
	}
	return a, raised, nil
}

// Resolve resolves the open alert of rule about subject, saying why, and publishes
// alert.resolved. It reports false when none was open.
func (s *Service) Resolve(ctx context.Context, rule, subject, why string) (bool, error) {
	var a store.Alert
	var err error
	if s.notice != nil {
		a, err = s.st.ResolveAlertNotify(ctx, rule, subject, s.now().UTC(), why,
			func(a store.Alert) store.Notice { return s.notice.Notice(a, EventOf(a)) })
	} else {
		a, err = s.st.ResolveAlert(ctx, rule, subject, s.now().UTC(), why)
	}
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("resolve %s alert about %s: %w", rule, subject, err)
	}
	s.log.Info("alert resolved", "rule", rule, "subject", subject, "why", why)
	s.ev.Publish(events.AlertResolved(a))
	return true, nil
}

// EventOf is the notification event of a's change (notify.Events): an agent going
// offline and back online, a late run, a warning, any other resolution, else a
// failure.
func EventOf(a store.Alert) string {
	switch {
	case a.Rule == RuleAgentOffline && a.ResolvedAt != nil:
		return "agent_online"
	case a.Rule == RuleAgentOffline:
		return "agent_offline"
	case a.ResolvedAt != nil:
		return "resolved"
	case a.Rule == RuleLate:
		return "late"
	case a.Type == TypeWarning:
		return "warning"
	}
	return "failure"
}

// Filter is what people filter alerts by.
type Filter = store.AlertFilter

// List lists actor's own alerts matching f (f.UserID is set to actor's), and counts
// all that match.
func (s *Service) List(ctx context.Context, actor store.User, f Filter) ([]store.Alert, int, error) {
	switch f.State {
	case "", store.AlertOpen, store.AlertAcknowledged, store.AlertResolved:
	default:
		return nil, 0, apperr.Invalidf("state", "state must be open, acknowledged or resolved, not %q", f.State)
	}
	switch f.Type {
	case "", TypeFailure, TypeWarning, TypeInfo:
	default:
		return nil, 0, apperr.Invalidf("type", "type must be failure, warning or info, not %q", f.Type)
	}
	f.UserID = actor.ID
	f.Limit = min(max(f.Limit, 0), 500)
	return s.st.ListAlerts(ctx, f)
}

// Get returns one of actor's alerts; another user's is not found.
func (s *Service) Get(ctx context.Context, actor store.User, id string) (store.Alert, error) {
	a, err := s.st.GetAlert(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && a.UserID != actor.ID {
		return store.Alert{}, apperr.New(apperr.NotFound, "no such alert")
	}
	return a, err
}

// Acknowledge acknowledges actor's unresolved alerts among ids and returns how many
// it changed; others' ids are ignored.
func (s *Service) Acknowledge(ctx context.Context, actor store.User, ids []string) (int, error) {
	if len(ids) > 1000 {
		return 0, apperr.New(apperr.Invalid, "acknowledge at most 1000 alerts at once, not %d", len(ids))
	}
	n, err := s.st.AcknowledgeAlerts(ctx, actor.ID, ids, s.now().UTC())
	if err != nil {
		return 0, fmt.Errorf("acknowledge alerts: %w", err)
	}
	if n > 0 {
		s.ev.Publish(events.AlertsAcknowledged(actor.ID, n))
	}
	return n, nil
}

// OpenCount counts actor's open (unresolved, unacknowledged) alerts: the number in
// the navigation.
func (s *Service) OpenCount(ctx context.Context, actor store.User) (int, error) {
	return s.st.CountOpenAlerts(ctx, actor.ID)
}
