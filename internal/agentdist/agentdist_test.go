package agentdist

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestInstallScript: the server's install.sh, run by sh as the one-line install runs
// it, downloads this machine's binary from the server, checks its SHA-256 against
// SHA256SUMS, installs it and runs its enroll with the server and the key; a binary
// that does not match its sum is refused and nothing is installed.
func TestInstallScript(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("the install script is for Linux and macOS")
	}
	dir := t.TempDir()
	name := "backapp-agent-" + runtime.GOOS + "-" + runtime.GOARCH
	log := filepath.Join(t.TempDir(), "calls")
	// A stand-in agent that records how it is called.
	fake := "#!/bin/sh\necho \"$@\" >> " + log + "\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	var d *Dist
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	d = New(dir, srv.URL)
	d.Register(mux)

	res, err := http.Get(srv.URL + "/download/agent/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	sums, _ := io.ReadAll(res.Body)
	res.Body.Close()
	h := sha256.Sum256([]byte(fake))
	if want := hex.EncodeToString(h[:]) + "  " + name + "\n"; string(sums) != want {
		t.Errorf("SHA256SUMS = %q, want %q", sums, want)
	}
	if files := d.Files(); !slices.Contains(files, name) || slices.Contains(files, "backapp-agent-windows-amd64.exe") {
		t.Errorf("Files = %v: wrong for %s (present) or windows (absent)", files, name)
	}

	install := func() (string, error) {
		res, err := http.Get(srv.URL + "/install.sh")
		if err != nil {
			t.Fatal(err)
		}
		script, _ := io.ReadAll(res.Body)
		res.Body.Close()
		bin := t.TempDir()
		cmd := exec.Command("sh", "-s", "--", "bak_thekey")
		cmd.Stdin = strings.NewReader(string(script))
		cmd.Env = append(os.Environ(), "BACKAPP_BIN_DIR="+bin, "BACKAPP_NO_SERVICE=1")
		out, err := cmd.CombinedOutput()
		if _, serr := os.Stat(filepath.Join(bin, "backapp-agent")); (serr == nil) != (err == nil) {
			t.Errorf("installed: %v, script error: %v", serr == nil, err)
		}
		return string(out), err
	}
	if out, err := install(); err != nil {
		t.Fatalf("install script: %v\n%s", err, out)
	}
	calls, _ := os.ReadFile(log)
	if want := "enroll --server " + srv.URL + " --key bak_thekey\n"; string(calls) != want {
		t.Errorf("the agent was called with %q, want %q", calls, want)
	}

	// A download altered on the way (other bytes under the name, true sums) is refused.
	tampered := http.NewServeMux()
	tampered.HandleFunc("GET /download/agent/{file}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, fake+"# evil\n") })
	tampered.HandleFunc("GET /download/agent/SHA256SUMS", mux.ServeHTTP) // the true sums
	tampered.HandleFunc("GET /", mux.ServeHTTP)
	srv.Config.Handler = tampered
	if out, err := install(); err == nil || !strings.Contains(out, "does not match its SHA-256 sum") {
		t.Errorf("a binary that does not match its sum: err %v, output %q", err, out)
	}
}

// TestWindowsInstallScript: install.ps1 names this server's download URL and carries
// the SHA-256 of each Windows binary it serves (what Get-FileHash must find), enrols
// with this server, and the one line runs it with the key. Without Windows binaries it
// refuses in words.
func TestWindowsInstallScript(t *testing.T) {
	dir := t.TempDir()
	bins := map[string]string{"backapp-agent-windows-amd64.exe": "MZ amd64", "backapp-agent-windows-arm64.exe": "MZ arm64", "backapp-agent-linux-amd64": "ELF"}
	for n, c := range bins {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	d := New(dir, srv.URL+"/")
	d.Register(mux)
	get := func() string {
		res, err := http.Get(srv.URL + "/install.ps1")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /install.ps1: %d %s", res.StatusCode, b)
		}
		return string(b)
	}
	script := get()
	for n, c := range bins {
		h := sha256.Sum256([]byte(c))
		line := "'" + n + "' = '" + hex.EncodeToString(h[:]) + "'"
		if strings.HasSuffix(n, ".exe") != strings.Contains(script, line) {
			t.Errorf("install.ps1 has %q: %v, want %v", line, strings.Contains(script, line), strings.HasSuffix(n, ".exe"))
		}
	}
	for _, want := range []string{
		`Invoke-WebRequest -UseBasicParsing -Uri "` + srv.URL + `/download/agent/$name"`,
		`Get-FileHash -Algorithm SHA256`,
		`enroll --server '` + srv.URL + `' --key $Key`,
		`& $exe install`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("install.ps1 lacks %q:\n%s", want, script)
		}
	}
	if got, want := d.WindowsInstallCommand("bak_k"), "& ([scriptblock]::Create((Invoke-RestMethod '"+srv.URL+"/install.ps1'))) 'bak_k'"; got != want {
		t.Errorf("WindowsInstallCommand = %q, want %q", got, want)
	}

	// Without Windows binaries the script stops with a message naming the file.
	for n := range bins {
		if strings.HasSuffix(n, ".exe") {
			os.Remove(filepath.Join(dir, n))
		}
	}
	if s := get(); strings.Contains(s, ".exe' =") || !strings.Contains(s, "this server has no $name") {
		t.Errorf("install.ps1 without Windows binaries:\n%s", s)
	}
}
