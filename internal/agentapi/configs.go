package agentapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// configOptions is the options document of a config as far as agents need it. It
// accepts the seed's shape too (compression as a boolean).
type configOptions struct {
	Type             string            `json:"type"`
	Compression      json.RawMessage   `json:"compression"`
	CompressionLevel int               `json:"compressionLevel"`
	Encryption       bool              `json:"encryption"`
	Recipients       []string          `json:"recipients"`
	Passphrase       string            `json:"passphrase"`
	PassphraseSealed string            `json:"passphraseSealed"` // base64, sealed by internal/configs
	FollowSymlinks   bool              `json:"followSymlinks"`
	OnError          string            `json:"onError"`
	Bandwidth        int64             `json:"bandwidth"`
	FullEvery        int               `json:"fullEvery"`     // incrementals: a full backup every N runs (0: never again)
	FullEveryDays    int               `json:"fullEveryDays"` // incrementals: a full backup when the last full is N days old
	Hooks            *agentproto.Hooks `json:"hooks"`
}

func (o configOptions) compression() string {
	var s string
	if json.Unmarshal(o.Compression, &s) == nil {
		switch s {
		case storage.CompressionGzip, storage.CompressionZstd, storage.CompressionNone:
			return s
		}
		return storage.CompressionZstd
	}
	var b bool
	if json.Unmarshal(o.Compression, &b) == nil && !b {
		return storage.CompressionNone
	}
	return storage.CompressionZstd
}

// agentConfig is a stored config as the agent executes it.
type agentConfig struct {
	proto       agentproto.Config
	opts        configOptions
	destination string // destination id; "" is the built-in local one
}

func parseConfig(c store.BackupConfig) (agentConfig, error) {
	out := agentConfig{proto: agentproto.Config{ID: c.ID, Name: c.Name, Enabled: c.Enabled}}
	if err := json.Unmarshal(c.Sources, &out.proto.Sources); err != nil {
		var paths []string
		if json.Unmarshal(c.Sources, &paths) != nil {
			return out, fmt.Errorf("config %s: sources: %w", c.ID, err)
		}
		out.proto.Sources = nil
		for _, p := range paths {
			out.proto.Sources = append(out.proto.Sources, agentproto.Source{Path: p})
		}
	}
	if len(c.Options) > 0 {
		if err := json.Unmarshal(c.Options, &out.opts); err != nil {
			return out, fmt.Errorf("config %s: options: %w", c.ID, err)
		}
	}
	var dest struct {
		DestinationID string `json:"destinationId"`
	}
	if len(c.Destination) > 0 {
		if err := json.Unmarshal(c.Destination, &dest); err != nil {
			return out, fmt.Errorf("config %s: destination: %w", c.ID, err)
		}
	}
	out.destination = dest.DestinationID
	o := out.opts
	typ := o.Type
	if typ != "full" {
		typ = "incremental"
	}
	onError := o.OnError
	if onError != "fail" {
		onError = "skip"
	}
	out.proto.Options = agentproto.Options{Type: typ, Compression: o.compression(), CompressionLevel: o.CompressionLevel,
		Encryption: o.Encryption, Recipients: o.Recipients, Passphrase: o.Passphrase,
		FollowSymlinks: o.FollowSymlinks, OnError: onError, Bandwidth: o.Bandwidth}
	out.proto.Hooks = o.Hooks
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

// passphrasePurpose is the sealing purpose internal/configs uses for passphrases.
const passphrasePurpose = "config passphrase"

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
	pass, err := a.cfg.Keys.Open(passphrasePurpose, sealed, []byte(c.ID))
	if err != nil {
		return pc, fmt.Errorf("config %s: passphrase: %w", c.ID, err)
	}
	pc.proto.Options.Passphrase = string(pass)
	return pc, nil
}
