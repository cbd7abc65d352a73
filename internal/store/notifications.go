package store

import (
	"context"
	"encoding/json"
	"time"
)

// Channel is where one user's notifications go: an e-mail address, or a webhook URL
// with a preset body.
type Channel struct {
	ID     string
	UserID string
	Name   string
	Kind   string // ChannelEmail | ChannelWebhook
	Preset string // webhooks: generic, slack, discord, teams, ntfy, gotify; e-mail: ""
	Target string // the address or the URL
	Secret string // the HMAC-SHA256 key of generic webhooks
	// Events are the events the channel wants (failure, warning, late, agent_offline,
	// agent_online, resolved, daily_summary); ConfigIDs the configurations (none: all).
	Events    []string
	ConfigIDs []string
	Enabled   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Channel kinds.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// Outbox message states.
const (
	MessageQueued    = "queued"
	MessageSending   = "sending"   // claimed by a worker until LockedUntil
	MessageDelivered = "delivered" // the remote accepted it
	MessageFailed    = "failed"    // the last attempt failed; queued again for NextAttemptAt
	MessageDead      = "dead"      // retried until it was too old; not sent
	MessageDropped   = "dropped"   // its channel was deleted or disabled; not sent
)

// Message is one notification in the outbox: an event's payload for one channel.
type Message struct {
	ID            string
	ChannelID     string // "" once its channel is deleted
	UserID        string
	AlertID       string // "" when not about an alert (a summary)
	Event         string
	Dedupe        string // unique per channel: enqueueing it twice keeps one
	Payload       json.RawMessage
	State         string
	Attempts      int
	NextAttemptAt time.Time
	LockedBy      string
	LockedUntil   *time.Time
	LastError     string
	CreatedAt     time.Time
	FinishedAt    *time.Time
}

// Attempt is one delivery attempt to a channel: of a message, or a test (MessageID "").
type Attempt struct {
	ID        string
	MessageID string
	ChannelID string
	Event     string
	At        time.Time
	Status    int    // the HTTP status; 0 when there was none
	Error     string // "" when it was delivered
	Response  string // the start of the remote's answer
	Duration  time.Duration
}

// Notice is what an alert's change notifies, built from the alert as stored: its
// event, the payload every matching channel gets, and a dedupe key. ExceptChannel
// is a channel that must not get it (the failing channel its own alert is about).
type Notice struct {
	Event         string
	Payload       json.RawMessage
	Dedupe        string
	ExceptChannel string
}

// Outcome is how a claimed message's attempt ends.
type Outcome struct {
	State     string    // MessageDelivered, MessageFailed (retried at Next), MessageDead, MessageDropped
	Next      time.Time // MessageFailed: when to try again
	Attempt   Attempt   // recorded unless the message was dropped before any was made (Attempt.At zero)
	LastError string
}

// Activity is what happened to one user's backups since a time: a daily summary.
type Activity struct {
	AlertsOpened, AlertsResolved, AlertsOpen int
	RunsFailed, RunsCompleted                int
}

// Notifications keeps notification channels, the outbox and delivery attempts.
type Notifications interface {
	// CreateChannel stores c (a new UUID v7 when c.ID is empty).
	CreateChannel(ctx context.Context, c *Channel) error
	// UpdateChannel replaces c's fields but ID, UserID and CreatedAt (ErrNotFound).
	UpdateChannel(ctx context.Context, c *Channel) error
	GetChannel(ctx context.Context, id string) (Channel, error)
	// ListChannels lists userID's channels by name.
	ListChannels(ctx context.Context, userID string) ([]Channel, error)
	// DeleteChannel deletes a channel and drops its undelivered messages with reason,
	// in one transaction, and returns how many it dropped (ErrNotFound).
	DeleteChannel(ctx context.Context, id string, at time.Time, reason string) (int, error)

	// RaiseAlertNotify is Alerts.RaiseAlert that, in the same transaction and only
	// when it opened or counted the alert, enqueues notice(stored alert) for each of
	// the alert's user's enabled channels that want its event and configuration.
	RaiseAlertNotify(ctx context.Context, a *Alert, notice func(Alert) Notice) (bool, error)
	// ResolveAlertNotify is Alerts.ResolveAlert enqueueing the same way.
	ResolveAlertNotify(ctx context.Context, rule, subject string, at time.Time, resolution string, notice func(Alert) Notice) (Alert, error)
	// Enqueue adds m (queued, due at m.NextAttemptAt) unless its channel already has
	// its Dedupe; it reports whether it added it.
	Enqueue(ctx context.Context, m *Message) (bool, error)

	// ClaimMessages leases up to limit due messages (queued or failed with
	// NextAttemptAt ≤ now, or sending with an expired lease) to worker until
	// now+lease, counting an attempt on each. Two workers, on any replicas, never
	// hold the same message.
	ClaimMessages(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]Message, error)
	// FinishMessage ends worker's attempt at message id with o, recording o.Attempt.
	// It returns ErrConflict when worker no longer holds the message (its lease
	// expired and another worker claimed it).
	FinishMessage(ctx context.Context, id, worker string, at time.Time, o Outcome) error
	GetMessage(ctx context.Context, id string) (Message, error)
	// ListMessages lists userID's messages, the newest first (every user's when "").
	ListMessages(ctx context.Context, userID string, limit int) ([]Message, error)
	// AddAttempt records an attempt without a message (a test).
	AddAttempt(ctx context.Context, a *Attempt) error
	// ListAttempts lists a channel's attempts, the newest first.
	ListAttempts(ctx context.Context, channelID string, limit int) ([]Attempt, error)
	// PruneMessages deletes up to limit settled messages (delivered, dead, dropped)
	// finished before before, with their attempts, and the test attempts made before
	// it; it returns how many messages it deleted (fewer than limit: no more are due).
	// Queued, failed (to be retried) and sending messages are never deleted. Replicas
	// may prune at once: on PostgreSQL each skips the rows another is deleting.
	PruneMessages(ctx context.Context, before time.Time, limit int) (int, error)
	// CountMessagesByState counts the outbox by state (Prometheus' gauge).
	CountMessagesByState(ctx context.Context) (map[string]int, error)
	// ChannelsFor lists every user's enabled channels that want event.
	ChannelsFor(ctx context.Context, event string) ([]Channel, error)
	// CountActivity counts userID's alerts opened and resolved and runs failed and
	// completed since since, and the alerts open now.
	CountActivity(ctx context.Context, userID string, since time.Time) (Activity, error)
}
