package agentapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/store"
)

// putCatalog stores the catalog of a run of this agent (runs.Lifecycle.PutCatalog).
func (a *API) putCatalog(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	read := func() ([]byte, error) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxCatalogBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return nil, apperr.New(apperr.TooLarge, "catalog is larger than the limit of %d bytes", a.cfg.MaxCatalogBytes)
			}
			return nil, apperr.Wrap(apperr.Invalid, err, "read the catalog")
		}
		return body, nil
	}
	if err := a.runs.PutCatalog(r.Context(), ag, r.URL.Query().Get("runId"), read); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getCatalog returns the catalog of a completed run the agent may read
// (runs.Lifecycle.Catalog).
func (a *API) getCatalog(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	plain, err := a.runs.Catalog(r.Context(), ag, r.URL.Query().Get("runId"), a.cfg.MaxCatalogBytes)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/zstd")
	w.Header().Set("Content-Length", strconv.Itoa(len(plain)))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(plain)
	return nil
}
