package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/store"
)

func init() {
	flashTexts["run-queued"] = struct {
		text string
		args int
	}{"The backup is queued: %s.", 1}
	flashTexts["run-cancelled"] = struct {
		text string
		args int
	}{"The backup was cancelled.", 0}
	flashTexts["run-cancel-requested"] = struct {
		text string
		args int
	}{"Cancel requested: the agent stops the backup at its next progress report.", 0}
}

// registerBackups mounts the run history pages; without a runs service there are none.
func (h *Handler) registerBackups(mux *http.ServeMux) {
	if h.runs == nil {
		return
	}
	mux.HandleFunc("GET /backups", h.signedIn(h.backupsList))
	if h.agents != nil && h.configs != nil {
		mux.HandleFunc("GET /backups/logs", h.signedIn(h.backupLogs))
	}
	mux.HandleFunc("GET /backups/{id}", h.signedIn(h.backupShow))
	mux.HandleFunc("POST /backups/{id}/cancel", h.signedIn(h.backupCancel))
	mux.HandleFunc("POST /backups/{id}/run", h.signedIn(h.backupRunAgain))
	// "Run now" on the configuration pages posts here.
	mux.HandleFunc("POST /configs/{id}/run", h.signedIn(h.configRun))
}

// runView is a run with what the templates show: status as word and shape, the
// duration and sizes in human units.
type runView struct {
	runs.Run
	now time.Time
	// Expected is about how many bytes a running backup will read (0: unknown),
	// for its time left.
	Expected int64
}

// StatusView is the status word and shape (never colour alone).
func (v runView) StatusView() statusView {
	if runs.WithWarnings(v.RunRecord.Run) {
		return runStatusOf(v.RunRecord.Run)
	}
	return runStatusView(v.Run.Status)
}

func runStatusView(s string) statusView {
	if s == runs.StatusExpired {
		return statusView{"Expired", "⊘", "off"}
	}
	return runStatus(s)
}

// LateView is the late flag as a word and shape.
func (v runView) LateView() statusView { return statusView{"Late", "!", "warn"} }

// runError is one error of a run: a file's, or the run's as a whole.
type runError struct{ Path, Message string }

// ErrorList reads the run's errors ([{"path","message"}] or {"message"}); a document
// of another shape is shown as it is.
func (v runView) ErrorList() []runError {
	if len(v.Errors) == 0 {
		return nil
	}
	var list []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	}
	if json.Unmarshal(v.Errors, &list) != nil {
		var one struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(v.Errors, &one) != nil || one.Message == "" {
			return []runError{{Message: string(v.Errors)}}
		}
		return []runError{{Message: one.Message}}
	}
	out := make([]runError, len(list))
	for i, e := range list {
		out[i] = runError{e.Path, e.Message}
	}
	return out
}

// Cause is what made a failed or cancelled run end: its error as a whole, else its
// first file's; nil for other runs and runs without a recorded error.
func (v runView) Cause() *runError {
	if v.Status != runs.StatusFailed && v.Status != runs.StatusCancelled {
		return nil
	}
	list := v.ErrorList()
	for _, e := range list {
		if e.Path == "" {
			return &e
		}
	}
	if len(list) > 0 {
		return &list[0]
	}
	return nil
}

// Advice is what to do about a failed run's cause, in a sentence.
func (v runView) Advice() string {
	c := v.Cause()
	if c == nil {
		return ""
	}
	m := strings.ToLower(c.Message)
	switch {
	case v.Status == runs.StatusCancelled:
		return "Nothing to fix if you meant to stop it: start it again with Run again."
	case strings.Contains(m, "permission denied") || strings.Contains(m, "access is denied"):
		return "The agent's account cannot read this path: run the agent as a user who can, or exclude the path in the configuration; then Run again."
	case strings.Contains(m, "no such file") || strings.Contains(m, "cannot find"):
		return "A source path does not exist on the machine: correct it in the configuration, then Run again."
	case strings.Contains(m, "accessdenied") || strings.Contains(m, "signature") || strings.Contains(m, "nosuchbucket") ||
		strings.Contains(m, "storage") || strings.Contains(m, "upload"):
		return "The storage refused or could not be reached: test its connection under Settings → Storage, then Run again."
	case strings.Contains(m, "stopped reporting") || strings.Contains(m, "offline"):
		return "The agent stopped reporting: check that its service runs on the machine (the agent's page says when it was last seen), then Run again."
	case strings.Contains(m, "hook"):
		return "A hook command of the configuration failed: run it by hand on the machine to see why, fix it, then Run again."
	case strings.Contains(m, "no space") || strings.Contains(m, "disk full"):
		return "A disk is full: free space on the machine or the storage, then Run again."
	}
	return "Fix the cause above (the agent's log lines below show the steps before it), then Run again."
}

// TypeText is "full" or "incremental", "" while that is not decided (queued runs).
func (v runView) TypeText() string {
	switch {
	case v.Full:
		return "full"
	case v.PreviousRunID != "":
		return "incremental"
	}
	return ""
}

// HasArchive reports whether the run's archive exists in storage: a key alone
// (assigned when a run starts) is not an archive.
func (v runView) HasArchive() bool {
	return v.S3Path != "" && (v.ArchiveSHA256 != "" || v.ArchiveSize > 0)
}

// DurationText is the duration in human units ("3 m 12 s"), "" when none yet.
func (v runView) DurationText() string {
	d := v.Duration(v.now)
	if d <= 0 {
		return ""
	}
	return humanDuration(d)
}

// BytesText is the bytes read, in binary units.
func (v runView) BytesText() string { return humanBytes(v.TotalBytes) }

// TransferredText is the bytes uploaded, in binary units.
func (v runView) TransferredText() string { return humanBytes(v.BytesTransfer) }

// ArchiveText is the archive's size, in binary units.
func (v runView) ArchiveText() string { return humanBytes(v.ArchiveSize) }

// Unchanged reports whether the run is a completed incremental that stored no archive
// (nothing changed since the run it builds on): its manifest records the check.
func (v runView) Unchanged() bool {
	return v.Status == "completed" && !v.Full && v.ArchiveSHA256 == "" && v.ArchiveSize == 0 && v.ManifestSize > 0
}

// StoredText is everything a completed run added to its destination, with its parts:
// "1.2 MiB (archive 1.1 MiB, manifest 20 KiB, catalog copy 21 KiB)"; "" otherwise.
func (v runView) StoredText() string {
	if v.Status != "completed" || v.ManifestSize == 0 {
		return ""
	}
	parts := []string{"archive " + humanBytes(v.ArchiveSize)}
	if v.Unchanged() {
		parts[0] = "no archive"
	}
	parts = append(parts, "manifest "+humanBytes(v.ManifestSize))
	if v.CatalogSize > 0 {
		parts = append(parts, "catalog copy "+humanBytes(v.CatalogSize))
	}
	return humanBytes(v.ArchiveSize+v.ManifestSize+v.CatalogSize) + " (" + strings.Join(parts, ", ") + ")"
}

// humanDuration renders d as "850 ms", "42 s", "3 m 12 s", "2 h 5 m" or "3 d 4 h".
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d m %d s", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h %d m", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%d d %d h", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

type filterOption struct{ Value, Label string }

type backupsData struct {
	Runs      []runView
	Total     int
	TotalText string // "1,234", or "1,000+" when the history stopped counting
	From, To  int    // 1-based positions shown
	Status    string
	Config    string
	Agent     string
	DateFrom  string
	DateTo    string
	Statuses  []filterOption
	Configs   []filterOption
	Agents    []filterOption
	Filtered  bool
	PrevURL   string
	NextURL   string
	Failed    bool // the filter was refused; Errors say why
	Sort      sortState
}

// backupsList serves GET /backups: the run history, newest first, filtered by
// status, configuration, agent and date range through the URL (?status=&config=
// &agent=&from=&to=, dates as 2006-01-02 in UTC), sorted by ?sort=&dir= (store.RunSorts)
// and paged with ?offset=.
func (h *Handler) backupsList(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	q := r.URL.Query()
	d := &backupsData{Status: q.Get("status"), Config: first(q, "config", "configId"), Agent: first(q, "agent", "agentId"),
		DateFrom: q.Get("from"), DateTo: q.Get("to")}
	d.Filtered = d.Status != "" || d.Config != "" || d.Agent != "" || d.DateFrom != "" || d.DateTo != ""
	p := &page{Title: "Backups", Nav: "backups", Data: d}
	if err := h.backupsOptions(r, sess.User, d); err != nil {
		h.RenderError(w, r, err)
		return
	}
	d.Sort = sortNewestFrom(r, "/backups", store.RunsByStart, store.RunSorts...)
	f, err := runs.ParseFilter(q)
	if f.Sort, f.Asc = d.Sort.Key, !d.Sort.Desc; f.Sort == store.RunsByStart {
		f.Sort = ""
	}
	if err != nil {
		d.Failed = true
		p.Form = "filter"
		h.formError(w, r, "backups", p, err)
		return
	}
	pg, err := h.runs.List(r.Context(), sess.User, f)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	now := h.now()
	d.Runs = make([]runView, len(pg.Runs))
	for i, run := range pg.Runs {
		d.Runs[i] = runView{Run: run, now: now}
	}
	d.Total, d.TotalText = pg.Total, groupDigits(int64(pg.Total))
	if pg.TotalCapped {
		d.TotalText += "+"
	}
	if len(pg.Runs) > 0 {
		d.From, d.To = pg.Offset+1, pg.Offset+len(pg.Runs)
	}
	page := func(off int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "offset" && len(vs) > 0 && vs[0] != "" {
				v.Set(k, vs[0])
			}
		}
		if off > 0 {
			v.Set("offset", strconv.Itoa(off))
		}
		if len(v) == 0 {
			return "/backups"
		}
		return "/backups?" + v.Encode()
	}
	if pg.Offset > 0 {
		d.PrevURL = page(max(pg.Offset-pg.Limit, 0))
	}
	if pg.Offset+len(pg.Runs) < pg.Total {
		d.NextURL = page(pg.Offset + pg.Limit)
	}
	h.render(w, r, http.StatusOK, "backups", p)
}

func first(q url.Values, names ...string) string {
	for _, n := range names {
		if v := q.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// backupsOptions fills the filter's choices: statuses, and the configurations and
// agents the user may see.
func (h *Handler) backupsOptions(r *http.Request, u store.User, d *backupsData) error {
	for _, s := range runs.Statuses {
		label := runStatusView(s).Word
		if s == runs.FilterLate {
			label = "Late"
		}
		d.Statuses = append(d.Statuses, filterOption{s, label})
	}
	if err := h.filterOptions(r, u, &d.Configs, &d.Agents); err != nil {
		return fmt.Errorf("list configs and agents for the filter: %w", err)
	}
	return nil
}

type backupShowData struct {
	Run  runView
	Logs []agentLogView
}

// backupShow serves GET /backups/{id}: the run's facts, its errors and its agent's
// log lines around it, with Cancel while it is queued or running and Run again.
func (h *Handler) backupShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	det, err := h.runs.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	d := &backupShowData{Run: runView{Run: det.Run, now: h.now()}}
	if det.Status == runs.StatusRunning {
		if d.Run.Expected, err = h.runs.ExpectedBytes(r.Context(), det.Run); err != nil {
			h.RenderError(w, r, err)
			return
		}
	}
	for _, l := range det.Logs {
		d.Logs = append(d.Logs, agentLogView{l, logLevel(l.Level)})
	}
	title := "Backup of " + det.ConfigName
	h.render(w, r, http.StatusOK, "backup_show", &page{Title: title, Nav: "backups", Data: d})
}

// backupCancel serves POST /backups/{id}/cancel.
func (h *Handler) backupCancel(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	run, err := h.runs.Cancel(r.Context(), sess.User, r.PathValue("id"), meta(r))
	if err != nil {
		if apperr.KindOf(err) == apperr.Conflict {
			// Finished meanwhile: show the run as it is now.
			seeOther(w, r, "/backups/"+url.PathEscape(r.PathValue("id")))
			return
		}
		h.RenderError(w, r, err)
		return
	}
	if run.Status == runs.StatusRunning {
		h.flash(w, "run-cancel-requested")
	} else {
		h.flash(w, "run-cancelled")
	}
	seeOther(w, r, "/backups/"+url.PathEscape(run.ID))
}

// backupRunAgain serves POST /backups/{id}/run: a new run of the same configuration.
func (h *Handler) backupRunAgain(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	det, err := h.runs.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.queue(w, r, sess, det.ConfigID)
}

// configRun serves POST /configs/{id}/run ("Run now"): it queues a run and shows it.
func (h *Handler) configRun(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	h.queue(w, r, sess, r.PathValue("id"))
}

func (h *Handler) queue(w http.ResponseWriter, r *http.Request, sess auth.Session, configID string) {
	q, err := h.runs.Queue(r.Context(), sess.User, configID, meta(r))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.flash(w, "run-queued", trimQueued(q.Message))
	seeOther(w, r, "/backups/"+url.PathEscape(q.Run.ID))
}

// trimQueued drops the leading "queued; " of the service's message for the flash.
func trimQueued(m string) string {
	const p = "queued; "
	if len(m) > len(p) && m[:len(p)] == p {
		return m[len(p):]
	}
	return "it starts shortly"
}
