package web

import (
	"net/http"
	"strings"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/configs"
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
// server-mode backups may read and server-mode restores may write (the setting
// configs.SettingServerDirs, which the configurations service validates and saves).
func (h *Handler) settingsServerShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !h.settingsAdmin(w, r, sess) {
		return
	}
	dirs, err := h.configs.ServerDirs(r.Context(), sess.User)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "settings_server", h.serverSettingsPage(dirs, strings.Join(dirs, "\n")))
}

func (h *Handler) serverSettingsPage(dirs []string, text string) *page {
	return &page{Title: "Server settings", Nav: "server", Form: "server",
		Values: map[string]string{configs.FieldAllowedDirs: text}, Data: serverSettings{Dirs: dirs}}
}

// settingsServerUpdate serves POST /settings/server; nothing is saved unless every
// line is an existing absolute directory other than /.
func (h *Handler) settingsServerUpdate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !h.settingsAdmin(w, r, sess) {
		return
	}
	text := r.PostFormValue(configs.FieldAllowedDirs)
	if _, err := h.configs.SetServerDirs(r.Context(), sess.User, []string{text}, meta(r)); err != nil {
		saved, lerr := h.configs.ServerDirs(r.Context(), sess.User)
		if lerr != nil {
			h.RenderError(w, r, lerr)
			return
		}
		h.formError(w, r, "settings_server", h.serverSettingsPage(saved, text), err)
		return
	}
	h.flash(w, "server-saved")
	seeOther(w, r, "/settings/server")
}

// settingsAdmin lets administrators through and answers 403 to everyone else.
func (h *Handler) settingsAdmin(w http.ResponseWriter, r *http.Request, sess auth.Session) bool {
	if !sess.User.IsAdmin() {
		h.RenderError(w, r, apperr.New(apperr.Forbidden, "only administrators can change the server's settings"))
		return false
	}
	if h.configs == nil {
		h.RenderError(w, r, apperr.New(apperr.NotFound, "server settings are not available on this server"))
		return false
	}
	return true
}
