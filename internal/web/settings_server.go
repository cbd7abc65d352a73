package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/builtin"
	"github.com/backapp/backapp/internal/store"
)

// registerServerSettings mounts /settings/server, the server's own settings (admins).
func (h *Handler) registerServerSettings(mux *http.ServeMux) {
	mux.HandleFunc("GET /settings/server", h.signedIn(h.settingsServerShow))
	mux.HandleFunc("POST /settings/server", h.signedIn(h.settingsServerUpdate))
}

// serverSettings is the data of the settings_server page.
type serverSettings struct {
	Dirs []string // as saved
}

// settingsServerShow serves GET /settings/server: the directories of the server that
// server-mode backups may read and server-mode restores may write.
func (h *Handler) settingsServerShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !h.settingsAdmin(w, r, sess) {
		return
	}
	v, err := builtin.LoadAllowedDirs(r.Context(), h.store)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	dirs := builtin.ParseAllowedDirs(v)
	h.render(w, r, http.StatusOK, "settings_server", h.serverSettingsPage(dirs, joinLines(dirs)))
}

func (h *Handler) serverSettingsPage(dirs []string, text string) *page {
	return &page{Title: "Server settings", Nav: "server", Form: "server",
		Values: map[string]string{builtin.FieldAllowedDirs: text}, Data: serverSettings{Dirs: dirs}}
}

// settingsServerUpdate serves POST /settings/server. Every bad line is named at once
// and nothing is saved until all are right.
func (h *Handler) settingsServerUpdate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !h.settingsAdmin(w, r, sess) {
		return
	}
	text := r.PostFormValue(builtin.FieldAllowedDirs)
	if _, err := builtin.SaveAllowedDirs(r.Context(), h.store, sess.User, text, meta(r), h.now()); err != nil {
		saved, lerr := builtin.LoadAllowedDirs(r.Context(), h.store)
		if lerr != nil {
			h.RenderError(w, r, lerr)
			return
		}
		h.formError(w, r, "settings_server", h.serverSettingsPage(builtin.ParseAllowedDirs(saved), text), err)
		return
	}
	h.flash(w, "server-saved")
	seeOther(w, r, "/settings/server")
}

// settingsAdmin lets administrators through and answers 403 to everyone else.
func (h *Handler) settingsAdmin(w http.ResponseWriter, r *http.Request, sess auth.Session) bool {
	if sess.User.Role == store.RoleAdmin {
		return true
	}
	h.RenderError(w, r, apperr.New(apperr.Forbidden, "only administrators can change the server's settings"))
	return false
}

func joinLines(ls []string) string {
	s := ""
	for i, l := range ls {
		if i > 0 {
			s += "\n"
		}
		s += l
	}
	return s
}
