package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/config"
)

// TestWindowsInstallScriptFromServer: the real server, with agent binaries beside it,
// serves install.ps1 to anyone (the one line runs it before the machine has a key):
// it downloads from this server's URL, and the SHA-256 it checks the download
// against (Get-FileHash) is the one of the very bytes the server sends for that file.
func TestWindowsInstallScriptFromServer(t *testing.T) {
	dir := t.TempDir()
	bin := []byte("MZ\x90\x00 a stand-in for backapp-agent.exe")
	if err := os.WriteFile(filepath.Join(dir, "backapp-agent-windows-amd64.exe"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	e := start(t, "", func(c *config.Config) { c.AgentsDir = dir })
	anon := e.Client()
	r := anon.Send("GET", "/install.ps1", "", nil)
	want(t, r, http.StatusOK)
	base := e.Srv.URL
	for _, w := range []string{`-Uri "` + base + `/download/agent/$name"`, `enroll --server '` + base + `' --key $Key`, "Get-FileHash -Algorithm SHA256"} {
		if !strings.Contains(r.Raw, w) {
			t.Errorf("install.ps1 lacks %q", w)
		}
	}
	m := regexp.MustCompile(`'backapp-agent-windows-amd64\.exe' = '([0-9a-f]{64})'`).FindStringSubmatch(r.Raw)
	if m == nil {
		t.Fatalf("install.ps1 has no sum for backapp-agent-windows-amd64.exe:\n%s", r.Raw)
	}
	d := anon.Send("GET", "/download/agent/backapp-agent-windows-amd64.exe", "", nil)
	want(t, d, http.StatusOK)
	if h := sha256.Sum256([]byte(d.Raw)); hex.EncodeToString(h[:]) != m[1] || d.Raw != string(bin) {
		t.Errorf("the script's sum %s is not the sum of the served file (%d bytes)", m[1], len(d.Raw))
	}
}
