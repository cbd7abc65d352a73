package agentapi

import (
	"encoding/base64"
	"fmt"
	"net/http"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/store"
)

// agentConfig is a stored config as the agent executes it, read by the configs
// package's one parser (configs.FromStore), so an agent's view of a config never
// differs from what the API shows and validates.
type agentConfig struct {
	proto       agentproto.Config
	opts        configs.Options
	destination string // destination id; "" is the built-in local one
}

// codec is the engine's name for a stored compression; anything unknown (or unset)
// is zstd, the default.
func codec(c configs.Codec) string {
	switch s := string(c); s {
	case configs.CompressionGzip, configs.CompressionZstd, configs.CompressionNone:
		return s
	}
	return configs.CompressionZstd
}

func parseConfig(c store.BackupConfig) (agentConfig, error) {
	cfg, err := configs.FromStore(c)
	if err != nil {
		return agentConfig{}, err
	}
	out := agentConfig{proto: agentproto.Config{ID: c.ID, Name: c.Name, Enabled: c.Enabled},
		opts: cfg.Options, destination: cfg.Destination.DestinationID}
	for _, s := range cfg.Sources {
		out.proto.Sources = append(out.proto.Sources, agentproto.Source{Path: s.Path,
			IncludePatterns: s.IncludePatterns, ExcludePatterns: s.ExcludePatterns})
	}
	o := cfg.Options
	typ := o.Type
	if typ != configs.TypeFull {
		typ = configs.TypeIncremental
	}
	onError := o.OnError
	if onError != "fail" {
		onError = "skip"
	}
	out.proto.Options = agentproto.Options{Type: typ, Compression: codec(o.Compression), CompressionLevel: o.CompressionLevel,
		Encryption: o.Encryption, Recipients: o.Recipients, Passphrase: o.Passphrase,
		FollowSymlinks: o.FollowSymlinks, OnError: onError, Bandwidth: o.Bandwidth}
	if h := o.Hooks; h != nil {
		out.proto.Hooks = &agentproto.Hooks{Pre: h.Pre, Post: h.Post, TimeoutSeconds: h.TimeoutSeconds}
	}
	return out, nil
}

// ownConfig reports whether ag runs c: an agent-mode config assigned to it, or, for
// the server's built-in agent (internal/builtin) and only for it, a server-mode
// config of its owner (stored without an agent, or assigned to it).
func ownConfig(c store.BackupConfig, ag store.Agent) bool {
	if c.UserID != ag.UserID {
		return false
	}
	if ag.Builtin {
		return c.ExecutionMode == "server" && (c.AgentID == "" || c.AgentID == ag.ID)
	}
	return c.AgentID == ag.ID && c.ExecutionMode == "agent"
}

func (a *API) configs(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	cs, err := a.st.ListAgentConfigs(r.Context(), ag.ID)
	if err != nil {
		return err
	}
	out := agentproto.ConfigsResponse{Configs: []agentproto.Config{}}
	for _, c := range cs {
		if !c.Enabled || !ownConfig(c, ag) {
			continue
		}
		pc, err := a.agentConfig(c)
		if err != nil {
			a.log.Warn("agent configs: skipping a config the agent cannot use", "agent", ag.ID, "err", err)
			continue
		}
		out.Configs = append(out.Configs, pc.proto)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// agentConfig parses c and opens its sealed passphrase, if any, for the agent.
func (a *API) agentConfig(c store.BackupConfig) (agentConfig, error) {
	pc, err := parseConfig(c)
	if err != nil || pc.opts.PassphraseSealed == "" {
		return pc, err
	}
	sealed, err := base64.StdEncoding.DecodeString(pc.opts.PassphraseSealed)
	if err != nil {
		return pc, fmt.Errorf("config %s: passphrase: %w", c.ID, err)
	}
	pass, err := a.cfg.Keys.Open(configs.PassphrasePurpose, sealed, []byte(c.ID))
	if err != nil {
		return pc, fmt.Errorf("config %s: passphrase: %w", c.ID, err)
	}
	pc.proto.Options.Passphrase = string(pass)
	return pc, nil
}
