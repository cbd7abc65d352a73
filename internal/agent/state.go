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
	"github.com/backapp/backapp/internal/engine/seal"
)

// State is the agent's local state directory:
//
//	status.json                        last heartbeat and its outcome (for `status`)
//	configs/{configId}/catalog.zst     the tree at a completed run of the config (a manifest, zstd, not encrypted)
//	configs/{configId}/delta-{runId}.zst  the delta manifests of the runs since, oldest first
//	configs/{configId}/previous.json   which run the tree with its deltas is of, and the deltas
//	restores/{id}.json                 restores in flight: target, temporary prefix (BeginRestore)
//	tmp/                               large manifests of running restores
//
// The catalog copy is what the next incremental compares against; with age recipients
// the agent could not decrypt the stored manifest itself. An incremental whose
// manifest is a delta adds its delta file (an unchanged run: a few hundred bytes);
// OpenCatalog merges them with the tree, and KeepDelta folds them into a new tree
// once there are maxDeltas of them or they weigh a quarter of the tree (and 1 MiB).
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
	// Deltas are the delta files kept since catalog.zst, oldest first.
	Deltas []string `json:"deltas,omitempty"`
}

// maxDeltas is how many delta files the state keeps before it folds them into the tree.
const maxDeltas = 16

var safeDelta = regexp.MustCompile(`^delta-[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\.zst$`)

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
	for _, f := range p.Deltas {
		if !safeDelta.MatchString(f) {
			return Previous{}, false
		}
		if _, err := os.Stat(filepath.Join(d, f)); err != nil {
			return Previous{}, false
		}
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
	if old, err := filepath.Glob(filepath.Join(d, "delta-*.zst")); err == nil {
		for _, x := range old {
			os.Remove(x)
		}
	}
	p.Deltas = nil
	b, _ := json.Marshal(p)
	if err := writeFileAtomic(filepath.Join(d, "previous.json"), b, 0o600); err != nil {
		return fmt.Errorf("save catalog: %w", err)
	}
	return nil
}

// KeepDelta adds the delta manifest f (zstd) of run p, an incremental on the run the
// state holds, to the config's previous tree. Once there are maxDeltas of them, or
// they weigh a quarter of the tree (and over 1 MiB), they are folded into a new tree.
func (s *State) KeepDelta(configID string, f *os.File, p Previous) error {
	d, err := s.configDir(configID)
	if err != nil {
		s.DiscardCatalog(f)
		return err
	}
	old, ok := s.Previous(configID)
	if !ok {
		s.DiscardCatalog(f)
		return errors.New("save delta: the state holds no tree to add it to")
	}
	name := "delta-" + p.RunID + ".zst"
	if !safeDelta.MatchString(name) {
		s.DiscardCatalog(f)
		return fmt.Errorf("save delta: run id %q is not a valid id", p.RunID)
	}
	if err := f.Sync(); err != nil {
		s.DiscardCatalog(f)
		return fmt.Errorf("save delta: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save delta: %w", err)
	}
	os.Remove(filepath.Join(d, "previous.json"))
	if err := os.Rename(f.Name(), filepath.Join(d, name)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save delta: %w", err)
	}
	p.Deltas = append(old.Deltas, name)
	b, _ := json.Marshal(p)
	if err := writeFileAtomic(filepath.Join(d, "previous.json"), b, 0o600); err != nil {
		return fmt.Errorf("save delta: %w", err)
	}
	var weight int64
	for _, x := range p.Deltas {
		if fi, err := os.Stat(filepath.Join(d, x)); err == nil {
			weight += fi.Size()
		}
	}
	tree, err := os.Stat(filepath.Join(d, "catalog.zst"))
	if len(p.Deltas) < maxDeltas && (err != nil || weight < 1<<20 || weight*4 < tree.Size()) {
		return nil
	}
	return s.fold(configID, p)
}

// fold writes the tree with its deltas merged as the new catalog.zst.
func (s *State) fold(configID string, p Previous) error {
	out, err := s.CatalogTemp(configID)
	if err != nil {
		return err
	}
	mr, c, err := s.OpenCatalog(configID)
	if err != nil {
		s.DiscardCatalog(out)
		return err
	}
	err = writeTree(out, mr)
	c.Close() // before the files are replaced (Windows)
	if err != nil {
		s.DiscardCatalog(out)
		return fmt.Errorf("fold deltas: %w", err)
	}
	return s.KeepCatalog(configID, out, p)
}

// writeTree writes what mr reads to w as a manifest (zstd), with mr's header.
func writeTree(w io.Writer, mr *manifest.Reader) error {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(seal.StreamWindow), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return err
	}
	mw, err := manifest.NewWriter(zw, mr.Header)
	if err != nil {
		return err
	}
	for {
		e, err := mr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := mw.Add(e); err != nil {
			return err
		}
	}
	if err := mw.Close(*mr.Trailer); err != nil {
		return err
	}
	return zw.Close()
}

// OpenCatalog opens the tree at the config's previous run: its kept tree merged with
// the deltas since (manifest.Merge). The caller closes the closer.
func (s *State) OpenCatalog(configID string) (*manifest.Reader, io.Closer, error) {
	d, err := s.configDir(configID)
	if err != nil {
		return nil, nil, err
	}
	p, _ := s.Previous(configID)
	files := []string{"catalog.zst"}
	files = append(files, p.Deltas...)
	var rs []*manifest.Reader
	var cs []io.Closer
	closeAll := closeFunc(func() error {
		for _, c := range cs {
			c.Close()
		}
		return nil
	})
	for _, name := range files {
		r, c, err := openManifestFile(filepath.Join(d, name))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		rs, cs = append(rs, r), append(cs, c)
	}
	mr, err := manifest.Merge(rs...)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("open previous manifest: %w", err)
	}
	return mr, closeAll, nil
}

func openManifestFile(name string) (*manifest.Reader, io.Closer, error) {
	f, err := os.Open(name)
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
