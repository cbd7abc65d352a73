package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/storage/s3test"
)

// countingIdentity counts the scrypt runs of a passphrase identity: one per unwrap of
// a header with an scrypt stanza, by its salt (each stored object has its own).
type countingIdentity struct {
	id    age.Identity
	mu    sync.Mutex
	salts map[string]int
}

func (c *countingIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, s := range stanzas {
		if s.Type == "scrypt" && len(s.Args) > 0 {
			c.mu.Lock()
			c.salts[s.Args[0]]++
			c.mu.Unlock()
		}
	}
	return c.id.Unwrap(stanzas)
}

// runs returns the scrypt runs counted since the last call, and the objects unwrapped
// more than once.
func (c *countingIdentity) runs() (n int, twice int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.salts {
		n += k
		if k > 1 {
			twice++
		}
	}
	clear(c.salts)
	return n, twice
}

// scryptWorkFactor is the cost of the passphrase in TestRestoreUnwrapsEachObjectOnce:
// 2^10 unless BACKAPP_TEST_SCRYPT_WORK_FACTOR says (18, age's default, to time it).
func scryptWorkFactor(t *testing.T) int {
	s := os.Getenv("BACKAPP_TEST_SCRYPT_WORK_FACTOR")
	if s == "" {
		return 10
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 22 {
		t.Fatalf("BACKAPP_TEST_SCRYPT_WORK_FACTOR=%q: want 1–22", s)
	}
	return n
}

// TestRestoreUnwrapsEachObjectOnce restores a passphrase-encrypted chain (a full run and
// three incrementals with delta manifests, each archive holding files of the last
// tree) in several ways, and counts the scrypt runs: one per object read (each
// manifest of the tree and each archive), however often the restore reads the
// manifests (once to check the chain, once per archive, again for hard link targets
// of a subset, again to say what a failed restore left out).
func TestRestoreUnwrapsEachObjectOnce(t *testing.T) {
	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	const pass = "correct horse battery staple"
	so := seal.Options{Passphrase: pass, ScryptWorkFactor: scryptWorkFactor(t)}
	passID, err := seal.PassphraseIdentity(pass)
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingIdentity{id: passID, salts: map[string]int{}}
	ro := engine.RestoreOptions{Identities: []age.Identity{counter}}
	p := func(rel string) string { return filepath.Join(src, rel) }
	mtime := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	changes := []func(){
		func() {
			writeFile(t, p("full/a.txt"), "in the full run\n", 0o644, mtime)
			writeFile(t, p("hard/a"), "linked\n", 0o644, mtime)
			must(t, os.Link(p("hard/a"), p("hard/b")))
		},
		func() { writeFile(t, p("one/b.txt"), "in run 1\n", 0o644, mtime) },
		func() {
			writeFile(t, p("two/c.txt"), "in run 2\n", 0o644, mtime)
			must(t, os.Remove(p("full/a.txt")))
		},
		func() { writeFile(t, p("three/d.txt"), "in run 3\n", 0o644, mtime) },
	}
	var chain []engine.ArchiveRef
	var runs []stored
	var wants []map[string]string
	for i, change := range changes {
		change()
		wants = append(wants, describe(t, src))
		o := engine.BackupOptions{Sources: []string{src}, Seal: so, Delta: i > 0}
		if i > 0 {
			o.Previous = previousTree(t, dest, runs, engine.RestoreOptions{Identities: []age.Identity{passID}})
		}
		s := mustBackup(t, dest, key(i, so), o)
		runs = append(runs, s)
		chain = append(chain, ref(dest, s))
	}
	if h := runs[3].res.Header; !h.Delta || h.Base != 0 {
		t.Fatalf("last manifest: delta %v on %d, want a delta on the full run", h.Delta, h.Base)
	}
	counter.runs()

	tree := filepath.FromSlash(scan.ArchiveName(src))
	for _, tc := range []struct {
		name    string
		chain   []engine.ArchiveRef
		include []string
		fail    bool
		want    int // scrypt runs: the tree's manifests and the archives read
	}{
		{name: "last point", chain: chain, want: 4 + 4},
		{name: "earlier point", chain: chain[:3], want: 3 + 3},
		// hard/b's link target hard/a is restored too, found in one more pass over the
		// tree; only the full archive holds either.
		{name: "subset with a hard link", chain: chain, include: []string{scan.ArchiveName(src) + "/hard/b"}, want: 4 + 1},
		// The last archive is not the one recorded: the restore fails after reading
		// it, and reads the tree once more to say what it did not restore.
		{name: "failed", chain: append(slices.Clone(chain[:3]), func() engine.ArchiveRef {
			r := chain[3]
			r.SHA256 = strings.Repeat("0", 64)
			return r
		}()), fail: true, want: 4 + 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := t.TempDir()
			o := ro
			o.Target, o.Chain, o.Include = target, tc.chain, tc.include
			start := time.Now()
			_, err := engine.Restore(context.Background(), o)
			took := time.Since(start)
			switch {
			case tc.fail && err == nil:
				t.Fatal("restore of a wrong archive succeeded")
			case !tc.fail && err != nil:
				t.Fatalf("restore: %v", err)
			case !tc.fail && tc.include == nil:
				compareTrees(t, wants[len(tc.chain)-1], describe(t, filepath.Join(target, tree)))
			}
			n, twice := counter.runs()
			t.Logf("%d scrypt runs at work factor %d for %d archives, %d manifests: restore took %v", n, so.ScryptWorkFactor, len(tc.chain), len(tc.chain), took.Round(time.Millisecond))
			if twice > 0 || n != tc.want {
				t.Errorf("%d scrypt runs, %d objects unwrapped more than once; want %d, one per object", n, twice, tc.want)
			}
		})
	}
}
