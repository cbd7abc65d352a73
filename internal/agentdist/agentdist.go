// Package agentdist serves the agent's binaries from the server itself: the files
// `make agents` (part of `make build`) writes beside the server binary
// (bin/agents/backapp-agent-OS-ARCH[.exe]), their SHA-256 sums, and a POSIX install
// script that downloads the right one from this server, checks its sum, enrols it with
// a key and installs its service.
package agentdist

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"
)

// fileName is what a served binary may be called.
var fileName = regexp.MustCompile(`^backapp-agent-(linux|darwin|windows)-(amd64|arm64)(\.exe)?$`)

// Dist serves the binaries in one directory.
type Dist struct {
	dir, baseURL string
	mu           sync.Mutex
	sums         map[string]sumOf // by file name
}

type sumOf struct {
	size int64
	mod  time.Time
	sum  string
}

// Dir is the directory binaries are served from: dir when set, else "agents" beside
// the running executable (where `make build` puts them, bin/agents).
func Dir(dir string) string {
	if dir != "" {
		return dir
	}
	exe, err := os.Executable()
	if err != nil {
		return "agents"
	}
	return filepath.Join(filepath.Dir(exe), "agents")
}

// New serves the binaries of dir for a server at baseURL.
func New(dir, baseURL string) *Dist {
	return &Dist{dir: dir, baseURL: strings.TrimRight(baseURL, "/"), sums: map[string]sumOf{}}
}

// Register mounts GET /download/agent/{file}, /download/agent/SHA256SUMS, /install.sh
// and /install.ps1.
func (d *Dist) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /download/agent/SHA256SUMS", d.serveSums)
	mux.HandleFunc("GET /download/agent/{file}", d.serveFile)
	mux.HandleFunc("GET /install.sh", d.serveScript)
	mux.HandleFunc("GET /install.ps1", d.serveWindowsScript)
}

// Files are the binaries present, sorted.
func (d *Dist) Files() []string {
	es, err := os.ReadDir(d.dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range es {
		if e.Type().IsRegular() && fileName.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out
}

// InstallCommand is the one line that installs the agent with key on Linux or macOS.
func (d *Dist) InstallCommand(key string) string {
	return "curl -fsSL " + d.baseURL + "/install.sh | sudo sh -s -- " + key
}

// WindowsInstallCommand is the one line that installs the agent with key on Windows,
// in PowerShell run as Administrator: it runs this server's install.ps1.
func (d *Dist) WindowsInstallCommand(key string) string {
	return "& ([scriptblock]::Create((Invoke-RestMethod '" + d.baseURL + "/install.ps1'))) '" + key + "'"
}

// Sum is the hex SHA-256 of file name, computed once per size and modification time.
func (d *Dist) Sum(name string) (string, error) {
	if !fileName.MatchString(name) {
		return "", os.ErrNotExist
	}
	p := filepath.Join(d.dir, name)
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	s, ok := d.sums[name]
	d.mu.Unlock()
	if ok && s.size == fi.Size() && s.mod.Equal(fi.ModTime()) {
		return s.sum, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	s = sumOf{size: fi.Size(), mod: fi.ModTime(), sum: hex.EncodeToString(h.Sum(nil))}
	d.mu.Lock()
	d.sums[name] = s
	d.mu.Unlock()
	return s.sum, nil
}

func (d *Dist) serveSums(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	for _, n := range d.Files() {
		s, err := d.Sum(n)
		if err != nil {
			http.Error(w, "cannot read "+n, http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(&b, "%s  %s\n", s, n)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, b.String())
}

func (d *Dist) serveFile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !fileName.MatchString(name) {
		http.Error(w, "no such agent binary: the names are backapp-agent-OS-ARCH (linux, darwin, windows; amd64, arm64)", http.StatusNotFound)
		return
	}
	f, err := os.Open(filepath.Join(d.dir, name))
	if err != nil {
		http.Error(w, name+" is not on this server: build it with `make agents` (or make build) beside the server binary", http.StatusNotFound)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, "cannot read "+name, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

var script = template.Must(template.New("install.sh").Parse(`#!/bin/sh
# Installs backapp-agent from {{.}}: downloads the binary for this machine, checks
# its SHA-256 sum, enrols it with the key given as the first argument and installs
# its system service. Usage: curl -fsSL {{.}}/install.sh | sudo sh -s -- KEY
set -eu
key="${1:-}"
if [ -z "$key" ]; then echo "backapp: give the agent's key: sh install.sh KEY" >&2; exit 2; fi
case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) echo "backapp: $(uname -s) is not supported by this script" >&2; exit 1 ;; esac
case "$(uname -m)" in x86_64|amd64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; *) echo "backapp: $(uname -m) is not supported" >&2; exit 1 ;; esac
name="backapp-agent-$os-$arch"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
curl -fsSL -o "$tmp/$name" "{{.}}/download/agent/$name"
curl -fsSL -o "$tmp/SHA256SUMS" "{{.}}/download/agent/SHA256SUMS"
want="$(awk -v n="$name" '$2 == n { print $1 }' "$tmp/SHA256SUMS")"
if command -v sha256sum >/dev/null 2>&1; then got="$(sha256sum "$tmp/$name" | awk '{ print $1 }')"; else got="$(shasum -a 256 "$tmp/$name" | awk '{ print $1 }')"; fi
if [ -z "$want" ] || [ "$want" != "$got" ]; then echo "backapp: $name does not match its SHA-256 sum ($got, want $want): not installed" >&2; exit 1; fi
dest="${BACKAPP_BIN_DIR:-/usr/local/bin}"
install -m 0755 "$tmp/$name" "$dest/backapp-agent"
"$dest/backapp-agent" enroll --server "{{.}}" --key "$key"
if [ -z "${BACKAPP_NO_SERVICE:-}" ]; then "$dest/backapp-agent" install; fi
echo "backapp: backapp-agent is installed in $dest and enrolled"
`))

func (d *Dist) serveScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/x-shellscript; charset=utf-8")
	if err := script.Execute(w, d.baseURL); err != nil {
		http.Error(w, "install script: "+err.Error(), http.StatusInternalServerError)
	}
}

// windowsScript installs the agent on Windows. The sums of the binaries are written
// into the script as it is served (the same ones SHA256SUMS lists), so the binary is
// checked against what this server computed, with Get-FileHash.
var windowsScript = template.Must(template.New("install.ps1").Parse(`# Installs backapp-agent from {{.Base}}: downloads the binary for this machine,
# checks its SHA-256 sum, enrols it with the key given as the first argument and
# installs its Windows service. In PowerShell run as Administrator:
#   & ([scriptblock]::Create((Invoke-RestMethod '{{.Base}}/install.ps1'))) 'KEY'
param([Parameter(Mandatory = $true)][string]$Key)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$sums = @{
{{- range .Sums}}
  '{{.Name}}' = '{{.Sum}}'
{{- end}}
}
switch ($env:PROCESSOR_ARCHITECTURE) {
  'AMD64' { $arch = 'amd64' }
  'ARM64' { $arch = 'arm64' }
  default { throw "backapp: $($env:PROCESSOR_ARCHITECTURE) is not supported" }
}
$name = "backapp-agent-windows-$arch.exe"
if (-not $sums.ContainsKey($name)) { throw "backapp: this server has no $name (make agents builds it)" }
$dir = Join-Path $env:ProgramFiles 'backapp'
if ($env:BACKAPP_BIN_DIR) { $dir = $env:BACKAPP_BIN_DIR }
New-Item -ItemType Directory -Force -Path $dir | Out-Null
$tmp = Join-Path ([System.IO.Path]::GetTempPath()) ([System.IO.Path]::GetRandomFileName() + '.exe')
try {
  Invoke-WebRequest -UseBasicParsing -Uri "{{.Base}}/download/agent/$name" -OutFile $tmp
  $got = (Get-FileHash -Algorithm SHA256 -Path $tmp).Hash.ToLowerInvariant()
  if ($got -ne $sums[$name]) { throw "backapp: $name does not match its SHA-256 sum ($got, want $($sums[$name])): not installed" }
  $exe = Join-Path $dir 'backapp-agent.exe'
  Move-Item -Force -Path $tmp -Destination $exe
} finally {
  if (Test-Path $tmp) { Remove-Item -Force $tmp }
}
& $exe enroll --server '{{.Base}}' --key $Key
if ($LASTEXITCODE -ne 0) { throw "backapp: enroll failed" }
if (-not $env:BACKAPP_NO_SERVICE) {
  & $exe install
  if ($LASTEXITCODE -ne 0) { throw "backapp: installing the service failed" }
}
Write-Host "backapp: backapp-agent is installed in $dir and enrolled"
`))

// fileSum is one binary's name and hex SHA-256.
type fileSum struct{ Name, Sum string }

func (d *Dist) serveWindowsScript(w http.ResponseWriter, r *http.Request) {
	var sums []fileSum
	for _, n := range d.Files() {
		if !strings.HasSuffix(n, ".exe") {
			continue
		}
		s, err := d.Sum(n)
		if err != nil {
			http.Error(w, "cannot read "+n, http.StatusInternalServerError)
			return
		}
		sums = append(sums, fileSum{n, s})
	}
	var b strings.Builder
	if err := windowsScript.Execute(&b, struct {
		Base string
		Sums []fileSum
	}{d.baseURL, sums}); err != nil {
		http.Error(w, "install script: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, b.String())
}
