package api

import (
	"net/http"
	"net/url"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/httpx"
)

// estimateStart serves POST /api/configs/{id}/estimate: it asks the configuration's
// agent for a size estimate and answers 202 with it (pending; with a note when the
// agent is offline). Poll GET …/estimate until status is done or failed.
func (a *ConfigsAPI) estimateStart(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	e, err := a.svc.RequestEstimate(r.Context(), sess.User, r.PathValue("id"), meta(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/configs/"+url.PathEscape(e.ConfigID)+"/estimate")
	httpx.WriteJSON(w, http.StatusAccepted, e)
}

// estimateGet serves GET /api/configs/{id}/estimate: the latest estimate, 404 when
// none was asked for.
func (a *ConfigsAPI) estimateGet(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	e, err := a.svc.GetEstimate(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, e)
}
