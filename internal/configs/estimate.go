package configs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/agents"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/store"
)

// EstimateStore is what size estimates need from the database.
type EstimateStore interface {
	PutEstimate(ctx context.Context, e *store.Estimate) error
	ConfigEstimate(ctx context.Context, configID string) (store.Estimate, error)
	BuiltinAgents(ctx context.Context) ([]store.BuiltinAgent, error)
}

// Estimate is a configuration's latest backup size estimate as the API and pages show
// it: what a full backup would read now, from a scan of its sources (with their
// patterns) by the agent that runs it.
type Estimate struct {
	ConfigID string `json:"configId"`
	AgentID  string `json:"agentId,omitempty"`
	// Status is pending (waiting for the agent to take it), running, done or failed.
	Status string `json:"status"`
	Files  int64  `json:"files"`
	Dirs   int64  `json:"dirs"`
	Bytes  int64  `json:"bytes"` // hard-linked contents once, before compression
	// Issues counts files the agent could not read (a backup would skip them);
	// Errors names the first of them.
	Issues      int64                 `json:"issues"`
	Errors      []store.EstimateIssue `json:"errors,omitempty"`
	Error       string                `json:"error,omitempty"` // why it failed
	RequestedAt time.Time             `json:"requestedAt"`
	StartedAt   *time.Time            `json:"startedAt,omitempty"`
	FinishedAt  *time.Time            `json:"finishedAt,omitempty"`
	// Note says why a pending estimate may wait: its agent is offline.
	Note string `json:"note,omitempty"`
}

// Finished reports whether the estimate is done or failed.
func (e Estimate) Finished() bool {
	return e.Status == store.EstimateDone || e.Status == store.EstimateFailed
}

// Duration is how long the scan took, 0 while it runs.
func (e Estimate) Duration() time.Duration {
	if e.StartedAt == nil || e.FinishedAt == nil {
		return 0
	}
	return e.FinishedAt.Sub(*e.StartedAt)
}

func (s *Service) estimates() (EstimateStore, error) {
	es, ok := s.st.(EstimateStore)
	if !ok {
		return nil, errors.New("configs: the store keeps no estimates")
	}
	return es, nil
}

// runner returns the agent that runs c: its agent, or for a server-mode configuration
// its owner's built-in agent.
func (s *Service) runner(ctx context.Context, es EstimateStore, c Config) (store.Agent, error) {
	id := c.Agent()
	if c.ExecutionMode == ModeServer && id == "" {
		bs, err := es.BuiltinAgents(ctx)
		if err != nil {
			return store.Agent{}, fmt.Errorf("built-in agents: %w", err)
		}
		for _, b := range bs {
			if b.UserID == c.UserID {
				id = b.ID
			}
		}
		if id == "" {
			return store.Agent{}, apperr.New(apperr.Unavailable, "the server's built-in agent for this configuration's owner has not started yet; try again in a minute")
		}
	}
	if id == "" {
		return store.Agent{}, apperr.Invalidf("agentId", "the configuration has no agent to scan its sources; choose one and save it first")
	}
	ag, err := s.st.GetAgent(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Agent{}, apperr.Invalidf("agentId", "the configuration's agent no longer exists; choose another and save it first")
	}
	if err != nil {
		return store.Agent{}, fmt.Errorf("get agent %s: %w", id, err)
	}
	if ag.Revoked {
		return store.Agent{}, apperr.New(apperr.Conflict, "agent %q is revoked and cannot scan; enroll it again or choose another agent", ag.Name)
	}
	return ag, nil
}

// RequestEstimate asks the agent that runs configuration id to scan its sources as
// saved, replacing the previous estimate. The agent gets the request with its next
// heartbeat (at once when it long-polls this server). An offline agent's estimate
// stays pending, with a note, and runs when the agent is back.
func (s *Service) RequestEstimate(ctx context.Context, actor store.User, id string, m auth.Meta) (Estimate, error) {
	es, err := s.estimates()
	if err != nil {
		return Estimate{}, err
	}
	c, err := s.get(ctx, actor, id)
	if err != nil {
		return Estimate{}, err
	}
	ag, err := s.runner(ctx, es, c)
	if err != nil {
		return Estimate{}, err
	}
	e := store.Estimate{ConfigID: c.ID, UserID: c.UserID, AgentID: ag.ID, RequestedAt: s.now().UTC()}
	if err := es.PutEstimate(ctx, &e); err != nil {
		return Estimate{}, fmt.Errorf("ask for an estimate of config %s: %w", c.ID, err)
	}
	s.notify(ag.ID)
	s.audit(ctx, actor.ID, "config.estimate", c.ID, m, fmt.Sprintf("size estimate of %q asked of agent %q", c.Name, ag.Name))
	return s.view(e, &ag), nil
}

// GetEstimate returns configuration id's latest estimate. It is NotFound when the
// configuration is not actor's, or none was asked for yet.
func (s *Service) GetEstimate(ctx context.Context, actor store.User, id string) (Estimate, error) {
	es, err := s.estimates()
	if err != nil {
		return Estimate{}, err
	}
	c, err := s.get(ctx, actor, id)
	if err != nil {
		return Estimate{}, err
	}
	e, err := es.ConfigEstimate(ctx, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		return Estimate{}, ErrNoEstimate
	}
	if err != nil {
		return Estimate{}, fmt.Errorf("estimate of config %s: %w", c.ID, err)
	}
	var ag *store.Agent
	if !e.Finished() && e.AgentID != "" {
		if a, err := s.st.GetAgent(ctx, e.AgentID); err == nil {
			ag = &a
		}
	}
	return s.view(e, ag), nil
}

// ErrNoEstimate is GetEstimate's answer for a configuration never estimated.
var ErrNoEstimate = apperr.New(apperr.NotFound, "no size estimate of this configuration yet; ask for one with POST /api/configs/{id}/estimate")

func (s *Service) view(e store.Estimate, ag *store.Agent) Estimate {
	v := Estimate{ConfigID: e.ConfigID, AgentID: e.AgentID, Status: e.Status, Files: e.Files, Dirs: e.Dirs,
		Bytes: e.Bytes, Issues: e.Issues, Errors: e.Samples, Error: e.Error, RequestedAt: e.RequestedAt,
		StartedAt: e.StartedAt, FinishedAt: e.FinishedAt}
	if e.Status == store.EstimatePending && ag != nil && agents.State(*ag, s.now()) == store.AgentOffline {
		if ag.LastSeen == nil {
			v.Note = fmt.Sprintf("agent %q has never connected; the estimate runs when it does", ag.Name)
		} else {
			v.Note = fmt.Sprintf("agent %q is offline (last seen %s); the estimate runs when it is back", ag.Name,
				ag.LastSeen.UTC().Format("2006-01-02 15:04 MST"))
		}
	}
	return v
}
