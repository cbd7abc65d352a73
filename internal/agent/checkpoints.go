package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/engine"
)

// RunCheckpoint is what the agent keeps of a backup it is executing, so that it can
// resume the run after a restart: the run as the server opened it, and the engine's
// last durable checkpoint. It lives in the state directory as
// runs/{runId}/checkpoint.json (mode 0600) beside the run's manifest spool
// runs/{runId}/manifest.zst. It holds the configuration as the server sent it, so it
// may hold an encryption passphrase, and the engine's checkpoint of an encrypted run
// holds the archive's payload key (engine.Checkpoint.Age); the directory is the agent's
// own (0700) and the run's directory is removed when the run ends.
type RunCheckpoint struct {
	ConfigID string                         `json:"configId"`
	Start    agentproto.BackupStartResponse `json:"start"`
	Started  time.Time                      `json:"started"`
	Engine   engine.Checkpoint              `json:"engine"`
}

func (s *State) runDir(runID string) (string, error) {
	if !safeID.MatchString(runID) || runID == "." || runID == ".." {
		return "", fmt.Errorf("run id %q is not a valid id", runID)
	}
	return filepath.Join(s.Dir, "runs", runID), nil
}

// RunSpool opens (creating it and its directory) the manifest spool of run runID.
func (s *State) RunSpool(runID string) (*os.File, error) {
	d, err := s.runDir(runID)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, fmt.Errorf("create run state: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(d, "manifest.zst"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open manifest spool: %w", err)
	}
	return f, nil
}

// SaveCheckpoint stores c durably (temporary file, fsync, rename, directory fsync).
func (s *State) SaveCheckpoint(c RunCheckpoint) error {
	d, err := s.runDir(c.Start.RunID)
	if err != nil {
		return err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(d, "checkpoint.json"), b, 0o600); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if dir, err := os.Open(d); err == nil { // the rename itself durable (not on Windows)
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}

// Checkpoints returns the runs with a saved checkpoint. A run directory without a
// readable checkpoint (killed before its first part was stored) is removed.
func (s *State) Checkpoints() []RunCheckpoint {
	ents, _ := os.ReadDir(filepath.Join(s.Dir, "runs"))
	var out []RunCheckpoint
	for _, e := range ents {
		var c RunCheckpoint
		b, err := os.ReadFile(filepath.Join(s.Dir, "runs", e.Name(), "checkpoint.json"))
		if err != nil || json.Unmarshal(b, &c) != nil || c.Start.RunID != e.Name() {
			s.DropRun(e.Name())
			continue
		}
		out = append(out, c)
	}
	return out
}

// DropRun removes what the state holds of run runID.
func (s *State) DropRun(runID string) {
	if d, err := s.runDir(runID); err == nil {
		os.RemoveAll(d)
	}
}
