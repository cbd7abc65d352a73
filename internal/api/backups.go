package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/runs"
)

// backupsAPI serves the seed's Backup Operations endpoints under /api/backups.
type backupsAPI struct {
	*API
	svc *runs.Service
}

// RegisterBackups adds the run routes to mux: run now, cancel, history and details.
func (a *API) RegisterBackups(mux *http.ServeMux, svc *runs.Service) {
	b := &backupsAPI{API: a, svc: svc}
	// POST /api/backups/execute/{configId} and POST /api/backups/{id}/cancel overlap
	// as ServeMux patterns (/api/backups/execute/cancel matches both), so one
	// pattern takes both and tells them apart.
	mux.HandleFunc("POST /api/backups/{first}/{second}", a.signedIn(b.post))
	mux.HandleFunc("GET /api/backups/logs", a.signedIn(b.logs))
	mux.HandleFunc("GET /api/backups/{id}", a.signedIn(b.get))
}

// BackupLog is the seed's BackupLog with what backapp adds (queued and expired
// statuses, the agent, the objects, the late flag).
type BackupLog struct {
	ID         string     `json:"id"`
	ConfigID   string     `json:"configId"`
	ConfigName string     `json:"configName"`
	UserID     string     `json:"userId"`
	AgentID    string     `json:"agentId,omitempty"`
	AgentName  string     `json:"agentName,omitempty"`
	StartTime  time.Time  `json:"startTime"`
	EndTime    *time.Time `json:"endTime,omitempty"`
	Status     string     `json:"status"`
	// WithWarnings: completed, but files or directories were skipped (see errors).
	WithWarnings     bool            `json:"withWarnings"`
	CancelRequested  bool            `json:"cancelRequested"`
	Late             bool            `json:"late"`
	DueAt            *time.Time      `json:"dueAt,omitempty"`
	FilesProcessed   int64           `json:"filesProcessed"`
	FilesSkipped     int64           `json:"filesSkipped"`
	TotalBytes       int64           `json:"totalBytes"`
	BytesTransferred int64           `json:"bytesTransferred"`
	Errors           json.RawMessage `json:"errors,omitempty"`
	Duration         *int64          `json:"duration,omitempty"` // milliseconds
	Full             bool            `json:"full"`
	PreviousRunID    string          `json:"previousRunId,omitempty"`
	ObjectKey        string          `json:"objectKey,omitempty"`
	ManifestKey      string          `json:"manifestKey,omitempty"`
	Checksum         string          `json:"checksum,omitempty"` // SHA-256 of the archive, hex
	ArchiveSize      int64           `json:"archiveSize"`        // 0 when an unchanged incremental stored no archive
	ManifestSize     int64           `json:"manifestSize"`
	CatalogSize      int64           `json:"catalogSize"` // the server's catalog copy (encrypted runs)
	// StoredBytes is everything the run added to its destination: archive, manifest
	// and catalog copy.
	StoredBytes int64      `json:"storedBytes"`
	Encrypted   bool       `json:"encrypted"`
	ExpiredAt   *time.Time `json:"expiredAt,omitempty"`
}

func backupJSON(r runs.Run) BackupLog {
	out := BackupLog{
		ID: r.ID, ConfigID: r.ConfigID, ConfigName: r.ConfigName, UserID: r.UserID, AgentID: r.AgentID,
		AgentName: r.AgentName, StartTime: r.StartTime, EndTime: r.EndTime, Status: r.Status,
		CancelRequested: r.CancelRequested, Late: r.Late, DueAt: r.DueAt, FilesProcessed: r.FilesProcessed,
		FilesSkipped: r.FilesSkipped, TotalBytes: r.TotalBytes, BytesTransferred: r.BytesTransfer,
		Errors: r.Errors, Duration: r.DurationMS, Full: r.Full, PreviousRunID: r.PreviousRunID,
		ObjectKey: r.S3Path, ManifestKey: r.ManifestKey, Checksum: r.ArchiveSHA256, ArchiveSize: r.ArchiveSize,
		ManifestSize: r.ManifestSize, CatalogSize: r.CatalogSize, StoredBytes: r.ArchiveSize + r.ManifestSize + r.CatalogSize,
		Encrypted: r.Encrypted, ExpiredAt: r.ExpiredAt, WithWarnings: runs.WithWarnings(r.RunRecord.Run),
	}
	if out.Duration == nil && r.EndTime != nil {
		d := r.EndTime.Sub(r.StartTime).Milliseconds()
		out.Duration = &d
	}
	return out
}

// LogLine is one of the agent's log lines shown with a run.
type LogLine struct {
	Level     string            `json:"level"`
	Message   string            `json:"message"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Timestamp time.Time         `json:"timestamp"`
}

func (b *backupsAPI) post(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	switch first, second := r.PathValue("first"), r.PathValue("second"); {
	case first == "execute":
		b.execute(w, r, sess, second)
	case second == "cancel":
		b.cancel(w, r, sess, first)
	default:
		b.fail(w, r, notFound)
	}
}

func (b *backupsAPI) execute(w http.ResponseWriter, r *http.Request, sess auth.Session, configID string) {
	q, err := b.svc.Queue(r.Context(), sess.User, configID, meta(r))
	if err != nil {
		b.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusAccepted, struct {
		BackupLog
		Message      string `json:"message"`
		AgentOffline bool   `json:"agentOffline"`
	}{backupJSON(q.Run), q.Message, q.AgentOffline})
}

func (b *backupsAPI) cancel(w http.ResponseWriter, r *http.Request, sess auth.Session, id string) {
	run, err := b.svc.Cancel(r.Context(), sess.User, id, meta(r))
	if err != nil {
		b.fail(w, r, err)
		return
	}
	msg := "cancelled"
	if run.Status == runs.StatusRunning {
		msg = "cancel requested; the agent stops at its next progress report"
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		BackupLog
		Message string `json:"message"`
	}{backupJSON(run), msg})
}

func (b *backupsAPI) logs(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	f, err := runs.ParseFilter(r.URL.Query())
	if err != nil {
		b.fail(w, r, err)
		return
	}
	p, err := b.svc.List(r.Context(), sess.User, f)
	if err != nil {
		b.fail(w, r, err)
		return
	}
	out := struct {
		Logs  []BackupLog `json:"logs"`
		Total int         `json:"total"`
		// TotalCapped says total is a lower bound: the history counts at most
		// runs.CountCap runs past offset.
		TotalCapped bool `json:"totalCapped,omitempty"`
		Limit       int  `json:"limit"`
		Offset      int  `json:"offset"`
		// Next is the URL of the next page (in the same order) when there is one.
		Next string `json:"next,omitempty"`
	}{Logs: make([]BackupLog, len(p.Runs)), Total: p.Total, TotalCapped: p.TotalCapped, Limit: p.Limit, Offset: p.Offset}
	for i, run := range p.Runs {
		out.Logs[i] = backupJSON(run)
	}
	if p.Offset+len(p.Runs) < p.Total {
		next := f
		next.Limit, next.Offset = p.Limit, p.Offset+p.Limit
		out.Next = "/api/backups/logs?" + next.Values().Encode()
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (b *backupsAPI) get(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	d, err := b.svc.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		b.fail(w, r, err)
		return
	}
	out := struct {
		BackupLog
		Logs []LogLine `json:"logs"`
	}{BackupLog: backupJSON(d.Run), Logs: make([]LogLine, len(d.Logs))}
	for i, l := range d.Logs {
		out.Logs[i] = LogLine{Level: l.Level, Message: l.Message, Metadata: l.Metadata, Timestamp: l.Timestamp}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
