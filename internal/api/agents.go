package api

import (
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/backapp/backapp/internal/agents"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/httpx"
)

// AgentsAPI serves /api/agents…: people managing their agents (the agents' own
// endpoints are under /api/agent/, in internal/agentapi).
type AgentsAPI struct {
	svc *agents.Service
	log *slog.Logger
}

// NewAgents returns the agent-management endpoints.
func NewAgents(svc *agents.Service, log *slog.Logger) *AgentsAPI {
	if log == nil {
		log = slog.Default()
	}
	return &AgentsAPI{svc: svc, log: log}
}

// Register adds the routes to mux.
func (a *AgentsAPI) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/agents", a.signedIn(a.list))
	mux.HandleFunc("POST /api/agents", a.signedIn(a.create))
	mux.HandleFunc("GET /api/agents/{id}", a.signedIn(a.get))
	mux.HandleFunc("PATCH /api/agents/{id}", a.signedIn(a.update))
	mux.HandleFunc("DELETE /api/agents/{id}", a.signedIn(a.delete))
	mux.HandleFunc("POST /api/agents/{id}/rotate-key", a.signedIn(a.rotateKey))
	mux.HandleFunc("POST /api/agents/{id}/revoke", a.signedIn(a.revoke))
	mux.HandleFunc("GET /api/agents/{id}/logs", a.signedIn(a.logs))
}

func (a *AgentsAPI) signedIn(h func(http.ResponseWriter, *http.Request, auth.Session)) http.HandlerFunc {
	return requireSession(a.log, h)
}

func (a *AgentsAPI) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpx.WriteError(w, r, a.log, err)
}

// Agent is the API's view of an agent. It never includes the key or its hash.
type Agent struct {
	ID         string      `json:"id"`
	UserID     string      `json:"userId"`
	Owner      string      `json:"owner,omitempty"` // owner's e-mail, in administrators' lists
	Name       string      `json:"name"`
	Status     string      `json:"status"` // online | offline | error, computed now
	Revoked    bool        `json:"revoked"`
	KeyPrefix  string      `json:"keyPrefix"` // identifies the key: its first characters
	Platform   string      `json:"platform"`
	Arch       string      `json:"arch"`
	Version    string      `json:"version"`
	Hostname   string      `json:"hostname"`
	LastSeen   *time.Time  `json:"lastSeen"`
	EnrolledAt *time.Time  `json:"enrolledAt"`
	LastBackup *LastBackup `json:"lastBackup"`
	CreatedAt  time.Time   `json:"createdAt"`
	UpdatedAt  time.Time   `json:"updatedAt"`
}

// LastBackup summarises an agent's newest run.
type LastBackup struct {
	ID        string     `json:"id"`
	ConfigID  string     `json:"configId"`
	Status    string     `json:"status"`
	StartTime time.Time  `json:"startTime"`
	EndTime   *time.Time `json:"endTime"`
}

func agentJSON(v agents.Agent) Agent {
	out := Agent{
		ID: v.ID, UserID: v.UserID, Owner: v.Owner, Name: v.Name, Status: v.State, Revoked: v.Revoked,
		KeyPrefix: v.KeyPrefix, Platform: v.Platform, Arch: v.Arch, Version: v.Version, Hostname: v.Hostname,
		LastSeen: v.LastSeen, EnrolledAt: v.EnrolledAt, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt,
	}
	if r := v.LastRun; r != nil {
		out.LastBackup = &LastBackup{ID: r.ID, ConfigID: r.ConfigID, Status: r.Status, StartTime: r.StartTime, EndTime: r.EndTime}
	}
	return out
}

// agentWithKey answers registration and key rotation: the only responses that ever
// carry a key.
type agentWithKey struct {
	Agent
	APIKey         string `json:"apiKey"`
	EnrollCommand  string `json:"enrollCommand"`
	InstallCommand string `json:"installCommand"`
	// Setup holds the commands per platform: the agent's own once it reported one,
	// else Linux, macOS and Windows (whose commands differ: no sudo, an elevated prompt).
	Setup []setupJSON `json:"setup"`
}

type setupJSON struct {
	Platform       string `json:"platform"` // linux, darwin, windows
	Where          string `json:"where"`
	EnrollCommand  string `json:"enrollCommand"`
	InstallCommand string `json:"installCommand"`
}

func withKey(c agents.Created) agentWithKey {
	out := agentWithKey{Agent: agentJSON(c.Agent), APIKey: c.Key, EnrollCommand: c.EnrollCommand, InstallCommand: c.InstallCommand}
	for _, s := range c.Setups {
		out.Setup = append(out.Setup, setupJSON{Platform: s.Platform, Where: s.Where, EnrollCommand: s.EnrollCommand, InstallCommand: s.InstallCommand})
	}
	return out
}

type agentInput struct {
	Name *string `json:"name"`
}

// name returns the name sent, or an error naming the missing field.
func (in agentInput) name() (string, error) {
	if in.Name == nil {
		return "", apperr.Invalidf("name", `"name" is required: the agent's name, such as the machine's name`)
	}
	return *in.Name, nil
}

func (a *AgentsAPI) list(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	vs, err := a.svc.List(r.Context(), sess.User)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]Agent, len(vs))
	for i, v := range vs {
		out[i] = agentJSON(v)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"agents": out})
}

func (a *AgentsAPI) create(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var in agentInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	name, err := in.name()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.svc.Create(r.Context(), sess.User, name, meta(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/agents/"+url.PathEscape(c.Agent.ID))
	httpx.WriteJSON(w, http.StatusCreated, withKey(c))
}

func (a *AgentsAPI) get(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	v, err := a.svc.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, agentJSON(v))
}

func (a *AgentsAPI) update(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	// Look the agent up first, so another user's id is 404 whatever the body says.
	if _, err := a.svc.Get(r.Context(), sess.User, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	var in agentInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	name, err := in.name()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v, err := a.svc.Rename(r.Context(), sess.User, r.PathValue("id"), name, meta(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, agentJSON(v))
}

func (a *AgentsAPI) rotateKey(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	c, err := a.svc.RotateKey(r.Context(), sess.User, r.PathValue("id"), meta(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, withKey(c))
}

func (a *AgentsAPI) revoke(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	v, err := a.svc.Revoke(r.Context(), sess.User, r.PathValue("id"), meta(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, agentJSON(v))
}

func (a *AgentsAPI) delete(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if err := a.svc.Delete(r.Context(), sess.User, r.PathValue("id"), meta(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// AgentLog is one log line.
type AgentLog struct {
	ID        string            `json:"id"`
	Level     string            `json:"level"`
	Message   string            `json:"message"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Timestamp time.Time         `json:"timestamp"`
}

func (a *AgentsAPI) logs(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	id := r.PathValue("id")
	// 404 for an agent the caller cannot see comes before complaints about the query.
	if _, err := a.svc.Get(r.Context(), sess.User, id); err != nil {
		a.fail(w, r, err)
		return
	}
	q, err := agents.ParseLogQuery(r.URL.Query())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	pg, err := a.svc.Logs(r.Context(), sess.User, id, q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := struct {
		Logs []AgentLog `json:"logs"`
		// Next is the URL of the next (older) page when there is one.
		Next string `json:"next,omitempty"`
	}{Logs: make([]AgentLog, len(pg.Lines))}
	for i, l := range pg.Lines {
		out.Logs[i] = AgentLog{ID: l.ID, Level: l.Level, Message: l.Message, Metadata: l.Metadata, Timestamp: l.Timestamp}
	}
	if !pg.Next.IsZero() {
		next := q
		next.Until = pg.Next
		out.Next = "/api/agents/" + url.PathEscape(id) + "/logs?" + next.Values().Encode()
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
