package api

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/restores"
	"github.com/backapp/backapp/internal/store"
)

// restoresAPI serves /api/restores and the file listing of a backup.
type restoresAPI struct {
	*API
	svc *restores.Service
}

// RegisterRestores adds the restore routes to mux: start, list, show, cancel, and
// GET /api/backups/{id}/files (a directory of a backup, or a search).
func (a *API) RegisterRestores(mux *http.ServeMux, svc *restores.Service) {
	x := &restoresAPI{API: a, svc: svc}
	mux.HandleFunc("POST /api/restores", a.signedIn(x.start))
	mux.HandleFunc("GET /api/restores", a.signedIn(x.list))
	mux.HandleFunc("GET /api/restores/{id}", a.signedIn(x.get))
	mux.HandleFunc("POST /api/restores/{id}/cancel", a.signedIn(x.cancel))
	mux.HandleFunc("GET /api/backups/{id}/files", a.signedIn(x.files))
}

// Restore is the API's view of a restore.
type Restore struct {
	ID        string   `json:"id"`
	UserID    string   `json:"userId"`
	RunID     string   `json:"runId"`
	AgentID   string   `json:"agentId"` // "" once the agent was deleted
	TargetDir string   `json:"targetDir"`
	Paths     []string `json:"paths"` // absolute; [] is everything
	Overwrite bool     `json:"overwrite"`
	// UnportableNames: what the agent does with names its file system cannot hold
	// (Windows: CON, a:b, q?, …): "rename" (escaped name) or "skip"; either way
	// they are listed in Warnings.
	UnportableNames string `json:"unportableNames"`
	Status          string `json:"status"` // queued | running | completed | failed | cancelled
	CancelRequested bool   `json:"cancelRequested"`
	Error           string `json:"error,omitempty"`
	// Warnings: of a completed restore, the entries restored under other names or
	// skipped because the target's file system cannot hold their names.
	Warnings     string     `json:"warnings,omitempty"`
	FilesWritten int64      `json:"filesWritten"`
	BytesWritten int64      `json:"bytesWritten"`
	CreatedAt    time.Time  `json:"createdAt"`
	StartedAt    *time.Time `json:"startedAt,omitempty"`
	FinishedAt   *time.Time `json:"finishedAt,omitempty"`
}

func restoreJSON(r store.Restore) Restore {
	paths := make([]string, len(r.Paths))
	for i, p := range r.Paths {
		paths[i] = "/" + p
	}
	out := Restore{ID: r.ID, UserID: r.UserID, RunID: r.RunID, AgentID: r.AgentID, TargetDir: r.TargetDir,
		Paths: paths, Overwrite: r.Overwrite, UnportableNames: r.UnportableNames, Status: r.Status, CancelRequested: r.CancelRequested, Error: r.Error,
		FilesWritten: r.FilesWritten, BytesWritten: r.BytesWritten, CreatedAt: r.CreatedAt,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
	if r.Status == store.RestoreCompleted {
		out.Warnings, out.Error = r.Error, ""
	}
	return out
}

type restoreInput struct {
	RunID       string     `json:"runId"`
	ConfigID    string     `json:"configId"`
	PointInTime *time.Time `json:"pointInTime"`
	AgentID     string     `json:"agentId"`
	TargetDir   string     `json:"targetDir"`
	Paths       []string   `json:"paths"`
	Overwrite   bool       `json:"overwrite"`
	// UnportableNames: "rename" (also when absent) or "skip".
	UnportableNames string `json:"unportableNames"`
	// Identity: age identity text for a backup encrypted to recipients, used for this
	// restore only: stored sealed until its agent acknowledges the restore (at most a
	// day), never returned.
	Identity string `json:"identity"`
}

func (x *restoresAPI) start(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var in restoreInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		x.fail(w, r, err)
		return
	}
	rs, err := x.svc.Start(r.Context(), sess.User, restores.Input{RunID: in.RunID, ConfigID: in.ConfigID,
		PointInTime: in.PointInTime, AgentID: in.AgentID, TargetDir: in.TargetDir, Paths: in.Paths, Overwrite: in.Overwrite,
		UnportableNames: in.UnportableNames, Identity: in.Identity})
	if err != nil {
		x.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/restores/"+url.PathEscape(rs.ID))
	httpx.WriteJSON(w, http.StatusCreated, restoreJSON(rs))
}

func (x *restoresAPI) list(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	q := r.URL.Query()
	limit, offset := 50, 0
	for k, dst := range map[string]*int{"limit": &limit, "offset": &offset} {
		if s := q.Get(k); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || k == "limit" && (n < 1 || n > 200) {
				x.fail(w, r, apperr.Invalidf(k, "%s must be a whole number (limit 1 to 200)", k))
				return
			}
			*dst = n
		}
	}
	f := store.RestoreFilter{Limit: limit, Offset: offset, Sort: q.Get("sort")}
	var err error
	if f.Asc, err = parseDir(q.Get("dir")); err != nil {
		x.fail(w, r, err)
		return
	}
	rs, err := x.svc.List(r.Context(), sess.User, f)
	if err != nil {
		x.fail(w, r, err)
		return
	}
	out := make([]Restore, len(rs))
	for i, v := range rs {
		out[i] = restoreJSON(v)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"restores": out})
}

func (x *restoresAPI) get(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	rs, err := x.svc.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		x.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, restoreJSON(rs))
}

func (x *restoresAPI) cancel(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	rs, err := x.svc.Cancel(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		x.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, restoreJSON(rs))
}

// files answers GET /api/backups/{id}/files?dir=/home (a directory level, "/" by
// default) or ?q=report (paths containing the text, at most 500).
func (x *restoresAPI) files(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	run, err := x.svc.Run(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		x.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	if s := q.Get("q"); s != "" {
		found, more, err := x.svc.Search(r.Context(), run, s, 500)
		if err != nil {
			x.fail(w, r, err)
			return
		}
		if found == nil {
			found = []restores.Entry{}
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"runId": run.ID, "query": s, "entries": found, "truncated": more})
		return
	}
	l, err := x.svc.Browse(r.Context(), run, q.Get("dir"))
	if err != nil {
		x.fail(w, r, err)
		return
	}
	if l.Entries == nil {
		l.Entries = []restores.Entry{}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"runId": run.ID, "dir": l.Dir, "entries": l.Entries,
		"encrypted": run.Encrypted, "sources": l.Sources})
}
