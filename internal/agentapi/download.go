package agentapi

import (
	"net/http"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/store"
)

// download answers a restore with the chain of archives to read
// (runs.Lifecycle.Download).
func (a *API) download(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	q := r.URL.Query()
	var pit *time.Time
	if s := q.Get("pointInTime"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return apperr.Invalidf("pointInTime", "pointInTime must be an RFC 3339 time such as 2025-03-14T15:09:26Z")
		}
		pit = &t
	}
	out, err := a.runs.Download(r.Context(), ag, q.Get("runId"), pit)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
