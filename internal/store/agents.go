package store

import (
	"context"
	"encoding/json"
	"time"
)

// Agent statuses. Offline is computed from LastSeen by the caller (no heartbeat for
// five minutes), so it is right even when no background job ran.
const (
	AgentOnline  = "online"
	AgentOffline = "offline"
	AgentError   = "error"
)

// Agent is a machine that runs backups. Only the SHA-256 of its key is stored.
type Agent struct {
	ID         string
	UserID     string
	Name       string
	KeyHash    string // hex SHA-256 of the full key; unique
	KeyPrefix  string // first characters of the key, shown to identify it ("bak_3f9a…")
	Revoked    bool   // a revoked agent's key is refused
	Builtin    bool   // the server itself (internal/builtin): its key never leaves the process; read-only to people
	LastSeen   *time.Time
	Status     string // as last reported/stored; see the Agent* constants
	Platform   string
	Arch       string
	Version    string
	Hostname   string
	EnrolledAt *time.Time // first /api/agent/register
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// AgentHeartbeat is what a heartbeat updates.
type AgentHeartbeat struct {
	Time     time.Time
	Platform string
	Arch     string
	Version  string
	Hostname string
	// Status is what the heartbeat records: "" is online; AgentOffline is an agent
	// that said it is stopping (it counts as offline until it is heard again).
	Status string
}

// AgentLog is one log line an agent shipped.
type AgentLog struct {
	ID        string
	AgentID   string
	Level     string // info | warning | error
	Message   string
	Metadata  map[string]string
	Timestamp time.Time
}

// AgentLogFilter selects log lines; zero fields do not filter.
type AgentLogFilter struct {
	AgentID string // required
	Level   string
	Since   time.Time
	Until   time.Time
	Limit   int // newest first; <= 0 means 100
}

// BackupConfig is a backup configuration. Sources, Destination, Schedule and Options
// are the seed's JSON documents, kept as JSON so the store does not need to change
// when their fields grow; internal/configs (issue 5) owns their Go shape.
type BackupConfig struct {
	ID            string
	UserID        string
	Name          string
	Enabled       bool
	ExecutionMode string // agent | server
	AgentID       string // "" when none
	Sources       json.RawMessage
	Destination   json.RawMessage // {"destinationId": "…"}
	Schedule      json.RawMessage // may be nil
	Options       json.RawMessage
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Run is one execution of a backup (a backup_logs row).
type Run struct {
	ID        string
	ConfigID  string
	UserID    string
	AgentID   string // the agent that executes it ("" in server mode)
	StartTime time.Time
	EndTime   *time.Time
	Status    string // queued | running | completed | failed | cancelled
	// CancelRequested is set when a user asks to cancel a running run; the agent
	// learns it from its next progress report or heartbeat.
	CancelRequested bool
	Full            bool   // a full backup (else incremental on PreviousRunID)
	PreviousRunID   string // the run this incremental builds on
	DestinationID   string
	S3Path          string // archive object key
	ManifestKey     string
	ArchiveUploadID string // open multipart uploads while running
	ManifestUpload  string
	ArchiveSHA256   string
	ArchiveSize     int64 // 0 (and no SHA-256) when an unchanged incremental stored no archive
	ManifestSHA256  string
	ManifestSize    int64
	CatalogSize     int64 // the server's catalog copy (encrypted runs), 0 when none
	Encrypted       bool
	FilesProcessed  int64
	FilesSkipped    int64
	TotalBytes      int64
	BytesTransfer   int64
	Errors          json.RawMessage // [{"path","message"}] or {"message"}
	DurationMS      *int64
	ProgressAt      *time.Time // last progress report: the reaper fails runs silent too long
	CreatedAt       time.Time
}

// RunFilter selects runs; zero fields do not filter. Newest first.
type RunFilter struct {
	UserID   string
	ConfigID string
	AgentID  string
	Status   string
	Since    time.Time
	Until    time.Time
	Limit    int // <= 0 means 50
	Offset   int
}

// RunProgress is a progress report.
type RunProgress struct {
	Time           time.Time
	FilesProcessed int64
	FilesSkipped   int64
	TotalBytes     int64
	BytesTransfer  int64
}

// Agents stores agents, their logs, backup configurations and runs.
type Agents interface {
	CreateAgent(ctx context.Context, a *Agent) error
	GetAgent(ctx context.Context, id string) (Agent, error)
	// GetAgentByKeyHash finds the agent of a key (revoked ones too; the caller refuses).
	GetAgentByKeyHash(ctx context.Context, keyHash string) (Agent, error)
	// ListAgents lists a user's agents, or every agent when userID is "".
	ListAgents(ctx context.Context, userID string) ([]Agent, error)
	RenameAgent(ctx context.Context, id, name string, now time.Time) error
	// SetAgentKey replaces the key (rotation); the old hash stops working at once.
	SetAgentKey(ctx context.Context, id, keyHash, keyPrefix string, now time.Time) error
	RevokeAgent(ctx context.Context, id string, now time.Time) error
	DeleteAgent(ctx context.Context, id string) error
	// RecordHeartbeat sets LastSeen, status online and the host facts.
	RecordHeartbeat(ctx context.Context, id string, hb AgentHeartbeat) error
	MarkAgentEnrolled(ctx context.Context, id string, at time.Time) error

	AddAgentLogs(ctx context.Context, logs []AgentLog) error
	ListAgentLogs(ctx context.Context, f AgentLogFilter) ([]AgentLog, error)

	CreateConfig(ctx context.Context, c *BackupConfig) error
	GetConfig(ctx context.Context, id string) (BackupConfig, error)
	// ListConfigs lists a user's configs, or every config when userID is "".
	ListConfigs(ctx context.Context, userID string) ([]BackupConfig, error)
	ListAgentConfigs(ctx context.Context, agentID string) ([]BackupConfig, error)
	UpdateConfig(ctx context.Context, c *BackupConfig) error
	DeleteConfig(ctx context.Context, id string) error

	// CreateRun inserts a run. At most one run of a config may be queued or running:
	// a second one gives ErrConflict (enforced by the database, so racing servers agree).
	CreateRun(ctx context.Context, r *Run) error
	GetRun(ctx context.Context, id string) (Run, error)
	ListRuns(ctx context.Context, f RunFilter) ([]Run, error)
	// UpdateRun writes every field of r (status transitions, upload ids, results).
	UpdateRun(ctx context.Context, r *Run) error
	RecordRunProgress(ctx context.Context, id string, p RunProgress) error
	// LastCompletedRun is the newest completed run of a config (ErrNotFound if none).
	LastCompletedRun(ctx context.Context, configID string) (Run, error)
	// StaleRuns lists running runs whose last progress (or start) is before cutoff.
	StaleRuns(ctx context.Context, cutoff time.Time) ([]Run, error)
	// ActiveRuns lists an agent's queued and running runs, oldest first, in one
	// indexed query: every heartbeat asks it. Whoever queues a run of an agent's
	// config sets Run.AgentID.
	ActiveRuns(ctx context.Context, agentID string) ([]Run, error)
}
