package agentapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/store"
)

// estimateCommands hands the agent its pending size estimates, each once (marked
// running first), with the config as it is saved now. An agent without
// FeatureEstimate (older than estimates) never gets the command, which it would
// ignore: its estimates fail at once with what to do about it.
func (a *API) estimateCommands(ctx context.Context, ag store.Agent, es store.Estimates, cmds []agentproto.Command, canEstimate bool) ([]agentproto.Command, error) {
	pending, err := es.PendingEstimates(ctx, ag.ID)
	if err != nil {
		return nil, err
	}
	for _, e := range pending {
		if e.UserID != ag.UserID {
			continue
		}
		fail := func(msg string) error {
			err := es.FinishEstimate(ctx, e.ID, store.EstimateResult{Status: store.EstimateFailed, Error: msg, At: a.now()})
			if err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return nil
		}
		if !canEstimate {
			v := ag.Version
			if v == "" {
				v = "unknown"
			}
			if err := fail(fmt.Sprintf("agent %q (version %s) is too old to estimate backup sizes; update it to the server's version", ag.Name, v)); err != nil {
				return nil, err
			}
			continue
		}
		spec, msg, err := a.estimateSpec(ctx, ag, e)
		if err != nil {
			return nil, err
		}
		if msg != "" {
			if err := fail(msg); err != nil {
				return nil, err
			}
			continue
		}
		if err := es.StartEstimate(ctx, e.ID, a.now()); errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			continue // taken by another heartbeat, or replaced meanwhile
		} else if err != nil {
			return nil, err
		}
		cmds = append(cmds, agentproto.Command{Type: agentproto.CommandEstimate, ConfigID: e.ConfigID, Estimate: &spec})
	}
	return cmds, nil
}

// estimateSpec is the command for estimate e; msg says why there is none (the
// config changed hands or cannot be read), err is a database failure.
func (a *API) estimateSpec(ctx context.Context, ag store.Agent, e store.Estimate) (spec agentproto.EstimateSpec, msg string, err error) {
	c, err := a.st.GetConfig(ctx, e.ConfigID)
	if errors.Is(err, store.ErrNotFound) {
		return spec, "the configuration was deleted", nil
	}
	if err != nil {
		return spec, "", err
	}
	if !runs.RunsOn(c, ag) {
		return spec, "the configuration is no longer run by this agent; ask for a new estimate", nil
	}
	pc, err := runs.ParseAgentConfig(c)
	if err != nil {
		a.log.Warn("estimate: unreadable configuration", "config", c.ID, "err", err)
		return spec, "the configuration cannot be read: " + err.Error(), nil
	}
	cfg := pc.Proto
	// A scan needs no secret.
	cfg.Options.Passphrase, cfg.Options.Recipients = "", nil
	return agentproto.EstimateSpec{EstimateID: e.ID, Config: cfg}, "", nil
}

// maxEstimateSamples caps the unreadable files an estimate keeps.
const maxEstimateSamples = 20

// estimateDone records an estimate's outcome.
func (a *API) estimateDone(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.EstimateCompleteRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	es, ok := a.st.(store.Estimates)
	if !ok {
		return apperr.New(apperr.NotFound, "this server keeps no estimates")
	}
	e, err := es.GetEstimate(r.Context(), req.EstimateID)
	if errors.Is(err, store.ErrNotFound) || err == nil && (e.AgentID != ag.ID || e.UserID != ag.UserID) {
		return apperr.New(apperr.NotFound, "no estimate %q of this agent (a newer one may have replaced it)", clip(req.EstimateID, 64))
	}
	if err != nil {
		return err
	}
	res := store.EstimateResult{Status: req.Status, Error: clip(req.Error, 4<<10), Files: max(req.Files, 0),
		Dirs: max(req.Dirs, 0), Bytes: max(req.Bytes, 0), Issues: max(req.Issues, 0), At: a.now()}
	switch req.Status {
	case agentproto.EstimateDone:
	case agentproto.EstimateFailed:
		if res.Error == "" {
			res.Error = "the agent reported a failure without a reason"
		}
	default:
		return apperr.Invalidf("status", "status must be done or failed, not %q", clip(req.Status, 16))
	}
	for i, fe := range req.Errors {
		if i == maxEstimateSamples {
			break
		}
		res.Samples = append(res.Samples, store.EstimateIssue{Path: clip(fe.Path, 1024), Message: clip(fe.Message, 1024)})
	}
	if err := es.FinishEstimate(r.Context(), e.ID, res); err != nil && !errors.Is(err, store.ErrConflict) { // a repeated report changes nothing
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
