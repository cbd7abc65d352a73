package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/restores"
	"github.com/backapp/backapp/internal/store"
)

// registerRestores mounts the restore pages; without a restore service there are none.
func (h *Handler) registerRestores(mux *http.ServeMux) {
	if h.restores == nil {
		return
	}
	mux.HandleFunc("GET /restores", h.signedIn(h.restoresList))
	mux.HandleFunc("GET /restores/new", h.signedIn(h.restoreNewShow))
	mux.HandleFunc("POST /restores/new", h.signedIn(h.restoreNewSubmit))
	mux.HandleFunc("GET /restores/file", h.signedIn(h.restoreFileDownload))
	mux.HandleFunc("GET /restores/{id}", h.signedIn(h.restoreShow))
	mux.HandleFunc("POST /restores/{id}/cancel", h.signedIn(h.restoreCancel))
	mux.HandleFunc("POST /restores/{id}/retry", h.signedIn(h.restoreRetry))
}

// restoreView is a restore with what its templates show.
type restoreView struct {
	store.Restore
	AgentName string
}

// Status is the status word and shape: never colour alone.
func (v restoreView) Status() statusView {
	if v.Restore.Status == store.RestoreRunning && v.CancelRequested {
		return statusView{"Cancelling", "●", "warn"}
	}
	if v.Restore.Status == store.RestoreCompleted && v.Error != "" {
		return statusView{"Completed with warnings", "!", "warn"}
	}
	return runStatus(v.Restore.Status)
}

// PathsText summarises the selection.
func (v restoreView) PathsText() string {
	switch len(v.Paths) {
	case 0:
		return "Everything"
	case 1:
		return "/" + v.Paths[0]
	}
	return fmt.Sprintf("/%s and %d more", v.Paths[0], len(v.Paths)-1)
}

// BytesText is the bytes written in binary units.
func (v restoreView) BytesText() string { return humanBytes(v.BytesWritten) }

// DurationText is how long the restore ran, or has been running.
func (v restoreView) DurationText() string {
	if v.StartedAt == nil || v.FinishedAt == nil {
		return ""
	}
	d := v.FinishedAt.Sub(*v.StartedAt).Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%d s", int(d/time.Second))
	}
	return fmt.Sprintf("%d m %d s", int(d/time.Minute), int(d%time.Minute/time.Second))
}

type restoresData struct {
	Restores []restoreView
	Next     string // URL of the next page of older restores
	Prev     string
	Sort     sortState
}

const restoresPerPage = 50

// restoresList serves GET /restores: the user's restores, newest first or in the
// order ?sort=&dir= names, paged with ?offset=.
func (h *Handler) restoresList(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	offset = max(offset, 0)
	srt := sortNewestFrom(r, "/restores", store.RestoresByCreated, store.RestoreSorts...)
	rs, err := h.restores.List(r.Context(), sess.User,
		store.RestoreFilter{Limit: restoresPerPage + 1, Offset: offset, Sort: srt.Key, Asc: !srt.Desc})
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	names, err := h.agentNames(r.Context(), sess.User)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	d := restoresData{Sort: srt}
	pageAt := func(off int) string {
		v := r.URL.Query() // the order stays
		v.Set("offset", strconv.Itoa(off))
		return "/restores?" + v.Encode()
	}
	if len(rs) > restoresPerPage {
		rs = rs[:restoresPerPage]
		d.Next = pageAt(offset + restoresPerPage)
	}
	if offset > 0 {
		d.Prev = pageAt(max(offset-restoresPerPage, 0))
	}
	for _, x := range rs {
		d.Restores = append(d.Restores, restoreView{x, names[x.AgentID]})
	}
	h.render(w, r, http.StatusOK, "restores", &page{Title: "Restores", Nav: "restores", Data: d})
}

type restoreShowData struct {
	Restore restoreView
	Run     store.Run
	Change  string // the restore page with this restore's choices, to change them and retry
	ETA     string // time left while running
}

// restoreShow serves GET /restores/{id}: status, result, and a refresh link while
// the restore is queued or running.
func (h *Handler) restoreShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	x, err := h.restores.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	run, err := h.restores.Run(r.Context(), sess.User, x.RunID)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	names, err := h.agentNames(r.Context(), sess.User)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "restore_show", &page{Title: "Restore", Nav: "restores",
		Data: restoreShowData{Restore: restoreView{x, names[x.AgentID]}, Run: run, Change: retryState(x).url(),
			ETA: restoreETA(x, run, h.now())}})
}

// retryState is the restore page's state that starts x again.
func retryState(x store.Restore) restoreState {
	st := restoreState{run: x.RunID, dir: "/", agent: x.AgentID, target: x.TargetDir, overwrite: x.Overwrite,
		unportable: x.UnportableNames}
	for _, p := range x.Paths {
		st.sel = append(st.sel, "/"+p)
	}
	return st
}

// restoreRetry serves POST /restores/{id}/retry: a finished restore queued again as a
// new one, with the same backup, agent, target and files.
func (h *Handler) restoreRetry(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	x, err := h.restores.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	if !x.Finished() {
		h.RenderError(w, r, apperr.New(apperr.Conflict, "restore %s is still %s: cancel it or wait for it to end before retrying", x.ID, x.Status))
		return
	}
	st := retryState(x)
	run, err := h.restores.Run(r.Context(), sess.User, x.RunID)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	if _, mode := h.runEncryption(r, sess, run); mode == configs.EncryptAge {
		// The identity went with the failed restore: the form asks for it again.
		h.flash(w, "restore-identity")
		seeOther(w, r, st.url())
		return
	}
	n, err := h.restores.Start(r.Context(), sess.User, restores.Input{RunID: x.RunID, AgentID: x.AgentID, TargetDir: x.TargetDir,
		Paths: st.sel, Overwrite: x.Overwrite, UnportableNames: x.UnportableNames})
	if apperr.KindOf(err) == apperr.Invalid { // the agent is gone, say: choose again on the restore page
		h.flash(w, "restore-retry", apperr.From(err).Message)
		seeOther(w, r, st.url())
		return
	}
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	seeOther(w, r, "/restores/"+n.ID)
}

// restoreCancel serves POST /restores/{id}/cancel.
func (h *Handler) restoreCancel(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	x, err := h.restores.Cancel(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	seeOther(w, r, "/restores/"+x.ID)
}
