package e2e

import (
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/testenv"
)

// TestWindowsAgentUnderWine: the agent built for Windows, run under wine, enrols with
// the real server, backs up a tree with nested directories, Unicode names and a 5 MB
// file, plus C:\data and D:\data (one path on two drives), and restores it byte for
// byte. Wine stands in for Windows with its own
// ntdll/kernel32, so the Windows code paths (file identity, volumes, paths) run for
// real; what wine cannot stand in for is listed in docs/platforms.md. A Linux
// agent's backup of names Windows cannot hold (CON, a:b, q?, …) is then restored on
// the Windows agent, once renaming them and once skipping them, as the API asks.
func TestWindowsAgentUnderWine(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	_, errWine := exec.LookPath("wine")
	_, errGCC := exec.LookPath("x86_64-w64-mingw32-gcc")
	testenv.Require(t, errWine == nil && errGCC == nil,
		"wine and x86_64-w64-mingw32-gcc run the Windows agent (Debian: wine wine64 gcc-mingw-w64-x86-64; `make tools` installs them)")
	t.Parallel()

	w := winePrefix(t)
	app := startApp(t, "--run-stale-after", "30s")
	destID, _ := app.s3Destination("test s3")

	var created struct {
		ID     string `json:"id"`
		APIKey string `json:"apiKey"`
	}
	app.w.do("POST", "/api/agents", map[string]string{"name": "windows"}, &created)
	conf := t.TempDir()
	if out, err := w.command("enroll", "--config-dir", winPath(conf), "--server", app.base, "--key", created.APIKey).CombinedOutput(); err != nil {
		t.Fatalf("enroll under wine: %v\n%s", err, out)
	}
	start(t, "windows agent", w.env, "wine", w.exe, "run", "--config-dir", winPath(conf))

	src := t.TempDir()
	files := map[string][]byte{
		"top.txt":                       []byte("top\n"),
		"a/b/c/d/deep.txt":              []byte("four levels down\n"),
		"a/b/sibling.txt":               []byte("beside c\n"),
		"docs/ünïcødé name.md":          []byte("# hi\n"),
		"日本語/ファイル.txt":                  []byte("こんにちは\n"),
		"empty/.keep":                   nil,
		"big/five-megabytes.bin":        make([]byte, 5<<20),
		"Mixed Case Dir/Space File.TXT": []byte("spaces\n"),
	}
	rand.Read(files["big/five-megabytes.bin"])
	writeTree(t, src, files)
	// The same path on two drives: two trees in the archive (C/data, D/data).
	onC, onD := map[string][]byte{"same.txt": []byte("on C\n"), "only-c/x": []byte("c")}, map[string][]byte{"same.txt": []byte("on D\n")}
	writeTree(t, filepath.Join(w.driveC, "data"), onC)
	writeTree(t, filepath.Join(w.driveD, "data"), onD)

	var cfg struct {
		ID string `json:"id"`
	}
	app.w.do("POST", "/api/configs", map[string]any{"name": "windows home", "enabled": true, "executionMode": "agent", "agentId": created.ID,
		"sources":     []map[string]any{{"path": winPath(src)}, {"path": `C:\data`}, {"path": `D:\data`}},
		"destination": map[string]string{"destinationId": destID},
		"options":     map[string]any{"type": "full", "compression": "zstd", "encryption": false}}, &cfg)
	var queued, run struct {
		backupLog
		FilesProcessed int64 `json:"filesProcessed"`
		FilesSkipped   int64 `json:"filesSkipped"`
	}
	app.w.do("POST", "/api/backups/execute/"+cfg.ID, nil, &queued)
	testenv.EventuallyWithin(t, 3*time.Minute, "the Windows agent's run to complete", func() bool {
		app.w.do("GET", "/api/backups/"+queued.ID, nil, &run)
		if run.Status == "failed" || run.Status == "cancelled" {
			t.Fatalf("run %s: %s: %v", run.ID, run.Status, run.Error)
		}
		return run.Status == "completed"
	})
	if run.FilesSkipped != 0 {
		t.Errorf("the run skipped %d files: %v", run.FilesSkipped, run.Error)
	}

	dst := t.TempDir()
	var rs struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	app.w.do("POST", "/api/restores", map[string]any{"runId": run.ID, "agentId": created.ID, "targetDir": winPath(dst)}, &rs)
	testenv.EventuallyWithin(t, 3*time.Minute, "the restore under wine", func() bool {
		app.w.do("GET", "/api/restores/"+rs.ID, nil, &rs)
		if rs.Status == "failed" || rs.Status == "cancelled" {
			t.Fatalf("restore %s: %s: %s", rs.ID, rs.Status, rs.Error)
		}
		return rs.Status == "completed"
	})
	// The archive keeps the drive: Z:\tmp\… is restored as <target>\Z\tmp\….
	if diff := sameTree(readTree(t, filepath.Join(dst, "Z", src)), files); diff != "" {
		t.Errorf("the tree restored under wine differs from the source: %s", diff)
	}
	for drive, want := range map[string]map[string][]byte{"C": onC, "D": onD} {
		if diff := sameTree(readTree(t, filepath.Join(dst, drive, "data")), want); diff != "" {
			t.Errorf("%s:\\data restored differs: %s", drive, diff)
		}
	}

	// A Linux agent's backup holding names Windows cannot hold, restored on the
	// Windows agent through the API: renamed and listed by default, left out and
	// listed when the restore asks to skip them; every other file is written.
	linux := app.enroll("linux")
	lsrc := t.TempDir()
	portable := map[string][]byte{"ok.txt": []byte("fine\n"), "dir/fine.md": []byte("# fine\n")}
	renamed := map[string]string{"CON": "CO%4E", "nul.txt": "nu%6C.txt", "a:b": "a%3Ab", "q?": "q%3F", "star*": "star%2A", "dir/a|b": "dir/a%7Cb"}
	tree := map[string][]byte{}
	for name, b := range portable {
		tree[name] = b
	}
	for name := range renamed {
		tree[name] = []byte("unportable " + name + "\n")
	}
	writeTree(t, lsrc, tree)
	var lcfg struct {
		ID string `json:"id"`
	}
	app.w.do("POST", "/api/configs", map[string]any{"name": "linux names", "enabled": true, "executionMode": "agent", "agentId": linux.id,
		"sources":     []map[string]any{{"path": lsrc}},
		"destination": map[string]string{"destinationId": destID},
		"options":     map[string]any{"type": "full", "compression": "zstd", "encryption": false}}, &lcfg)
	app.w.do("POST", "/api/backups/execute/"+lcfg.ID, nil, &queued)
	testenv.EventuallyWithin(t, 2*time.Minute, "the Linux agent's run to complete", func() bool {
		app.w.do("GET", "/api/backups/"+queued.ID, nil, &run)
		if run.Status == "failed" || run.Status == "cancelled" {
			t.Fatalf("run %s: %s: %v", run.ID, run.Status, run.Error)
		}
		return run.Status == "completed"
	})
	restoreOnWindows := func(unportable string) (string, string) {
		t.Helper()
		dst := t.TempDir()
		var rs struct {
			ID              string `json:"id"`
			Status          string `json:"status"`
			Error           string `json:"error"`
			Warnings        string `json:"warnings"`
			UnportableNames string `json:"unportableNames"`
		}
		app.w.do("POST", "/api/restores", map[string]any{"runId": run.ID, "agentId": created.ID, "targetDir": winPath(dst),
			"unportableNames": unportable}, &rs)
		if rs.UnportableNames != unportable {
			t.Errorf("restore created with unportableNames %q has %q", unportable, rs.UnportableNames)
		}
		testenv.EventuallyWithin(t, 3*time.Minute, "the restore of Linux names under wine ("+unportable+")", func() bool {
			app.w.do("GET", "/api/restores/"+rs.ID, nil, &rs)
			if rs.Status == "failed" || rs.Status == "cancelled" {
				t.Fatalf("restore %s (%s): %s: %s", rs.ID, unportable, rs.Status, rs.Error)
			}
			return rs.Status == "completed"
		})
		return filepath.Join(dst, lsrc), rs.Warnings // a Linux path keeps no drive
	}

	got, warnings := restoreOnWindows("skip")
	if diff := sameTree(readTree(t, got), portable); diff != "" {
		t.Errorf("restore that skips unportable names: %s", diff)
	}
	for name := range renamed {
		if !strings.Contains(warnings, name) {
			t.Errorf("restore that skips unportable names: %q is not listed in its warnings %q", name, warnings)
		}
	}
	got, warnings = restoreOnWindows("rename")
	want := map[string][]byte{}
	for name, b := range portable {
		want[name] = b
	}
	for name, as := range renamed {
		want[as] = tree[name]
		if !strings.Contains(warnings, as) {
			t.Errorf("restore that renames unportable names: %q as %q is not listed in its warnings %q", name, as, warnings)
		}
	}
	if diff := sameTree(readTree(t, got), want); diff != "" {
		t.Errorf("restore that renames unportable names: %s", diff)
	}
}

// wine is a prepared wine prefix with the Windows agent built into it.
type wine struct {
	env            []string
	exe            string
	driveC, driveD string // where C: and D: are on this machine
}

// winePrefix prepares a prefix (scripts/wine/prefix.sh) and builds the agent for
// Windows; the prefix's wineserver is stopped when the test ends.
func winePrefix(t *testing.T) *wine {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("bash", "../scripts/wine/prefix.sh", dir).CombinedOutput(); err != nil {
		t.Fatalf("prepare the wine prefix: %v\n%s", err, out)
	}
	w := &wine{env: cleanEnv("WINEPREFIX="+filepath.Join(dir, "prefix"), "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree=;mshtml="),
		exe: filepath.Join(dir, "backapp-agent.exe"), driveC: filepath.Join(dir, "prefix", "drive_c"), driveD: filepath.Join(dir, "drive_d")}
	// D: is a directory of the test, as wine maps drives: a link in dosdevices.
	if err := os.MkdirAll(w.driveD, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(w.driveD, filepath.Join(dir, "prefix", "dosdevices", "d:")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k := exec.Command("wineserver", "-k")
		k.Env = w.env
		k.Run()
	})
	b := exec.Command("go", "build", "-o", w.exe, "../cmd/backapp-agent")
	b.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=windows", "GOARCH=amd64")
	if out, err := b.CombinedOutput(); err != nil {
		t.Fatalf("build the Windows agent: %v\n%s", err, out)
	}
	return w
}

func (w *wine) command(args ...string) *exec.Cmd {
	c := exec.Command("wine", append([]string{w.exe}, args...)...)
	c.Env = w.env
	return c
}

// winPath is a Linux path as programs under wine see it (wine maps / to Z:).
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }
