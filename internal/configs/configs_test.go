package configs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/backapp/backapp/internal/store"
)

// TestFromStoreSeedShape: documents in the seed's shape (sources as paths,
// compression and encryption as booleans) stay readable.
func TestFromStoreSeedShape(t *testing.T) {
	c, err := FromStore(store.BackupConfig{ID: "c1", ExecutionMode: "agent", AgentID: "a1",
		Sources: json.RawMessage(`["/home","/etc"]`), Destination: json.RawMessage(`{"destinationId":"d1"}`),
		Schedule: json.RawMessage(`{"cronExpression":"0 2 * * *","timezone":"UTC"}`),
		Options:  json.RawMessage(`{"type":"full","compression":false,"encryption":false,"retentionDays":30,"bandwidth":512}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sources) != 2 || c.Sources[1].Path != "/etc" || c.Agent() != "a1" || c.Destination.DestinationID != "d1" {
		t.Errorf("read %+v", c)
	}
	if c.Options.Compression != CompressionNone || c.Options.EncryptionMode != EncryptNone || c.Options.RetentionDays != 30 || c.Options.Bandwidth != 512 {
		t.Errorf("options %+v", c.Options)
	}
	c, err = FromStore(store.BackupConfig{Options: json.RawMessage(`{"compression":true,"encryption":true,"recipients":["age1x"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Options.Compression != CompressionZstd || c.Options.EncryptionMode != EncryptAge {
		t.Errorf("options %+v", c.Options)
	}
}

// TestToStoreRoundTrip: what the service writes reads back the same, and the
// options keep the field names internal/agentapi reads.
func TestToStoreRoundTrip(t *testing.T) {
	id := "a1"
	in := Config{ID: "c1", UserID: "u1", Name: "n", Enabled: true, ExecutionMode: ModeAgent, AgentID: &id,
		Sources:  []Source{{Path: "/home", ExcludePatterns: []string{"*.tmp"}}},
		Schedule: &Schedule{CronExpression: "@daily", Timezone: "UTC"},
		Options: Options{Type: TypeIncremental, FullEvery: 7, Compression: CompressionGzip, CompressionLevel: 9, Encryption: true,
			EncryptionMode: EncryptPassphrase, Passphrase: "a long passphrase", Bandwidth: 100, KeepLast: 3,
			Hooks: &Hooks{Pre: "true", TimeoutSeconds: 5}}}
	row, err := toStore(in)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(row.Options, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "compression", "compressionLevel", "encryption", "passphrase", "bandwidth", "fullEvery", "hooks"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("stored options lack %q: %s", k, row.Options)
		}
	}
	if _, ok := raw["passphraseSet"]; ok {
		t.Errorf("stored options carry passphraseSet: %s", row.Options)
	}
	out, err := FromStore(row)
	if err != nil {
		t.Fatal(err)
	}
	if out.Options.Passphrase != in.Options.Passphrase || out.Options.Hooks.Pre != "true" || out.Schedule.CronExpression != "@daily" || out.Public().Options.Passphrase != "" {
		t.Errorf("round trip %+v", out)
	}
}

// TestUnderAllowed: a path in an allowed directory is allowed, one that leaves it by
// "..", a sibling prefix or a symbolic link is not.
func TestUnderAllowed(t *testing.T) {
	root := t.TempDir()
	allowed := filepath.Join(root, "data")
	outside := filepath.Join(root, "secret")
	for _, d := range []string{allowed, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(allowed, "link")); err != nil {
		t.Fatal(err)
	}
	dirs := []string{allowed}
	for p, want := range map[string]bool{
		allowed:                                  true,
		filepath.Join(allowed, "db"):             true,
		filepath.Join(allowed, "..", "secret"):   false,
		allowed + "-other":                       false,
		filepath.Join(allowed, "link"):           false,
		filepath.Join(allowed, "link", "passwd"): false,
		"/etc":                                   false,
	} {
		if got := underAllowed(p, dirs); got != want {
			t.Errorf("underAllowed(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestDescribeSchedule(t *testing.T) {
	for expr, want := range map[string]string{
		"":             "manual only",
		"@daily":       "daily at 00:00",
		"* * * * *":    "every minute",
		"*/15 * * * *": "every 15 minutes",
		"5 * * * *":    "every hour at :05",
		"30 2 * * *":   "daily at 02:30",
		"0 3 * * 1-5":  "weekdays at 03:00",
		"0 4 * * 0":    "weekly on Sunday at 04:00",
		"0 1 15 * *":   "monthly on day 15 at 01:00",
		"0 1 1 1 *":    "0 1 1 1 *",
	} {
		if got := DescribeSchedule(expr); got != want {
			t.Errorf("DescribeSchedule(%q) = %q, want %q", expr, got, want)
		}
	}
}

// TestIsAbs: POSIX, Windows drive and UNC paths are absolute; others are not.
func TestIsAbs(t *testing.T) {
	for p, want := range map[string]bool{"/": true, "/home": true, `C:\Users`: true, "d:/data": true, `\\nas\share`: true,
		"home": false, "./x": false, "C:relative": false, "~/x": false, `\single`: false} {
		if isAbs(p) != want {
			t.Errorf("isAbs(%q) = %v", p, !want)
		}
	}
}
