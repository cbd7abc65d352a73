package store

import (
	"context"
	"encoding/json"
	"time"
)

// Alert is a row of the seed's alerts table with what the alert rules add: one open
// alert per Rule and Subject, counted (Occurrences, LastAt) instead of repeated, and
// resolved (ResolvedAt, Resolution) when its cause is gone.
type Alert struct {
	ID           string
	UserID       string
	ConfigID     string // "" when none
	AgentID      string // "" when none
	Type         string // the seed's failure | warning | info
	Rule         string // run_failed, run_warning, late, no_backup, agent_offline, …
	Subject      string // what it is about: a config's or an agent's id
	Ref          string // the occurrence last counted (a run id, a due time)
	Message      string
	Acknowledged bool
	Timestamp    time.Time // first occurrence
	Occurrences  int
	LastAt       *time.Time // last occurrence (nil: only the first)
	AckedAt      *time.Time
	ResolvedAt   *time.Time
	Resolution   string
	// ConfigName and AgentName are the names now ("" when none or deleted).
	ConfigName string
	AgentName  string
}

// Last is when the alert last occurred.
func (a Alert) Last() time.Time {
	if a.LastAt != nil {
		return *a.LastAt
	}
	return a.Timestamp
}

// Alert states AlertFilter.State selects.
const (
	AlertOpen         = "open"         // not resolved, not acknowledged
	AlertAcknowledged = "acknowledged" // not resolved, acknowledged
	AlertResolved     = "resolved"
)

// AlertFilter selects alerts; empty fields match all. UserID "" means every user's.
type AlertFilter struct {
	UserID   string
	State    string // "", open, acknowledged, resolved
	Type     string
	Rule     string
	ConfigID string
	AgentID  string
	Limit    int // 100 when ≤ 0
	Offset   int
	// Sort is ListAlerts' order, one of AlertSorts (another or "" is taken as
	// AlertsByLast), descending unless Asc.
	Sort string
	Asc  bool
}

// Orders of ListAlerts (AlertFilter.Sort); each breaks ties by id, in the same
// direction.
const (
	AlertsByLast  = "last"  // last occurrence (the default, also "")
	AlertsByType  = "type"  // type word, then last occurrence
	AlertsByCount = "count" // occurrences, then last occurrence
	AlertsByState = "state" // open, acknowledged, resolved; then last occurrence
)

// AlertSorts are the orders ListAlerts knows, AlertsByLast first.
var AlertSorts = []string{AlertsByLast, AlertsByType, AlertsByCount, AlertsByState}

// ConfigAge is an enabled config with the end of its last completed run, for the
// "no successful backup" rule.
type ConfigAge struct {
	ID       string
	UserID   string
	AgentID  string
	Name     string
	Schedule json.RawMessage
	// Options is the config's options document (its alertAfterHours is the user's
	// threshold).
	Options json.RawMessage
	// Since is when the current schedule took effect.
	Since       time.Time
	LastSuccess *time.Time
}

// Alerts keeps alerts.
type Alerts interface {
	// AddAlert stores a as a new row (its Rule, when empty, is its Type and its
	// Subject its id). An empty ID gets a new UUID v7.
	AddAlert(ctx context.Context, a *Alert) error
	// RaiseAlert opens a.Rule's alert about a.Subject, or counts a new occurrence on
	// the open one when a.Ref differs from the one it last counted (message, last
	// occurrence and ref updated, acknowledgement cleared). It reports whether it
	// opened or counted; a holds the stored row either way. Raising the same
	// occurrence again, from any replica at any time, changes nothing.
	RaiseAlert(ctx context.Context, a *Alert) (bool, error)
	// ResolveAlert resolves the open alert of rule about subject at at with
	// resolution, and returns it (ErrNotFound when none is open).
	ResolveAlert(ctx context.Context, rule, subject string, at time.Time, resolution string) (Alert, error)
	// OpenAlerts lists the unresolved alerts of rule (every rule's when "").
	OpenAlerts(ctx context.Context, rule string) ([]Alert, error)
	// ListAlerts lists alerts matching f in f's order (the newest last occurrence
	// first by default), and
	// counts all that match.
	ListAlerts(ctx context.Context, f AlertFilter) ([]Alert, int, error)
	// GetAlert returns one alert.
	GetAlert(ctx context.Context, id string) (Alert, error)
	// AcknowledgeAlerts acknowledges userID's unresolved alerts among ids at at and
	// returns how many it changed.
	AcknowledgeAlerts(ctx context.Context, userID string, ids []string, at time.Time) (int, error)
	// CountOpenAlerts counts userID's open (unresolved, unacknowledged) alerts.
	CountOpenAlerts(ctx context.Context, userID string) (int, error)
	// ConfigAges lists every enabled config with its last successful run's end.
	ConfigAges(ctx context.Context) ([]ConfigAge, error)
	// CountRunsByStatus counts every run by status; CountOpenAlertsByType every
	// unresolved alert by type (Prometheus' gauges).
	CountRunsByStatus(ctx context.Context) (map[string]int, error)
	CountOpenAlertsByType(ctx context.Context) (map[string]int, error)
}
