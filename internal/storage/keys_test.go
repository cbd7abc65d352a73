package storage

import (
	"strings"
	"testing"
	"time"
)

func TestArchiveKey(t *testing.T) {
	// 21:04:05 in UTC-7 is 04:04:05 the next day in UTC: the key must use UTC.
	at := time.Date(2026, 1, 2, 21, 4, 5, 999, time.FixedZone("UTC-7", -7*3600))
	const prefix = "users/u1/agents/a1/configs/c1/"
	tests := []struct {
		compression string
		encrypted   bool
		want        string
	}{
		{CompressionGzip, false, prefix + "backup-2026-01-03-040405.tar.gz"},
		{CompressionGzip, true, prefix + "backup-2026-01-03-040405.tar.gz.age"},
		{CompressionZstd, false, prefix + "backup-2026-01-03-040405.tar.zst"},
		{CompressionZstd, true, prefix + "backup-2026-01-03-040405.tar.zst.age"},
		{CompressionNone, false, prefix + "backup-2026-01-03-040405.tar"},
		{CompressionNone, true, prefix + "backup-2026-01-03-040405.tar.age"},
	}
	for _, tt := range tests {
		got := ArchiveKey("u1", "a1", "c1", at, tt.compression, tt.encrypted)
		if got != tt.want {
			t.Errorf("ArchiveKey(%q, %v) = %q, want %q", tt.compression, tt.encrypted, got, tt.want)
		}
		if err := ValidateKey(got); err != nil {
			t.Errorf("ArchiveKey(%q, %v) is not a valid key: %v", tt.compression, tt.encrypted, err)
		}
		if !KeyUnder(got, AgentPrefix("u1", "a1")) {
			t.Errorf("ArchiveKey(%q, %v) = %q is not under AgentPrefix %q", tt.compression, tt.encrypted, got, AgentPrefix("u1", "a1"))
		}
	}
}

func TestArchiveKeyUnknownCompressionPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("ArchiveKey with compression %q did not panic", "lz4")
		}
	}()
	ArchiveKey("u", "a", "c", time.Now(), "lz4", false)
}

func TestManifestKeyAndPrefixes(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"ManifestKey", ManifestKey("users/u/agents/a/configs/c/backup-2026-01-03-040405.tar.zst.age"),
			"users/u/agents/a/configs/c/backup-2026-01-03-040405.tar.zst.age.manifest"},
		{"UserPrefix", UserPrefix("u"), "users/u/"},
		{"AgentPrefix", AgentPrefix("u", "a"), "users/u/agents/a/"},
		{"ConfigPrefix", ConfigPrefix("u", "a", "c"), "users/u/agents/a/configs/c/"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestKeyUnder(t *testing.T) {
	prefix := AgentPrefix("u", "a")
	tests := []struct {
		key  string
		want bool
	}{
		{"users/u/agents/a/configs/c/backup.tar.gz", true},
		{"users/u/agents/a/x", true},
		{"users/u/agents/a/", false},             // the prefix itself is no object
		{"users/u/agents/ab/x", false},           // sibling agent sharing a name prefix
		{"users/u/agents/a/../b/x", false},       // escapes through ..
		{"users/u/agents/a/./x", false},          // . segment
		{"users/u/agents/a//x", false},           // empty segment
		{"users/u/agents/b/x", false},            // another agent
		{"users/u/agents/a/x\x00y", false},       // NUL
		{"users/u/agents/a/x\\..\\..\\b", false}, // backslashes
		{"/users/u/agents/a/x", false},           // absolute
		{"users/u/agents/a/" + strings.Repeat("x", MaxKeyLength), false},
	}
	for _, tt := range tests {
		if got := KeyUnder(tt.key, prefix); got != tt.want {
			t.Errorf("KeyUnder(%q, %q) = %v, want %v", tt.key, prefix, got, tt.want)
		}
	}
}

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key     string
		wantErr string // "" means valid
	}{
		{"a", ""},
		{"users/u/agents/a/configs/c/backup-2026-01-03-040405.tar.gz", ""},
		{"ünïcödé/名前 with spaces", ""},
		{"a/.hidden", ""},
		{"", "empty"},
		{"/a", "absolute"},
		{"a/", "empty path segment"},
		{"a//b", "empty path segment"},
		{"..", `".." segment`},
		{"a/../b", `".." segment`},
		{"./a", `"." segment`},
		{`a\b`, "backslash"},
		{"a\x00b", "NUL"},
		{"a\nb", "control character"},
		{"a\xffb", "UTF-8"},
		{strings.Repeat("k", MaxKeyLength+1), "longer than"},
	}
	for _, tt := range tests {
		err := ValidateKey(tt.key)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ValidateKey(%q) = %v, want nil", tt.key, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("ValidateKey(%q) = nil, want error containing %q", tt.key, tt.wantErr)
		case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
			t.Errorf("ValidateKey(%q) = %v, want error containing %q", tt.key, err, tt.wantErr)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"", true},
		{"users/", true},
		{"users/u/agents/a/configs/c/backup-", true},
		{"users/u/../", false},
		{"../", false},
		{"/users/", false},
		{"a//", false},
		{"a\\b", false},
	}
	for _, tt := range tests {
		if err := validatePrefix(tt.prefix); (err == nil) != tt.ok {
			t.Errorf("validatePrefix(%q) = %v, want ok=%v", tt.prefix, err, tt.ok)
		}
	}
}
