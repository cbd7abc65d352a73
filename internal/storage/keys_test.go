package storage

import (
	"fmt"
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

func TestArchiveKeyN(t *testing.T) {
	at := time.Date(2026, 1, 3, 4, 4, 5, 0, time.UTC)
	const prefix = "users/u1/agents/a1/configs/c1/"
	for _, tt := range []struct {
		n    int
		want string
	}{
		{0, prefix + "backup-2026-01-03-040405.tar.zst"},
		{1, prefix + "backup-2026-01-03-040405.tar.zst"},
		{2, prefix + "backup-2026-01-03-040405-2.tar.zst"},
		{12, prefix + "backup-2026-01-03-040405-12.tar.zst"},
	} {
		got := ArchiveKeyN("u1", "a1", "c1", at, tt.n, CompressionZstd, false)
		if got != tt.want {
			t.Errorf("ArchiveKeyN(n=%d) = %q, want %q", tt.n, got, tt.want)
		}
		if err := ValidateKey(got); err != nil {
			t.Errorf("ArchiveKeyN(n=%d) is not a valid key: %v", tt.n, err)
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
		{"a\nb", "control character U+000A"},
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

func TestValidateLocalKey(t *testing.T) {
	tests := []struct {
		key     string
		wantErr string // "" means valid; otherwise the error names the key and this
	}{
		{"users/u/agents/a/configs/c/backup-2026-01-03-040405.tar.zst.age", ""},
		{"users/u/agents/a/configs/c/backup-2026-01-03-040405.tar.zst.age.manifest", ""},
		{".backapp-test/probe-0123456789abcdef", ""},
		{"ünïcödé/名前 with spaces/a.b.c", ""},
		{"a/CONFIG/console/nullable/com10/lpt", ""}, // reserved names only in full
		{"a/.hidden", ""},
		{"a/" + strings.Repeat("n", 255), ""},
		// What every destination refuses still comes first.
		{"a/../b", `".." segment`},
		{`a\b`, "backslash"},
		{"/a", "absolute"},
		{"a\nb", "control character U+000A"},
		// Characters Windows refuses.
		{"users/u/a:b", `':'`},
		{"C:/x", `':'`},
		{"a/b<c", `'<'`},
		{"a/b>c", `'>'`},
		{`a/b"c`, `'"'`},
		{"a/b|c", `'|'`},
		{"a/b?c", `'?'`},
		{"a/b*c", `'*'`},
		{"a/b\u0085c", "control character U+0085"},
		// Names Windows changes or resolves elsewhere.
		{"a/b./c", `segment "b." ends in a dot`},
		{"a/b ", `segment "b " ends in a space`},
		{"a/...", `segment "..." ends in a dot`},
		{"a/CON", "Windows device name CON"},
		{"a/nul.tar.gz", "Windows device name NUL"},
		{"Aux/x", "Windows device name AUX"},
		{"a/com1", "Windows device name COM1"},
		{"a/LPT9.txt", "Windows device name LPT9"},
		{"a/NUL .txt", "Windows device name NUL"},
		{"a/COM¹", "Windows device name COM¹"},
		{"a/conin$", "Windows device name CONIN$"},
		{"a/" + strings.Repeat("n", 256) + "/b", "256 bytes, longer than the 255"},
	}
	for _, tt := range tests {
		err := validateLocalKey(tt.key)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("validateLocalKey(%q) = %v, want nil", tt.key, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("validateLocalKey(%q) = nil, want error containing %q", tt.key, tt.wantErr)
		case tt.wantErr != "" && (!strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.key))):
			t.Errorf("validateLocalKey(%q) = %v, want error naming the key and containing %q", tt.key, err, tt.wantErr)
		}
		// The local rules only add to the shared ones.
		if tt.wantErr == "" && ValidateKey(tt.key) != nil {
			t.Errorf("ValidateKey(%q) refuses a key validateLocalKey accepts", tt.key)
		}
	}
}

func TestValidateLocalPrefix(t *testing.T) {
	tests := []struct {
		prefix  string
		wantErr string
	}{
		{"", ""},
		{"users/", ""},
		{"users/u/agents/a/configs/c/backup-2026.", ""}, // the start of a name may end in a dot
		{"users/u/CON", ""},                             // … or be the start of CONFIG
		{"users/u/a ", ""},
		{"users/u:x/", `':'`},
		{"users/u/a:", `':'`}, // characters are checked in the last segment too
		{"users/u/a?", `'?'`},
		{"users/CON/", "Windows device name CON"},
		{"users/u./x", `ends in a dot`},
		{"users/../", `".." segment`},
	}
	for _, tt := range tests {
		err := validateLocalPrefix(tt.prefix)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("validateLocalPrefix(%q) = %v, want nil", tt.prefix, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("validateLocalPrefix(%q) = nil, want error containing %q", tt.prefix, tt.wantErr)
		case tt.wantErr != "" && (!strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.prefix))):
			t.Errorf("validateLocalPrefix(%q) = %v, want error naming the prefix and containing %q", tt.prefix, err, tt.wantErr)
		}
	}
}

// Every key shape the product makes must be storable in a local destination: a key
// format change that breaks this (an RFC 3339 time with colons, say) fails here.
func TestProductKeysAreLocalKeys(t *testing.T) {
	at := time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
	const id = "01936f4e-8c2a-7b3d-9e4f-0123456789ab" // the store's ids are UUIDs
	keys := []string{testPrefix + "probe-" + randomHex(8)}
	for _, c := range []string{CompressionGzip, CompressionZstd, CompressionNone} {
		for _, enc := range []bool{false, true} {
			k := ArchiveKey(id, id, id, at, c, enc)
			keys = append(keys, k, ManifestKey(k))
		}
	}
	for _, k := range keys {
		if err := validateLocalKey(k); err != nil {
			t.Errorf("product key %q: %v", k, err)
		}
	}
	for _, p := range []string{UserPrefix(id), AgentPrefix(id, id), ConfigPrefix(id, id, id), ConfigPrefix(id, id, id) + "backup-"} {
		if err := validateLocalPrefix(p); err != nil {
			t.Errorf("product prefix %q: %v", p, err)
		}
	}
}
