package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/testenv/wine"
)

// TestIncrementalChain changes, adds and deletes files over several runs and restores
// every point in time, which must give exactly the tree of that time.
func TestIncrementalChain(t *testing.T) {
	wine.Skip(t, "the chain turns files into symbolic links, which it cannot create")
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
	var wants []map[string]string
	var last stored
	for i, change := range changes {
		if change != nil {
			change()
		}
		wants = append(wants, describe(t, src))
		o := engine.BackupOptions{Sources: []string{src}, Seal: so}
		if i > 0 {
			o.Previous = previous(t, dest, last, ro)
		}
		last = mustBackup(t, dest, key(i, so), o)
		tr := last.res.Trailer
		t.Logf("run %d: %d entries, %d stored, %d deleted, %d bytes stored", i, tr.Entries, tr.Stored, tr.Deleted, last.res.Archive.Size)
		if i == 3 && (tr.Stored != 0 || tr.Deleted != 0) {
			t.Errorf("run %d without changes stored %d and deleted %d entries, want 0 and 0", i, tr.Stored, tr.Deleted)
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
	t.Run("wrong chain", func(t *testing.T) {
		o := ro
		o.Target, o.Chain = t.TempDir(), []engine.ArchiveRef{chain[0], chain[2]}
		if _, err := engine.Restore(context.Background(), o); err == nil || !strings.Contains(err.Error(), "chain") {
			t.Errorf("got %v, want a chain mismatch", err)
		}
	})
	// The last manifest holds deletions and points unchanged entries at older archives.
	r := previous(t, dest, last, ro)
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

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
