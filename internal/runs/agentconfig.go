package runs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/store"
)

// AgentConfig is a stored config as the agent executes it, read by the configs
// package's one parser (configs.FromStore), so an agent's view of a config never
// differs from what the API shows and validates.
type AgentConfig struct {
	Proto         agentproto.Config
	Options       configs.Options
	DestinationID string // "" is the built-in local one
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

// ParseAgentConfig reads c as the agent executes it. A sealed passphrase stays
// sealed (Lifecycle opens it for the agent that runs the config).
func ParseAgentConfig(c store.BackupConfig) (AgentConfig, error) {
	cfg, err := configs.FromStore(c)
	if err != nil {
		return AgentConfig{}, err
	}
	out := AgentConfig{Proto: agentproto.Config{ID: c.ID, Name: c.Name, Enabled: c.Enabled},
		Options: cfg.Options, DestinationID: cfg.Destination.DestinationID}
	for _, s := range cfg.Sources {
		out.Proto.Sources = append(out.Proto.Sources, agentproto.Source{Path: s.Path,
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
	out.Proto.Options = agentproto.Options{Type: typ, Compression: codec(o.Compression), CompressionLevel: o.CompressionLevel,
		Encryption: o.Encryption, Recipients: o.Recipients, Passphrase: o.Passphrase,
		FollowSymlinks: o.FollowSymlinks, OnError: onError, Bandwidth: o.Bandwidth}
	if h := o.Hooks; h != nil {
		out.Proto.Hooks = &agentproto.Hooks{Pre: h.Pre, Post: h.Post, TimeoutSeconds: h.TimeoutSeconds}
	}
	return out, nil
}

// RunsOn reports whether agent ag runs config c: an agent-mode config assigned to it,
// or, for the server's built-in agent (internal/builtin) and only for it, a
// server-mode config of its owner (stored without an agent, or assigned to it).
func RunsOn(c store.BackupConfig, ag store.Agent) bool {
	if c.UserID != ag.UserID {
		return false
	}
	if ag.Builtin {
		return c.ExecutionMode == "server" && (c.AgentID == "" || c.AgentID == ag.ID)
	}
	return c.AgentID == ag.ID && c.ExecutionMode == "agent"
}

// AgentConfigs returns the enabled configs agent ag runs, as it executes them; a
// config it cannot use is logged and left out.
func (l *Lifecycle) AgentConfigs(ctx context.Context, ag store.Agent) ([]agentproto.Config, error) {
	cs, err := l.st.ListAgentConfigs(ctx, ag.ID)
	if err != nil {
		return nil, err
	}
	out := []agentproto.Config{}
	for _, c := range cs {
		if !c.Enabled || !RunsOn(c, ag) {
			continue
		}
		pc, err := l.agentConfig(c)
		if err != nil {
			l.log.Warn("agent configs: skipping a config the agent cannot use", "agent", ag.ID, "err", err)
			continue
		}
		out = append(out, pc.Proto)
	}
	return out, nil
}

// agentConfig parses c and opens its sealed passphrase, if any, for the agent.
func (l *Lifecycle) agentConfig(c store.BackupConfig) (AgentConfig, error) {
	pc, err := ParseAgentConfig(c)
	if err != nil || pc.Options.PassphraseSealed == "" {
		return pc, err
	}
	sealed, err := base64.StdEncoding.DecodeString(pc.Options.PassphraseSealed)
	if err != nil {
		return pc, fmt.Errorf("config %s: passphrase: %w", c.ID, err)
	}
	pass, err := l.cfg.Keys.Open(configs.PassphrasePurpose, sealed, []byte(c.ID))
	if err != nil {
		return pc, fmt.Errorf("config %s: passphrase: %w", c.ID, err)
	}
	pc.Proto.Options.Passphrase = string(pass)
	return pc, nil
}

// RestorePassphrase is the passphrase the configuration of rr's backup keeps on the
// server, opened for this one restore command; "" when the backup is not encrypted or
// the configuration keeps none, or is gone (the agent then says which key it needs).
// A database error is returned, not taken for "no passphrase": the heartbeat that
// would hand the restore out then fails (503 during an outage) and a later one hands
// it out with its passphrase, instead of an encrypted restore failing for want of a
// key it has.
func (l *Lifecycle) RestorePassphrase(ctx context.Context, rr store.Restore) (string, error) {
	run, err := l.st.GetRun(ctx, rr.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil // the agent reports the missing backup
	}
	if err != nil {
		return "", fmt.Errorf("restore %s: read its backup %s: %w", rr.ID, rr.RunID, err)
	}
	if !run.Encrypted {
		return "", nil
	}
	c, err := l.st.GetConfig(ctx, run.ConfigID)
	if errors.Is(err, store.ErrNotFound) {
		l.log.Warn("restore: the backup's configuration is gone; its passphrase cannot be sent", "restore", rr.ID, "config", run.ConfigID)
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("restore %s: read the configuration %s of its backup: %w", rr.ID, run.ConfigID, err)
	}
	pc, err := l.agentConfig(c)
	if err != nil {
		l.log.Warn("restore: the configuration's passphrase cannot be opened", "restore", rr.ID, "err", err)
		return "", nil
	}
	return pc.Proto.Options.Passphrase, nil
}

// runConfig returns config id as agent ag executes it: NotFound when it is not the
// agent's, Conflict when it cannot be read.
func (l *Lifecycle) runConfig(ctx context.Context, ag store.Agent, id string) (store.BackupConfig, AgentConfig, error) {
	cfg, err := l.st.GetConfig(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !RunsOn(cfg, ag) {
		return cfg, AgentConfig{}, configs.NotFoundError(id)
	}
	if err != nil {
		return cfg, AgentConfig{}, err
	}
	pc, err := l.agentConfig(cfg)
	if err != nil {
		return cfg, pc, apperr.Wrap(apperr.Conflict, err, "configuration %s is not valid; edit it in the web interface", cfg.ID)
	}
	return cfg, pc, nil
}
