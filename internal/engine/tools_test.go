package engine_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/testenv"
)

// fetch downloads an object to a file (only the test does this: the engine streams).
func fetch(t *testing.T, dest storage.Destination, key string) string {
	t.Helper()
	rc, err := dest.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	p := filepath.Join(t.TempDir(), filepath.Base(key))
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, rc); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

func run(t *testing.T, name string, stdin io.Reader, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
}

// TestStandardTools restores stored archives with GNU tar, zstd and the age CLI alone.
// The tools are the host's: the Windows build skips, and the Linux run checks them.
func TestStandardTools(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("GNU tar, zstd and the age CLI are checked on the Linux host, not in the Windows build")
	}
	_, errTar := exec.LookPath("tar")
	testenv.Require(t, errTar == nil, "GNU tar is not installed")
	_, errZstd := exec.LookPath("zstd")
	testenv.Require(t, errZstd == nil, "zstd is not installed (Debian package zstd)")
	_, errAge := exec.LookPath("age")
	testenv.Require(t, errAge == nil, "age is not installed (make tools installs the Debian package age)")

	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	genTree(t, src, treeOpts{smallFiles: 200, sparseSize: 8 << 20})
	want := describe(t, src)

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	for i, tc := range []struct {
		name    string
		seal    seal.Options
		ext     string // the object name's suffix
		tarFlag string
		decrypt []string // age arguments, nil when not encrypted
	}{
		{"zstd", seal.Options{Codec: seal.Zstd}, ".tar.zst", "--zstd", nil},
		{"gzip", seal.Options{Codec: seal.Gzip, Level: 6}, ".tar.gz", "-z", nil},
		{"none", seal.Options{Codec: seal.None}, ".tar", "", nil},
		{"zstd+age", seal.Options{Codec: seal.Zstd, Level: 3, Recipients: []age.Recipient{id.Recipient()}}, ".tar.zst.age", "--zstd", []string{"-d", "-i", keyFile}},
		{"gzip+age", seal.Options{Codec: seal.Gzip, Level: 1, Recipients: []age.Recipient{id.Recipient()}}, ".tar.gz.age", "-z", []string{"-d", "-i", keyFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustBackup(t, dest, key(i, tc.seal), engine.BackupOptions{Sources: []string{src}, Seal: tc.seal})
			if !strings.HasSuffix(s.key, tc.ext) {
				t.Errorf("key %s does not end in %s", s.key, tc.ext)
			}
			file := fetch(t, dest, s.key)
			if tc.decrypt != nil {
				plain := file + ".plain"
				run(t, "age", nil, append(tc.decrypt, "-o", plain, file)...)
				file = plain
			}
			out := t.TempDir()
			args := []string{"-x", "-p", "-f", file, "-C", out}
			if tc.tarFlag != "" {
				args = append([]string{tc.tarFlag}, args...)
			}
			run(t, "tar", nil, args...)
			compareTrees(t, want, describe(t, filepath.Join(out, filepath.FromSlash(scan.ArchiveName(src)))))
		})
	}

	// A passphrase-encrypted archive opens with backapp and the passphrase; a wrong
	// passphrase or key gets a clear error.
	t.Run("passphrase", func(t *testing.T) {
		so := seal.Options{Passphrase: "correct horse battery staple", ScryptWorkFactor: 10}
		s := mustBackup(t, dest, key(10, so), engine.BackupOptions{Sources: []string{src}, Seal: so})
		good, _ := seal.PassphraseIdentity("correct horse battery staple")
		bad, _ := seal.PassphraseIdentity("wrong")
		target := t.TempDir()
		if _, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: []engine.ArchiveRef{ref(dest, s)}, Identities: []age.Identity{bad}}); err == nil || !strings.Contains(err.Error(), "wrong age key or passphrase") {
			t.Errorf("wrong passphrase: got %v, want 'wrong age key or passphrase'", err)
		}
		other, _ := age.GenerateX25519Identity()
		if _, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: []engine.ArchiveRef{ref(dest, s)}, Identities: []age.Identity{other}}); err == nil || !strings.Contains(err.Error(), "wrong age key or passphrase") {
			t.Errorf("wrong key: got %v, want 'wrong age key or passphrase'", err)
		}
		if _, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: []engine.ArchiveRef{ref(dest, s)}}); err == nil || !strings.Contains(err.Error(), "encrypted") {
			t.Errorf("no key: got %v, want an 'encrypted' error", err)
		}
		if _, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: []engine.ArchiveRef{ref(dest, s)}, Identities: []age.Identity{good}}); err != nil {
			t.Fatalf("restore with the passphrase: %v", err)
		}
		compareTrees(t, want, describe(t, filepath.Join(target, filepath.FromSlash(scan.ArchiveName(src)))))
	})
}

// TestStandardToolsChain restores a chain of delta incrementals with GNU tar alone, as
// docs/engine.md says: each stored archive extracted in order over the previous; the
// unchanged run has no archive and is skipped. (Deletions are only in the manifests,
// so this chain only adds and changes files.)
func TestStandardToolsChain(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("GNU tar is checked on the Linux host, not in the Windows build")
	}
	_, errTar := exec.LookPath("tar")
	testenv.Require(t, errTar == nil, "GNU tar is not installed")
	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	genTree(t, src, treeOpts{smallFiles: 100})
	so := seal.Options{Codec: seal.Zstd}
	var runs []stored
	for i, change := range []func(){
		nil,
		func() { writeFile(t, filepath.Join(src, "small/d00/f00000.txt"), "changed", 0o644, t0) },
		func() {}, // nothing
		func() { writeFile(t, filepath.Join(src, "new/n.txt"), "new", 0o600, t0) },
	} {
		if change != nil {
			change()
		}
		o := engine.BackupOptions{Sources: []string{src}, Seal: so, Delta: true}
		if i > 0 {
			o.Previous = previousTree(t, dest, runs, engine.RestoreOptions{})
		}
		runs = append(runs, mustBackup(t, dest, key(i, so), o))
	}
	out := t.TempDir()
	extracted := 0
	for _, s := range runs {
		if s.res.NoArchive {
			continue
		}
		run(t, "tar", nil, "--zstd", "-x", "-p", "-f", fetch(t, dest, s.key), "-C", out)
		extracted++
	}
	if extracted != 3 {
		t.Errorf("%d archives extracted, want 3 (the unchanged run has none)", extracted)
	}
	// A later archive's file written into a directory stored earlier touches that
	// directory's mtime (tar sets times only of the directories it extracts).
	noDirTimes := func(m map[string]string) map[string]string {
		for k, v := range m {
			if strings.HasPrefix(v, "dir ") {
				m[k], _, _ = strings.Cut(v, " mtime=")
			}
		}
		return m
	}
	compareTrees(t, noDirTimes(describe(t, src)), noDirTimes(describe(t, filepath.Join(out, filepath.FromSlash(scan.ArchiveName(src))))))
}
