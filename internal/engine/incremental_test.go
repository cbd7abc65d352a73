package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/testenv/wine"
)

// TestIncrementalChain changes, adds and deletes files over several runs and restores
// every point in time, which must give exactly the tree of that time: with full
// manifests in every run (as agents before deltas, and servers that do not ask for
// deltas, write them), with deltas, and with deltas continuing a chain whose first
// runs wrote full manifests (a chain started before the upgrade).
func TestIncrementalChain(t *testing.T) {
	wine.Skip(t, "the chain turns files into symbolic links, which it cannot create")
	for _, tc := range []struct {
		name      string
		deltaFrom int // first run with Delta (0: none)
	}{{"full manifests", 0}, {"deltas", 1}, {"deltas after full manifests", 2}} {
		t.Run(tc.name, func(t *testing.T) { testIncrementalChain(t, tc.deltaFrom) })
	}
}

func testIncrementalChain(t *testing.T, deltaFrom int) {
	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	genTree(t, src, treeOpts{smallFiles: 300})
	id, _ := age.GenerateX25519Identity()
	so := seal.Options{Recipients: []age.Recipient{id.Recipient()}}
	ro := engine.RestoreOptions{Identities: []age.Identity{id}}
	p := func(rel string) string { return filepath.Join(src, rel) }
	mtime := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

	changes := []func(){
		nil, // full
		func() {
			writeFile(t, p("small/d00/f00000.txt"), "changed, same size", 0o644, mtime) // content
			writeFile(t, p("new/added.txt"), "added\n", 0o600, mtime)
			must(t, os.Remove(p("small/d01/f00001.txt")))
			must(t, os.RemoveAll(p("small/d02")))
			must(t, os.Chmod(p("modes/ro"), 0o400))
			must(t, os.Remove(p("small/d03/f00003.txt")))
			must(t, os.Symlink("f00053.txt", p("small/d03/f00003.txt"))) // file → symlink
			must(t, os.Link(p("hard/a"), p("hard/d")))                   // one more link
			must(t, os.Rename(p("small/d04"), p("small/d04-renamed")))
		},
		func() {
			writeFile(t, p("new/added.txt"), "added, then grown\n", 0o600, mtime.Add(time.Hour))
			must(t, os.RemoveAll(p("hard")))
			writeFile(t, p("hard/a"), "a new file where a link was\n", 0o644, mtime)
			must(t, os.Chtimes(p("small/d05/f00005.txt"), mtime, mtime)) // touch only
			must(t, os.MkdirAll(p("small/d02"), 0o755))                  // a deleted dir comes back, empty
			must(t, os.Remove(p("small/d03/f00003.txt")))
			writeFile(t, p("small/d03/f00003.txt"), "symlink → file again", 0o644, mtime)
		},
		func() {}, // nothing changed
		func() {
			for i := range 20 {
				writeFile(t, p(fmt.Sprintf("burst/%02d", i)), strings.Repeat("b", i), 0o644, mtime)
			}
			must(t, os.RemoveAll(p("deep")))
		},
	}
	var chain []engine.ArchiveRef
	var runs []stored
	var wants []map[string]string
	var last stored
	for i, change := range changes {
		if change != nil {
			change()
		}
		wants = append(wants, describe(t, src))
		o := engine.BackupOptions{Sources: []string{src}, Seal: so, Delta: deltaFrom > 0 && i >= deltaFrom}
		if i > 0 {
			o.Previous = previousTree(t, dest, runs, ro)
		}
		last = mustBackup(t, dest, key(i, so), o)
		runs = append(runs, last)
		tr := last.res.Trailer
		t.Logf("run %d: %d entries, %d stored, %d deleted, %d bytes stored, manifest %d bytes", i, tr.Entries, tr.Stored, tr.Deleted, last.res.Archive.Size, last.res.Manifest.Size)
		if i == 3 && (tr.Stored != 0 || tr.Deleted != 0) {
			t.Errorf("run %d without changes stored %d and deleted %d entries, want 0 and 0", i, tr.Stored, tr.Deleted)
		}
		if h := last.res.Header; h.Delta != o.Delta || o.Delta && h.Base != deltaFrom-1 {
			t.Errorf("run %d: manifest delta %v on %d, want delta %v on %d", i, h.Delta, h.Base, o.Delta, deltaFrom-1)
		}
		if o.Delta && i == 3 {
			// Nothing changed: no archive, and a manifest of a few hundred bytes.
			if !last.res.NoArchive || last.res.Archive.Size != 0 {
				t.Errorf("run %d without changes: NoArchive %v, archive of %d bytes; want no archive", i, last.res.NoArchive, last.res.Archive.Size)
			}
			if _, err := dest.Stat(context.Background(), last.key); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("run %d without changes: archive object: %v, want not found", i, err)
			}
			if last.res.Manifest.Size > 1024 {
				t.Errorf("run %d without changes: manifest of %d bytes, want a few hundred", i, last.res.Manifest.Size)
			}
		} else if last.res.NoArchive {
			t.Errorf("run %d: no archive", i)
		}
		if i > 0 && tr.Stored*4 > tr.Entries {
			t.Errorf("run %d stored %d of %d entries: not incremental", i, tr.Stored, tr.Entries)
		}
		// Run 1 removed f00001, d02 with its 6 files, and renamed d04 with its 6.
		if i == 1 && tr.Deleted != 15 {
			t.Errorf("run 1 recorded %d deletions, want 15", tr.Deleted)
		}
		chain = append(chain, ref(dest, last))
	}
	for i := range chain {
		t.Run(fmt.Sprintf("point-%d", i), func(t *testing.T) {
			target := t.TempDir()
			o := ro
			o.Target, o.Chain = target, chain[:i+1]
			if _, err := engine.Restore(context.Background(), o); err != nil {
				t.Fatalf("restore: %v", err)
			}
			compareTrees(t, wants[i], describe(t, filepath.Join(target, filepath.FromSlash(scan.ArchiveName(src)))))
		})
	}
	if deltaFrom > 0 {
		// Every manifest a delta builds on is checked against its recorded SHA-256
		// before anything is written, like the last one.
		t.Run("a manifest the delta builds on is not the one recorded", func(t *testing.T) {
			bad := slices.Clone(chain)
			bad[deltaFrom].ManifestSHA256 = bad[0].ManifestSHA256
			o := ro
			o.Target, o.Chain = filepath.Join(t.TempDir(), "target"), bad
			_, err := engine.Restore(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), "nothing restored") || !strings.Contains(err.Error(), "sha256") {
				t.Errorf("got %v, want nothing restored for a sha256 mismatch", err)
			}
			if _, err := os.Stat(o.Target); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the target was created: %v", err)
			}
		})
	}
	t.Run("wrong chain", func(t *testing.T) {
		o := ro
		o.Target, o.Chain = t.TempDir(), []engine.ArchiveRef{chain[0], chain[2]}
		if _, err := engine.Restore(context.Background(), o); err == nil || !strings.Contains(err.Error(), "chain") {
			t.Errorf("got %v, want a chain mismatch", err)
		}
	})
	// The last tree holds entries of the full and the last archive.
	r := previousTree(t, dest, runs, ro)
	ins := map[int]int{}
	for {
		e, err := r.Next()
		if err != nil {
			break
		}
		if e.Type != manifest.TypeDeleted {
			ins[e.In]++
		}
	}
	if ins[0] == 0 || ins[len(chain)-1] == 0 {
		t.Errorf("entries per archive %v: want entries in the full and the last archive", ins)
	}
}

// previousTree opens the tree at the time of the last of runs: its manifest merged
// with those it builds on when it is a delta.
func previousTree(t *testing.T, dest storage.Destination, runs []stored, o engine.RestoreOptions) *manifest.Reader {
	t.Helper()
	last := runs[len(runs)-1]
	var rs []*manifest.Reader
	for _, s := range runs[last.res.Header.FullBase():] {
		rs = append(rs, previous(t, dest, s, o))
	}
	r, err := manifest.Merge(rs...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
