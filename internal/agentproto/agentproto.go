// Package agentproto defines the wire types of the agent ⇄ server protocol: JSON bodies
// of the /api/agent/… endpoints, in camelCase as the seed's interfaces name them. Both
// the server (internal/agentapi) and the agent (internal/agent) import it, so it uses
// the standard library only.
//
// Every request carries "Authorization: Bearer <agent key>" and the header
// "X-Backapp-Protocol: 1". The server answers a protocol it does not speak with 426
// and errors with the API's one shape {"error":{"code","message"}}.
//
// Within a version the protocol grows only by additions that both sides may ignore:
// new JSON fields, new endpoints, and new command types. A server hands a command
// type only to agents whose heartbeat lists its feature (Features), so an older agent
// never gets work it cannot do; and an agent ignores (logs) command types it does not
// know.
package agentproto

import "time"

// Version is the protocol version this package describes.
const Version = 1

// Header names.
const (
	HeaderProtocol = "X-Backapp-Protocol"
	// KeyPrefix starts every agent key, so a leaked key is recognisable (secret scanners).
	KeyPrefix = "bak_"
)

// Endpoint paths.
const (
	PathRegister       = "/api/agent/register"
	PathHeartbeat      = "/api/agent/heartbeat"
	PathConfigs        = "/api/agent/configs"
	PathBackupStart    = "/api/agent/backup/start"
	PathBackupParts    = "/api/agent/backup/parts"
	PathBackupProgress = "/api/agent/backup/progress"
	PathBackupComplete = "/api/agent/backup/complete"
	// PathBackupResume continues a run the agent was executing before it restarted
	// (BackupResumeRequest → BackupStartResponse); servers before it answer 404, and
	// the agent then drops its checkpoint.
	PathBackupResume  = "/api/agent/backup/resume"
	PathBackupCatalog = "/api/agent/backup/catalog" // PUT ?runId=…, body: zstd manifest (not encrypted)
	PathLog           = "/api/agent/log"
	PathDownload      = "/api/agent/download" // GET ?runId=… [&pointInTime=RFC3339]
	PathRestoreDone   = "/api/agent/restore/complete"
	// PathRestoreProgress takes a running restore's progress (RestoreProgressRequest);
	// servers before it answer 404, which agents take as "not wanted".
	PathRestoreProgress = "/api/agent/restore/progress"
	PathEstimateDone    = "/api/agent/estimate/complete"
	// PathStopping is an agent shutting down cleanly saying so (no body): it shows
	// offline at once instead of after five silent minutes. Servers before it answer
	// 404, which agents ignore.
	PathStopping = "/api/agent/stopping"
)

// Features an agent lists in its heartbeats (HeartbeatRequest.Features).
const (
	// FeatureEstimate: the agent runs CommandEstimate and reports to PathEstimateDone.
	FeatureEstimate = "estimate"
	// FeatureReportRestores: the agent lists its running restores in every heartbeat
	// (HeartbeatRequest.Restores), so the server may fail one it stops listing.
	FeatureReportRestores = "report-restores"
)

// ErrorBody is the error shape of every endpoint (as the rest of the API).
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Host describes the machine an agent runs on.
type Host struct {
	Hostname string `json:"hostname"`
	Platform string `json:"platform"` // runtime.GOOS: linux, darwin, windows
	Arch     string `json:"arch"`     // runtime.GOARCH
	Version  string `json:"version"`  // agent version
}

// RegisterRequest is sent once by `backapp-agent enroll`.
type RegisterRequest struct {
	Host
}

// RegisterResponse identifies the agent the key belongs to.
type RegisterResponse struct {
	AgentID string `json:"agentId"`
	Name    string `json:"name"`
	UserID  string `json:"userId"`
}

// HeartbeatRequest reports the agent alive and what it is doing.
type HeartbeatRequest struct {
	Host
	// Running lists the runs the agent is executing now.
	Running []string `json:"running,omitempty"`
	// Restores and Estimates list the restores and size estimates the agent is
	// executing now (with FeatureReportRestores and FeatureEstimate).
	Restores  []string `json:"restores,omitempty"`
	Estimates []string `json:"estimates,omitempty"`
	// Features lists what this agent can do beyond protocol 1 as first released
	// (Feature* constants); the server hands out only work the agent can do.
	Features []string `json:"features,omitempty"`
	// UptimeMS is how long this agent process (its daemon) has been running, in
	// milliseconds. It tells the server the agent restarted: a run it recorded running
	// on this agent since before the process started, and not listed in Running, died
	// with the previous process and is failed at once ("the agent restarted during the
	// backup", uploads aborted); likewise a restore not listed in Restores (with
	// FeatureReportRestores). A restarted agent that resumes a run lists it in Running.
	// Omitted (older agents): such runs are left to the stale-run reaper.
	UptimeMS int64 `json:"uptimeMs,omitempty"`
}

// HeartbeatResponse carries work for the agent.
type HeartbeatResponse struct {
	ServerTime time.Time `json:"serverTime"`
	Commands   []Command `json:"commands,omitempty"`
	// NextHeartbeat is how long to wait before the next heartbeat.
	NextHeartbeatSeconds int `json:"nextHeartbeatSeconds"`
	// StaleAfterSeconds is how long the server lets a running run, restore or estimate
	// stay silent before it fails it (its --run-stale-after). The agent keeps retrying
	// the calls a run depends on for that long while the server is unreachable or
	// answers 5xx; absent (older servers): 10 minutes.
	StaleAfterSeconds int `json:"staleAfterSeconds,omitempty"`
}

// Command kinds.
const (
	CommandRun     = "run"     // start backup RunID of ConfigID
	CommandCancel  = "cancel"  // cancel RunID
	CommandRestore = "restore" // restore, see Restore
	// CommandEstimate: scan a config's sources and report their size, see Estimate.
	// Only for agents with FeatureEstimate. CommandCancel with RunID set to the
	// estimate id stops one that is no longer wanted.
	CommandEstimate = "estimate"
)

// Command is one piece of work.
type Command struct {
	Type     string        `json:"type"`
	RunID    string        `json:"runId,omitempty"`
	ConfigID string        `json:"configId,omitempty"`
	Restore  *RestoreSpec  `json:"restore,omitempty"`
	Estimate *EstimateSpec `json:"estimate,omitempty"`
}

// EstimateSpec says what to scan: the config as it is saved now (without its
// passphrase), so the estimate follows the latest edit. The agent walks the sources
// with their patterns exactly as a backup would, reading no file contents.
type EstimateSpec struct {
	EstimateID string `json:"estimateId"`
	Config     Config `json:"config"`
}

// Estimate statuses.
const (
	EstimateDone   = "done"
	EstimateFailed = "failed"
)

// EstimateCompleteRequest reports an estimate's outcome: what a full backup of the
// config would read now. Bytes counts hard-linked contents once, as a backup stores
// them; Issues counts files the scan could not read, Errors holds the first of them.
type EstimateCompleteRequest struct {
	EstimateID string      `json:"estimateId"`
	Status     string      `json:"status"` // done | failed
	Error      string      `json:"error,omitempty"`
	Files      int64       `json:"files"`
	Dirs       int64       `json:"dirs"`
	Bytes      int64       `json:"bytes"`
	Issues     int64       `json:"issues"`
	Errors     []FileError `json:"errors,omitempty"`
}

// RestoreSpec says what to restore where.
type RestoreSpec struct {
	RestoreID   string     `json:"restoreId"`
	RunID       string     `json:"runId"`                 // the run (point in time) to restore
	TargetDir   string     `json:"targetDir"`             // absolute path on the agent
	Paths       []string   `json:"paths,omitempty"`       // subset (paths or globs); empty: everything
	Overwrite   bool       `json:"overwrite,omitempty"`   // replace existing files
	PointInTime *time.Time `json:"pointInTime,omitempty"` // alternative to RunID: newest run at or before
	// UnportableNames: what to do with names the target's file system cannot hold
	// (Windows: CON, a:b, q?, …): "rename" (also when empty) or "skip".
	UnportableNames string `json:"unportableNames,omitempty"`
	// Passphrase opens a backup encrypted with the passphrase its configuration keeps
	// on the server: sent with this one restore, used for it and never stored.
	Passphrase string `json:"passphrase,omitempty"`
	// Identity is age identity file text (AGE-SECRET-KEY-1… lines) that opens a backup
	// encrypted to recipients, given by the user for this one restore: used for it and
	// stored nowhere by the agent (the server keeps it sealed only until the agent
	// acknowledges the restore). Older agents ignore it (and fail saying they need an
	// identity).
	Identity string `json:"identity,omitempty"`
}

// ConfigsResponse lists the configurations assigned to the agent.
type ConfigsResponse struct {
	Configs []Config `json:"configs"`
}

// Config is a backup configuration as the agent executes it.
type Config struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Enabled bool     `json:"enabled"`
	Sources []Source `json:"sources"`
	Options Options  `json:"options"`
	// Hooks run on the agent before and after the backup.
	Hooks *Hooks `json:"hooks,omitempty"`
}

// Source is one directory or file to back up, with its patterns.
type Source struct {
	Path            string   `json:"path"`
	IncludePatterns []string `json:"includePatterns,omitempty"`
	ExcludePatterns []string `json:"excludePatterns,omitempty"`
}

// Options are how to back up.
type Options struct {
	Type             string `json:"type"`                       // full | incremental
	Compression      string `json:"compression"`                // zstd | gzip | none
	CompressionLevel int    `json:"compressionLevel,omitempty"` // 0: the codec's default
	// Encryption: age X25519 recipients ("age1…") and/or a passphrase. The server never
	// holds identities; a passphrase is stored only where the user chose to keep it.
	Encryption     bool     `json:"encryption"`
	Recipients     []string `json:"recipients,omitempty"`
	Passphrase     string   `json:"passphrase,omitempty"`
	FollowSymlinks bool     `json:"followSymlinks,omitempty"`
	OnError        string   `json:"onError,omitempty"`   // skip (default) | fail
	Bandwidth      int64    `json:"bandwidth,omitempty"` // KB/s as in the seed; 0: unlimited
}

// Hooks are commands run around a backup.
type Hooks struct {
	Pre            string `json:"pre,omitempty"`
	Post           string `json:"post,omitempty"`
	TimeoutSeconds int    `json:"timeoutSeconds,omitempty"`
}

// BackupStartRequest opens a run (RunID set when the server queued it).
type BackupStartRequest struct {
	ConfigID string `json:"configId"`
	RunID    string `json:"runId,omitempty"`
}

// Object names within a run.
const (
	ObjectArchive  = "archive"
	ObjectManifest = "manifest"
)

// BackupStartResponse is an open run with its multipart uploads.
type BackupStartResponse struct {
	RunID       string `json:"runId"`
	ArchiveKey  string `json:"archiveKey"`
	ManifestKey string `json:"manifestKey"`
	// Full is true when the server wants a full backup (first run, or the full-every-N
	// rule); false means incremental against Previous.
	Full     bool         `json:"full"`
	Previous *PreviousRun `json:"previous,omitempty"`
	// Deltas: the server takes an incremental's manifest as a delta (only what the
	// run stored, and deletions), a completion without an archive when the run
	// stored nothing, and a catalog copy only for encrypted runs (it reads an
	// unencrypted run's manifest object itself). Servers before deltas leave it false:
	// the agent then writes whole manifests, an archive and a catalog every run.
	Deltas bool      `json:"deltas,omitempty"`
	Parts  []PartURL `json:"parts,omitempty"` // first URLs of the archive upload
	Config Config    `json:"config"`
}

// BackupResumeRequest asks to continue run RunID, still running on the server, from
// the agent's checkpoint: same run, same object keys, same multipart uploads (the
// parts already stored are kept). The answer is the run as backup/start gave it,
// without part URLs (backup/parts gives them); 409 when the run is no longer
// running, 404 when it is not this agent's.
type BackupResumeRequest struct {
	RunID string `json:"runId"`
}

// PreviousRun names the run an incremental builds on.
type PreviousRun struct {
	RunID          string `json:"runId"`
	ManifestSHA256 string `json:"manifestSha256"`
}

// PartURL is a pre-signed PUT URL for one part of one object.
type PartURL struct {
	Object     string            `json:"object"` // ObjectArchive or ObjectManifest
	PartNumber int               `json:"partNumber"`
	URL        string            `json:"url"`
	Method     string            `json:"method"` // PUT
	Header     map[string]string `json:"header,omitempty"`
	ExpiresAt  time.Time         `json:"expiresAt"`
}

// PartsRequest asks for more part URLs.
type PartsRequest struct {
	RunID       string `json:"runId"`
	Object      string `json:"object"`
	PartNumbers []int  `json:"partNumbers"`
}

// PartsResponse carries them.
type PartsResponse struct {
	Parts []PartURL `json:"parts"`
}

// Progress is what a running backup has done so far.
type Progress struct {
	RunID         string `json:"runId"`
	FilesScanned  int64  `json:"filesScanned"`
	FilesDone     int64  `json:"filesProcessed"`
	FilesSkipped  int64  `json:"filesSkipped"`
	BytesScanned  int64  `json:"bytesScanned"`
	BytesRead     int64  `json:"bytesRead"`
	BytesUploaded int64  `json:"bytesTransferred"`
}

// ProgressResponse tells the agent whether to go on.
type ProgressResponse struct {
	Cancel bool `json:"cancel"`
}

// CompletedPart is one uploaded part.
type CompletedPart struct {
	PartNumber int    `json:"partNumber"`
	ETag       string `json:"etag"`
	Size       int64  `json:"size"`
}

// UploadedObject is the agent's account of one object.
type UploadedObject struct {
	Parts  []CompletedPart `json:"parts"`
	SHA256 string          `json:"sha256"`
	Size   int64           `json:"size"`
}

// FileError is a per-file problem.
type FileError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Run statuses as the seed names them.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// BackupCompleteRequest ends a run. With Status completed, the server checks the parts
// and completes both multipart uploads; otherwise it aborts them.
type BackupCompleteRequest struct {
	RunID  string `json:"runId"`
	Status string `json:"status"` // completed | failed | cancelled
	Error  string `json:"error,omitempty"`
	// Archive is nil for a completed incremental that stored nothing (with Deltas):
	// no archive object is kept.
	Archive  *UploadedObject `json:"archive,omitempty"`
	Manifest *UploadedObject `json:"manifest,omitempty"`
	Progress
	Errors []FileError `json:"errors,omitempty"`
}

// BackupCompleteResponse confirms the recorded run.
type BackupCompleteResponse struct {
	RunID  string `json:"runId"`
	Status string `json:"status"`
	S3Path string `json:"s3Path,omitempty"`
}

// LogEntry is one agent log line.
type LogEntry struct {
	Level     string            `json:"level"` // info | warning | error
	Message   string            `json:"message"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Timestamp time.Time         `json:"timestamp"`
}

// LogRequest ships log lines.
type LogRequest struct {
	Entries []LogEntry `json:"entries"`
}

// DownloadResponse is what a restore needs: the chain of archives, oldest (the full
// backup) first, the last being the requested point in time, each with pre-signed GET
// URLs (≤ 1 h; ask again for fresh ones).
type DownloadResponse struct {
	Chain []DownloadArchive `json:"chain"`
}

// DownloadArchive is one archive of a restore chain.
type DownloadArchive struct {
	RunID          string    `json:"runId"`
	Time           time.Time `json:"time"`
	ArchiveURL     string    `json:"archiveUrl"`
	ArchiveSHA256  string    `json:"archiveSha256"`
	ArchiveSize    int64     `json:"archiveSize"`
	ManifestURL    string    `json:"manifestUrl"`
	ManifestSHA256 string    `json:"manifestSha256"`
	ManifestSize   int64     `json:"manifestSize"`
	Encrypted      bool      `json:"encrypted"`
	ExpiresAt      time.Time `json:"expiresAt"`
}

// RestoreProgressRequest reports what a running restore has done so far.
type RestoreProgressRequest struct {
	RestoreID       string `json:"restoreId"`
	Archive         int    `json:"archive"` // index in the chain (full, incrementals) being read
	BytesDownloaded int64  `json:"bytesDownloaded"`
	FilesWritten    int64  `json:"filesWritten"`
	BytesWritten    int64  `json:"bytesWritten"`
}

// RestoreProgressResponse tells the agent whether to go on.
type RestoreProgressResponse struct {
	Cancel bool `json:"cancel"` // the user cancelled the restore: stop
}

// RestoreCompleteRequest reports a restore's outcome.
type RestoreCompleteRequest struct {
	RestoreID    string `json:"restoreId"`
	Status       string `json:"status"`
	Error        string `json:"error,omitempty"`
	FilesWritten int64  `json:"filesWritten"`
	BytesWritten int64  `json:"bytesWritten"`
	// Renamed lists entries restored under another name because the target's file
	// system cannot hold theirs, Skipped those left out (the first 1000 of each);
	// the counts count them all. Absent from agents before 2026-12.
	Renamed      []RenamedFile `json:"renamed,omitempty"`
	Skipped      []FileError   `json:"skipped,omitempty"`
	RenamedCount int           `json:"renamedCount,omitempty"`
	SkippedCount int           `json:"skippedCount,omitempty"`
}

// RenamedFile is an archive entry restored under another name.
type RenamedFile struct {
	Path       string `json:"path"`       // archive name
	RestoredAs string `json:"restoredAs"` // written name, relative to the target directory
}
