package events

import (
	"encoding/json"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// Event types. Each is the SSE "event:" name; docs/events.md gives the data's shape.
const (
	TypeRunStatus       = "run.status"
	TypeRunProgress     = "run.progress"
	TypeRestoreStatus   = "restore.status"
	TypeRestoreProgress = "restore.progress"
	TypeAgentStatus     = "agent.status"
	TypeAlert           = "alert.new"
	// TypeAlertResolved and TypeAlertsAcked change the open-alert count too.
	TypeAlertResolved = "alert.resolved"
	TypeAlertsAcked   = "alert.acknowledged"
	// TypeReset tells a subscriber that events may have been missed (its
	// Last-Event-ID is too old, or a replica lost its database connection): it must
	// reload the state it shows instead of relying on the stream.
	TypeReset = "reset"
)

// Event is one thing that moved. ID is set by the Broker (0 until then); it increases
// by one per event across all replicas of a PostgreSQL deployment.
type Event struct {
	ID   uint64
	Type string
	// UserID owns the resource; the owner and administrators receive the event.
	UserID string
	// Data is the JSON object sent as the SSE data line; it is shared by every
	// subscriber, so nobody may modify it.
	Data json.RawMessage
}

// Bus is where the server publishes: the in-process Local bus with SQLite, the
// cross-replica pgevents.Fanout with PostgreSQL. Neither call blocks on subscribers
// or the database.
type Bus interface {
	Publish(Event)
	// Wake wakes the long-polling heartbeats of an agent on every replica: work for
	// it was queued or cancelled.
	Wake(agentID string)
}

func mk(typ, userID string, v any) Event {
	b, err := json.Marshal(v)
	if err != nil { // the payloads below are plain structs: this cannot happen
		panic("events: marshal " + typ + ": " + err.Error())
	}
	return Event{Type: typ, UserID: userID, Data: b}
}

// RunData is the data of run.status and run.progress (the API's BackupLog names).
type RunData struct {
	RunID            string     `json:"runId"`
	ConfigID         string     `json:"configId"`
	AgentID          string     `json:"agentId,omitempty"`
	Status           string     `json:"status"`
	CancelRequested  bool       `json:"cancelRequested,omitempty"`
	StartTime        time.Time  `json:"startTime"`
	EndTime          *time.Time `json:"endTime,omitempty"`
	FilesProcessed   int64      `json:"filesProcessed"`
	FilesSkipped     int64      `json:"filesSkipped"`
	TotalBytes       int64      `json:"totalBytes"`
	BytesTransferred int64      `json:"bytesTransferred"`
	Error            string     `json:"error,omitempty"`
	At               *time.Time `json:"at,omitempty"` // progress: when it was reported
}

func runData(r store.Run) RunData {
	d := RunData{RunID: r.ID, ConfigID: r.ConfigID, AgentID: r.AgentID, Status: r.Status, CancelRequested: r.CancelRequested,
		StartTime: r.StartTime, EndTime: r.EndTime, FilesProcessed: r.FilesProcessed, FilesSkipped: r.FilesSkipped,
		TotalBytes: r.TotalBytes, BytesTransferred: r.BytesTransfer}
	var errs []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	}
	if len(r.Errors) > 0 && json.Unmarshal(r.Errors, &errs) == nil && len(errs) > 0 && errs[0].Path == "" {
		d.Error = clip(errs[0].Message, 1024)
	}
	return d
}

// RunStatus is a run that changed status (queued, running, completed, failed,
// cancelled) or was asked to cancel.
func RunStatus(r store.Run) Event { return mk(TypeRunStatus, r.UserID, runData(r)) }

// RunProgress is a running run's progress p as reported at p.Time.
func RunProgress(r store.Run, p store.RunProgress) Event {
	r.FilesProcessed, r.FilesSkipped, r.TotalBytes, r.BytesTransfer = p.FilesProcessed, p.FilesSkipped, p.TotalBytes, p.BytesTransfer
	d := runData(r)
	d.Error, d.At = "", &p.Time
	return mk(TypeRunProgress, r.UserID, d)
}

// RestoreData is the data of restore.status and restore.progress.
type RestoreData struct {
	RestoreID       string     `json:"restoreId"`
	RunID           string     `json:"runId"`
	AgentID         string     `json:"agentId,omitempty"`
	Status          string     `json:"status"`
	CancelRequested bool       `json:"cancelRequested,omitempty"`
	FilesWritten    int64      `json:"filesWritten"`
	BytesWritten    int64      `json:"bytesWritten"`
	Error           string     `json:"error,omitempty"`
	StartedAt       *time.Time `json:"startedAt,omitempty"`
	FinishedAt      *time.Time `json:"finishedAt,omitempty"`
	At              *time.Time `json:"at,omitempty"`
}

func restoreData(r store.Restore) RestoreData {
	return RestoreData{RestoreID: r.ID, RunID: r.RunID, AgentID: r.AgentID, Status: r.Status, CancelRequested: r.CancelRequested,
		FilesWritten: r.FilesWritten, BytesWritten: r.BytesWritten, Error: clip(r.Error, 1024), StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
}

// RestoreStatus is a restore that changed status or was asked to cancel.
func RestoreStatus(r store.Restore) Event { return mk(TypeRestoreStatus, r.UserID, restoreData(r)) }

// RestoreProgress is a running restore's files and bytes written at at.
func RestoreProgress(r store.Restore, files, bytes int64, at time.Time) Event {
	r.FilesWritten, r.BytesWritten, r.Status = files, bytes, store.RestoreRunning
	d := restoreData(r)
	d.Error, d.At = "", &at
	return mk(TypeRestoreProgress, r.UserID, d)
}

// AgentData is the data of agent.status.
type AgentData struct {
	AgentID  string     `json:"agentId"`
	Name     string     `json:"name"`
	Status   string     `json:"status"` // online | offline
	LastSeen *time.Time `json:"lastSeen,omitempty"`
}

// AgentStatus is agent a going online or offline (status), last seen at lastSeen.
func AgentStatus(a store.Agent, status string, lastSeen *time.Time) Event {
	return mk(TypeAgentStatus, a.UserID, AgentData{AgentID: a.ID, Name: a.Name, Status: status, LastSeen: lastSeen})
}

// AlertData is the data of alert.new and alert.resolved (the seed's Alert with the
// rule, its count and, once resolved, why).
type AlertData struct {
	AlertID     string     `json:"id,omitempty"`
	Type        string     `json:"type"`
	Rule        string     `json:"rule,omitempty"`
	ConfigID    string     `json:"configId,omitempty"`
	AgentID     string     `json:"agentId,omitempty"`
	Message     string     `json:"message"`
	Timestamp   time.Time  `json:"timestamp"`
	Occurrences int        `json:"count,omitempty"`
	ResolvedAt  *time.Time `json:"resolvedAt,omitempty"`
	Resolution  string     `json:"resolution,omitempty"`
}

func alertData(a store.Alert) AlertData {
	return AlertData{AlertID: a.ID, Type: a.Type, Rule: a.Rule, ConfigID: a.ConfigID, AgentID: a.AgentID,
		Message: clip(a.Message, 4096), Timestamp: a.Timestamp, Occurrences: a.Occurrences, ResolvedAt: a.ResolvedAt,
		Resolution: clip(a.Resolution, 1024)}
}

// Alert is a new alert, or a new occurrence of an open one.
func Alert(a store.Alert) Event { return mk(TypeAlert, a.UserID, alertData(a)) }

// AlertResolved is an alert that resolved itself.
func AlertResolved(a store.Alert) Event { return mk(TypeAlertResolved, a.UserID, alertData(a)) }

// AckData is the data of alert.acknowledged.
type AckData struct {
	Count int `json:"count"`
}

// AlertsAcknowledged is n of userID's alerts acknowledged.
func AlertsAcknowledged(userID string, n int) Event {
	return mk(TypeAlertsAcked, userID, AckData{Count: n})
}

// ResetData is the data of reset.
type ResetData struct {
	Reason string `json:"reason"`
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
