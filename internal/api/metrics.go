package api

import (
	"errors"
	"net/http"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/stats"
)

// metricsAPI serves GET /api/metrics and GET /api/storage/usage.
type metricsAPI struct {
	*API
	svc *stats.Service
}

// RegisterMetrics adds the metrics and storage usage routes to mux.
func (a *API) RegisterMetrics(mux *http.ServeMux, svc *stats.Service) {
	x := &metricsAPI{API: a, svc: svc}
	mux.HandleFunc("GET /api/metrics", a.signedIn(x.get))
	mux.HandleFunc("GET /api/storage/usage", a.signedIn(x.usage))
}

// scopeUser is the user a request's ?scope= reads (see stats.ScopeUser).
func scopeUser(r *http.Request, sess auth.Session) (string, error) {
	return stats.ScopeUser(sess.User.ID, sess.User.IsAdmin(), r.URL.Query().Get("scope"))
}

// get answers the seed's BackupMetrics for ?period=24h|7d|30d|90d (30d when left out).
func (x *metricsAPI) get(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	user, err := scopeUser(r, sess)
	if err != nil {
		httpx.WriteError(w, r, x.log, err)
		return
	}
	m, err := x.svc.Get(r.Context(), user, r.URL.Query().Get("period"))
	if errors.Is(err, stats.ErrBadPeriod) {
		err = apperr.Invalidf("period", "%s", err.Error())
	}
	if err != nil {
		httpx.WriteError(w, r, x.log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, m)
}

// usage answers bytes and objects per destination, configuration and agent.
func (x *metricsAPI) usage(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	user, err := scopeUser(r, sess)
	if err != nil {
		httpx.WriteError(w, r, x.log, err)
		return
	}
	u, err := x.svc.Usage(r.Context(), user)
	if err != nil {
		httpx.WriteError(w, r, x.log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, u)
}
