package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// SettingsFile is the name of the settings file inside the configuration directory.
const SettingsFile = "agent.json"

// Settings are what `backapp-agent enroll` stores: where the server is, the agent's key
// and who the server says the agent is. The file holds a secret and is written 0600.
type Settings struct {
	Server   string `json:"server"`
	Key      string `json:"key"`
	Insecure bool   `json:"insecure,omitempty"` // plain http to a non-loopback server allowed
	// CACert is a PEM file of certificate authorities trusted besides the system's, for
	// a server or S3 endpoint with a certificate from a private CA.
	CACert  string `json:"caCert,omitempty"`
	AgentID string `json:"agentId"`
	Name    string `json:"name,omitempty"`
	UserID  string `json:"userId,omitempty"`
	// StateDir holds the agent's local state (previous manifests, status); "" means
	// DefaultStateDir().
	StateDir string `json:"stateDir,omitempty"`
	// IdentityFiles are age identity files the daemon uses for restores of encrypted
	// archives that the server asks for.
	IdentityFiles []string  `json:"identityFiles,omitempty"`
	EnrolledAt    time.Time `json:"enrolledAt"`
}

// ErrNotEnrolled is returned by LoadSettings when no settings file exists.
var ErrNotEnrolled = errors.New("this machine is not enrolled: run `backapp-agent enroll --server URL --key KEY` first")

// DefaultConfigDir is where the settings live: the system-wide place when running as
// root/administrator (a service), the user's configuration directory otherwise.
//
//	Linux:   /etc/backapp-agent (root), else $XDG_CONFIG_HOME/backapp-agent (~/.config/…)
//	macOS:   /Library/Application Support/backapp-agent (root), else ~/Library/Application Support/backapp-agent
//	Windows: %ProgramData%\backapp-agent
func DefaultConfigDir() (string, error) {
	switch runtime.GOOS {
	case "windows":
		pd := os.Getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return filepath.Join(pd, "backapp-agent"), nil
	case "darwin":
		if os.Geteuid() == 0 {
			return "/Library/Application Support/backapp-agent", nil
		}
	default:
		if os.Geteuid() == 0 {
			return "/etc/backapp-agent", nil
		}
	}
	d, err := os.UserConfigDir() // $XDG_CONFIG_HOME or ~/.config; ~/Library/Application Support
	if err != nil {
		return "", fmt.Errorf("find the configuration directory (use --config-dir): %w", err)
	}
	return filepath.Join(d, "backapp-agent"), nil
}

// DefaultStateDir is where the local state lives unless the settings say otherwise:
// /var/lib/backapp-agent for root on Linux, $XDG_STATE_HOME/backapp-agent (~/.local/state)
// for other Linux users, and a "state" folder beside the settings elsewhere.
func DefaultStateDir(configDir string) string {
	if runtime.GOOS == "linux" || runtime.GOOS == "freebsd" {
		if os.Geteuid() == 0 && configDir == "/etc/backapp-agent" {
			return "/var/lib/backapp-agent"
		}
		if os.Geteuid() != 0 {
			if d := os.Getenv("XDG_STATE_HOME"); d != "" {
				return filepath.Join(d, "backapp-agent")
			}
			if h, err := os.UserHomeDir(); err == nil {
				def, _ := DefaultConfigDir()
				if configDir == def {
					return filepath.Join(h, ".local", "state", "backapp-agent")
				}
			}
		}
	}
	return filepath.Join(configDir, "state")
}

// LoadSettings reads dir/agent.json; ErrNotEnrolled when it does not exist.
func LoadSettings(dir string) (Settings, error) {
	var s Settings
	p := filepath.Join(dir, SettingsFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return s, fmt.Errorf("%w (no %s)", ErrNotEnrolled, p)
	}
	if err != nil {
		return s, fmt.Errorf("read settings: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("read settings %s: %w", p, err)
	}
	if s.Server == "" || s.Key == "" {
		return s, fmt.Errorf("%w (%s has no server or key)", ErrNotEnrolled, p)
	}
	if s.StateDir == "" {
		s.StateDir = DefaultStateDir(dir)
	}
	return s, nil
}

// SaveSettings writes dir/agent.json with mode 0600 (creating dir 0700), atomically.
// On Windows both get a protected ACL that only SYSTEM, the Administrators and the
// current user can read (makePrivate), since agent.json holds the agent's key.
func SaveSettings(dir string, s Settings) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	if err := makePrivate(dir, true); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, SettingsFile)
	if err := writeFileAtomic(p, append(b, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("write settings: %w", err)
	}
	return p, nil
}

// writeFileAtomic writes data to a temporary file beside path with mode perm and
// renames it into place, so a crash never leaves a half-written file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return err
	}
	// Before any byte is written: the rename keeps the ACL.
	if err := makePrivate(tmp, false); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
