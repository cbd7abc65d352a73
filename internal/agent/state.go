package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/backapp/backapp/internal/engine/manifest"
)

// State is the agent's local state directory:
//
//	status.json                        last heartbeat and its outcome (for `status`)
//	configs/{configId}/catalog.zst     manifest of the config's last completed run (zstd, not encrypted)
//	configs/{configId}/previous.json   which run that manifest belongs to
//	restores/{id}.json                 restores in flight: target, temporary prefix (BeginRestore)
//	tmp/                               large manifests of running restores
//
// The catalog copy is what the next incremental compares against; with age recipients
// the agent could not decrypt the stored manifest itself.
type State struct {
	Dir string
}

// OpenState creates dir (0700) if needed; one that exists with a mode that lets its
// group or others in is made 0700 (said in log; nil is slog.Default()), since the
// catalogs in it list every file name backed up and its checkpoints say where runs
// stand. On Windows it gives dir the protected ACL agent.json's directory has
// (makePrivate), inherited by what is created in it: the default state directory lies
// in the configuration directory and inherits it, but one given with --state-dir
// would otherwise inherit its parent's.
func OpenState(dir string, log *slog.Logger) (*State, error) {
	if dir == "" {
		return nil, errors.New("state directory is empty")
	}
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(filepath.Join(dir, "configs"), 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	was, changed, err := tightenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if changed {
		log.Warn("state directory was open to other users; made it private", "dir", dir,
			"was", fmt.Sprintf("%#o", was), "now", "0700")
	}
	if err := makePrivate(dir, true); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	return &State{Dir: dir}, nil
}

var safeID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

func (s *State) configDir(id string) (string, error) {
	if !safeID.MatchString(id) || id == "." || id == ".." {
		return "", fmt.Errorf("config id %q is not a valid id", id)
	}
	d := filepath.Join(s.Dir, "configs", id)
	return d, os.MkdirAll(d, 0o700)
}

// Previous names the run whose manifest the state holds for a config.
type Previous struct {
	RunID      string    `json:"runId"`
	ArchiveKey string    `json:"archiveKey,omitempty"`
	Time       time.Time `json:"time"`
}

// Previous returns what the state holds for configID; ok is false when nothing.
func (s *State) Previous(configID string) (p Previous, ok bool) {
	d, err := s.configDir(configID)
	if err != nil {
		return p, false
	}
	b, err := os.ReadFile(filepath.Join(d, "previous.json"))
	if err != nil || json.Unmarshal(b, &p) != nil || p.RunID == "" {
		return Previous{}, false
	}
	if _, err := os.Stat(filepath.Join(d, "catalog.zst")); err != nil {
		return Previous{}, false
	}
	return p, true
}

// CatalogTemp creates a temporary file for a run's catalog; KeepCatalog moves it into
// place once the run is completed, DiscardCatalog removes it otherwise.
func (s *State) CatalogTemp(configID string) (*os.File, error) {
	d, err := s.configDir(configID)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(d, "catalog-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create catalog file: %w", err)
	}
	return f, nil
}

// DiscardCatalog closes and removes a temporary catalog.
func (s *State) DiscardCatalog(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

// KeepCatalog makes the temporary catalog f the config's previous manifest for p.
func (s *State) KeepCatalog(configID string, f *os.File, p Previous) error {
	d, err := s.configDir(configID)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		s.DiscardCatalog(f)
		return fmt.Errorf("save catalog: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save catalog: %w", err)
	}
	// previous.json is removed first and written last, so a crash in between leaves no
	// state rather than a catalog attributed to the wrong run.
	os.Remove(filepath.Join(d, "previous.json"))
	if err := os.Rename(f.Name(), filepath.Join(d, "catalog.zst")); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save catalog: %w", err)
	}
	b, _ := json.Marshal(p)
	if err := writeFileAtomic(filepath.Join(d, "previous.json"), b, 0o600); err != nil {
		return fmt.Errorf("save catalog: %w", err)
	}
	return nil
}

// OpenCatalog opens the config's previous manifest. The caller closes the closer.
func (s *State) OpenCatalog(configID string) (*manifest.Reader, io.Closer, error) {
	d, err := s.configDir(configID)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(filepath.Join(d, "catalog.zst"))
	if err != nil {
		return nil, nil, fmt.Errorf("open previous manifest: %w", err)
	}
	zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open previous manifest: %w", err)
	}
	r, err := manifest.NewReader(zr)
	if err != nil {
		zr.Close()
		f.Close()
		return nil, nil, fmt.Errorf("open previous manifest %s: %w", f.Name(), err)
	}
	return r, closeFunc(func() error { zr.Close(); return f.Close() }), nil
}

type closeFunc func() error

func (f closeFunc) Close() error { return f() }

// Status is what the daemon last learnt, for `backapp-agent status`.
type Status struct {
	PID           int       `json:"pid"`
	LastHeartbeat time.Time `json:"lastHeartbeat,omitzero"` // last one the server answered
	LastAttempt   time.Time `json:"lastAttempt,omitzero"`
	LastError     string    `json:"lastError,omitempty"`
	Running       []string  `json:"running,omitempty"`
}

// SaveStatus writes status.json.
func (s *State) SaveStatus(st Status) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	return writeFileAtomic(filepath.Join(s.Dir, "status.json"), b, 0o600)
}

// LoadStatus reads status.json; ok is false when the daemon never wrote one.
func (s *State) LoadStatus() (st Status, ok bool) {
	b, err := os.ReadFile(filepath.Join(s.Dir, "status.json"))
	if err != nil || json.Unmarshal(b, &st) != nil {
		return Status{}, false
	}
	return st, true
}
