package agentapi

import (
	"net/http"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/store"
)

// The backup endpoints decode the agent's request, call the run lifecycle
// (internal/runs.Lifecycle) and encode its answer.

func (a *API) backupStart(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.BackupStartRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	resp, err := a.runs.Start(r.Context(), ag, req)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) backupResume(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.BackupResumeRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	resp, err := a.runs.Resume(r.Context(), ag, req)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) backupParts(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.PartsRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	resp, err := a.runs.PartURLs(r.Context(), ag, req)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) backupProgress(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.Progress
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	cancel, err := a.runs.Progress(r.Context(), ag, req)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, agentproto.ProgressResponse{Cancel: cancel})
	return nil
}

func (a *API) backupComplete(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.BackupCompleteRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	resp, err := a.runs.Complete(r.Context(), ag, req)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
	return nil
}
