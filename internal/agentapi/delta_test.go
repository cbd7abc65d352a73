package agentapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/restores"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

// TestDeltaChainAfterLegacyRuns: a chain begun by an agent before deltas (whole
// manifests, an archive and a catalog copy every run) goes on with deltas. An
// unchanged run stores no archive, a manifest of a few hundred bytes and no catalog
// copy (encrypted: a catalog copy of a few hundred bytes); every point in time
// restores byte for byte, browses, and reads back whole through GET backup/catalog.
func TestDeltaChainAfterLegacyRuns(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			forBackends(t, func(t *testing.T, e *env, dest string) { testDeltaChain(t, e, dest, encrypted) })
		})
	}
}

func testDeltaChain(t *testing.T, e *env, dest string, encrypted bool) {
	ctx := context.Background()
	alice := e.user("alice@example.com")
	a := e.agent(alice, "laptop")
	opts := `{"type":"incremental","compression":"zstd"}`
	var mode backupMode
	var ids []age.Identity
	if encrypted {
		id, _ := age.GenerateX25519Identity()
		ids, mode.recipients = []age.Identity{id}, []age.Recipient{id.Recipient()}
		opts = fmt.Sprintf(`{"type":"incremental","compression":"zstd","encryption":true,"encryptionMode":"age","recipients":[%q]}`, id.Recipient())
	}
	cfg := e.config(a, dest, opts)
	rs, err := restores.New(restores.Config{Store: e.st, Destinations: e.dests, Keys: e.keys})
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	files := map[string]string{"a.txt": "alpha", "b.txt": "beta", "dir/c.txt": strings.Repeat("gamma ", 500)}
	set := func(p, content string) {
		files[p] = content
		treetest.Write(t, src, map[string]string{p: content})
	}
	steps := []struct {
		name   string
		deltas bool
		change func()
	}{
		{"legacy full", false, nil},
		{"legacy incremental", false, func() { set("a.txt", "alpha 2") }},
		{"delta", true, func() {
			set("d.txt", "delta")
			delete(files, "b.txt")
			if err := os.Remove(filepath.Join(src, "b.txt")); err != nil {
				t.Fatal(err)
			}
		}},
		{"delta, unchanged", true, nil},
		{"delta again", true, func() { set("dir/c.txt", "changed") }},
	}
	treetest.Write(t, src, files)
	var runIDs []string
	var wants []map[string]string
	for i, s := range steps {
		if s.change != nil {
			s.change()
		}
		e.clock.Add(time.Hour)
		m := mode
		m.deltas = s.deltas
		start, done, res := a.backupWith(t, cfg.ID, "", src, m)
		if done.Status != "completed" || start.Full != (i == 0) || !start.Deltas {
			t.Fatalf("%s: start %+v, done %+v", s.name, start, done)
		}
		run := e.run(start.RunID)
		t.Logf("%s: archive %d, manifest %d, catalog %d bytes", s.name, run.ArchiveSize, run.ManifestSize, run.CatalogSize)
		if res.Header.Delta != s.deltas || s.deltas && res.Header.Base != 1 {
			t.Errorf("%s: manifest delta %v on %d, want delta %v on 1 (the last whole manifest)", s.name, res.Header.Delta, res.Header.Base, s.deltas)
		}
		if s.name == "delta, unchanged" {
			if run.ArchiveSize != 0 || run.ArchiveSHA256 != "" || !res.NoArchive {
				t.Errorf("%s: archive %d bytes, sha %q; want none", s.name, run.ArchiveSize, run.ArchiveSHA256)
			}
			if _, err := e.dests[dest].Stat(ctx, run.S3Path); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%s: archive object: %v, want not found", s.name, err)
			}
			if run.ManifestSize > 1024 || run.CatalogSize > 1024 {
				t.Errorf("%s: manifest %d and catalog %d bytes, want a few hundred", s.name, run.ManifestSize, run.CatalogSize)
			}
		}
		if s.deltas && !encrypted && run.CatalogSize != 0 {
			t.Errorf("%s: a catalog copy of %d bytes for an unencrypted run", s.name, run.CatalogSize)
		}
		if !s.deltas && run.CatalogSize == 0 {
			t.Errorf("%s: the catalog copy the agent sent is not counted", s.name)
		}
		runIDs = append(runIDs, start.RunID)
		wants = append(wants, maps.Clone(files))
	}
	for i, id := range runIDs {
		got, code, msg := a.restore(t, id, ids...)
		mustOK(t, "restore "+steps[i].name, code, msg)
		equalTrees(t, "restore of "+steps[i].name, sub(t, got, src), wants[i])

		run := e.run(id)
		l, err := rs.Browse(ctx, run, src)
		if err != nil {
			t.Fatalf("browse %s: %v", steps[i].name, err)
		}
		var names []string
		for _, en := range l.Entries {
			names = append(names, en.Name)
		}
		var want []string
		for p := range wants[i] {
			if d, _, ok := strings.Cut(p, "/"); ok {
				if !slices.Contains(want, d) {
					want = append(want, d)
				}
				continue
			}
			want = append(want, p)
		}
		slices.Sort(names)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("browse %s: %v, want %v", steps[i].name, names, want)
		}

		tree := a.catalogTree(t, id)
		var paths []string
		for {
			en, err := tree.r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if en.Type == manifest.TypeFile {
				paths = append(paths, strings.TrimPrefix("/"+en.Path, src+"/"))
			}
		}
		tree.close()
		if len(paths) != len(wants[i]) {
			t.Errorf("catalog of %s: files %v, want %d", steps[i].name, paths, len(wants[i]))
		}
		for _, p := range paths {
			if _, ok := wants[i][path.Clean(p)]; !ok {
				t.Errorf("catalog of %s: %s not in the tree", steps[i].name, p)
			}
		}
	}

	// A full backup always has an archive: completing one without is refused.
	cfg2 := e.config(a, dest, opts)
	var start agentproto.BackupStartResponse
	code, msg := a.call("POST", agentproto.PathBackupStart, agentproto.BackupStartRequest{ConfigID: cfg2.ID}, &start)
	mustOK(t, "backup/start", code, msg)
	code, msg = a.call("POST", agentproto.PathBackupComplete, agentproto.BackupCompleteRequest{RunID: start.RunID,
		Status: agentproto.StatusCompleted, Manifest: &agentproto.UploadedObject{}}, nil)
	wantStatus(t, "a full run completed without an archive", code, msg, http.StatusBadRequest)
	if r := e.run(start.RunID); r.Status != "failed" {
		t.Errorf("full run completed without an archive: %s, want failed", r.Status)
	}

}
