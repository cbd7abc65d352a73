package api

import (
	"log/slog"
	"net/http"
	"net/url"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/httpx"
)

// ConfigsAPI serves /api/configs… and /api/schedule/preview: people managing their
// backup configurations.
type ConfigsAPI struct {
	svc *configs.Service
	log *slog.Logger
}

// NewConfigs returns the configuration endpoints.
func NewConfigs(svc *configs.Service, log *slog.Logger) *ConfigsAPI {
	if log == nil {
		log = slog.Default()
	}
	return &ConfigsAPI{svc: svc, log: log}
}

// Register adds the routes to mux.
func (a *ConfigsAPI) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/configs", a.signedIn(a.list))
	mux.HandleFunc("POST /api/configs", a.signedIn(a.create))
	mux.HandleFunc("POST /api/configs/validate", a.signedIn(a.validate))
	mux.HandleFunc("GET /api/configs/{id}", a.signedIn(a.get))
	mux.HandleFunc("PUT /api/configs/{id}", a.signedIn(a.update))
	mux.HandleFunc("DELETE /api/configs/{id}", a.signedIn(a.delete))
	mux.HandleFunc("POST /api/configs/{id}/validate", a.signedIn(a.validate))
	mux.HandleFunc("POST /api/configs/{id}/estimate", a.signedIn(a.estimateStart))
	mux.HandleFunc("GET /api/configs/{id}/estimate", a.signedIn(a.estimateGet))
	mux.HandleFunc("GET /api/schedule/preview", a.signedIn(a.schedulePreview))
	mux.HandleFunc("GET /api/settings/server-mode", a.signedIn(a.serverDirsGet))
	mux.HandleFunc("PUT /api/settings/server-mode", a.signedIn(a.serverDirsSet))
}

func (a *ConfigsAPI) signedIn(h func(http.ResponseWriter, *http.Request, auth.Session)) http.HandlerFunc {
	return requireSession(a.log, h)
}

func (a *ConfigsAPI) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpx.WriteError(w, r, a.log, err)
}

// savedConfig answers a create or update. GeneratedIdentity is set only when the
// save generated an age key pair: the one and only time the server sends it.
type savedConfig struct {
	configs.Config
	GeneratedIdentity string `json:"generatedIdentity,omitempty"`
	IdentityWarning   string `json:"identityWarning,omitempty"`
}

// IdentityWarning is said wherever a generated identity is shown.
const IdentityWarning = "this is the only copy of the key that decrypts these backups: the server keeps only the public recipient. Store it somewhere safe, away from the machine it backs up; if it is lost, the backups cannot be restored by anyone"

func saved(s configs.Saved) savedConfig {
	out := savedConfig{Config: s.Config.Public()}
	if s.Identity != "" {
		out.GeneratedIdentity, out.IdentityWarning = s.Identity, IdentityWarning
	}
	return out
}

func (a *ConfigsAPI) list(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	cs, err := a.svc.List(r.Context(), sess.User)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]configs.Config, len(cs))
	for i, c := range cs {
		out[i] = c.Public()
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"configs": out})
}

func (a *ConfigsAPI) get(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	c, err := a.svc.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, c.Public())
}

func (a *ConfigsAPI) create(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var in configs.Config
	if err := httpx.DecodeJSON(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.svc.Create(r.Context(), sess.User, in, meta(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/configs/"+url.PathEscape(s.Config.ID))
	httpx.WriteJSON(w, http.StatusCreated, saved(s))
}

func (a *ConfigsAPI) update(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	id := r.PathValue("id")
	// Another user's id is 404 whatever the body says.
	if _, err := a.svc.Get(r.Context(), sess.User, id); err != nil {
		a.fail(w, r, err)
		return
	}
	var in configs.Config
	if err := httpx.DecodeJSON(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.svc.Update(r.Context(), sess.User, id, in, meta(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, saved(s))
}

func (a *ConfigsAPI) delete(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if err := a.svc.Delete(r.Context(), sess.User, r.PathValue("id"), meta(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// validate serves POST /api/configs/validate (a new configuration) and POST
// /api/configs/{id}/validate (a change to a saved one): 200 with the configuration as
// it would be saved, or 400 with every problem in error.fields. Nothing is saved.
func (a *ConfigsAPI) validate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	id := r.PathValue("id")
	if id != "" {
		if _, err := a.svc.Get(r.Context(), sess.User, id); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	var in configs.Config
	if err := httpx.DecodeJSON(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.svc.Validate(r.Context(), sess.User, id, in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"valid": true, "config": c.Public()})
}

// serverDirs is the body of /api/settings/server-mode: the directories of the
// server that server-mode configurations may back up.
type serverDirs struct {
	AllowedDirs []string `json:"allowedDirs"`
}

func (a *ConfigsAPI) serverDirsGet(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	dirs, err := a.svc.ServerDirs(r.Context(), sess.User)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, serverDirs{AllowedDirs: append([]string{}, dirs...)})
}

func (a *ConfigsAPI) serverDirsSet(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var in serverDirs
	if err := httpx.DecodeJSON(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	dirs, err := a.svc.SetServerDirs(r.Context(), sess.User, in.AllowedDirs, meta(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, serverDirs{AllowedDirs: append([]string{}, dirs...)})
}
