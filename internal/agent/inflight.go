package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/engine/archive"
)

// inFlight is the record of a restore while it runs: the directory it writes into and
// the prefix of the temporary names it makes there.
type inFlight struct {
	Target     string    `json:"target"`
	TempPrefix string    `json:"tempPrefix"`
	Started    time.Time `json:"started"`
}

// BeginRestore records that a restore into target starts, and returns the temporary
// prefix it must use, the directory for its large temporary files and end, to call
// once the restore returned (it then removed its own temporary files). Should the
// process die first, SweepRestores removes what the restore left.
func (s *State) BeginRestore(target string) (prefix, tmpDir string, end func(), err error) {
	dir := filepath.Join(s.Dir, "restores")
	tmpDir = filepath.Join(s.Dir, "tmp")
	for _, d := range []string{dir, tmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", "", nil, fmt.Errorf("record restore: %w", err)
		}
	}
	prefix = archive.NewTempPrefix()
	rec := filepath.Join(dir, strings.Trim(strings.TrimPrefix(prefix, archive.TempPrefixBase), "-")+".json")
	b, _ := json.Marshal(inFlight{Target: target, TempPrefix: prefix, Started: time.Now().UTC()})
	if err := writeFileAtomic(rec, b, 0o600); err != nil {
		return "", "", nil, fmt.Errorf("record restore: %w", err)
	}
	return prefix, tmpDir, func() { os.Remove(rec) }, nil
}

// SweepRestores removes the temporary files of restores that were running when the
// agent last stopped without finishing them (a crash, a kill, a power cut), and the
// large manifests they downloaded. The agent calls it when it starts, before it takes
// work. It returns how many temporary entries it removed.
func (s *State) SweepRestores() (int, error) {
	dir := filepath.Join(s.Dir, "restores")
	recs, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return 0, err
	}
	removed := 0
	var errs []error
	for _, rec := range recs {
		var f inFlight
		b, err := os.ReadFile(rec)
		if err == nil {
			err = json.Unmarshal(b, &f)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("restore record %s: %w", rec, err))
			continue
		}
		n, err := archive.SweepTemp(f.Target, f.TempPrefix)
		removed += n
		if err != nil {
			errs = append(errs, fmt.Errorf("remove temporary files of the restore into %s: %w", f.Target, err))
			continue
		}
		if err := os.Remove(rec); err != nil {
			errs = append(errs, err)
		}
	}
	tmps, _ := filepath.Glob(filepath.Join(s.Dir, "tmp", "*"))
	for _, t := range tmps {
		if err := os.RemoveAll(t); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}
