package agentapi

import (
	"net/http"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/store"
)

// configs lists the configs the agent runs (runs.Lifecycle.AgentConfigs).
func (a *API) configs(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	cs, err := a.runs.AgentConfigs(r.Context(), ag)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, agentproto.ConfigsResponse{Configs: cs})
	return nil
}
