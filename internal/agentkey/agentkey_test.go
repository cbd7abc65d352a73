package agentkey

import (
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		key, hash, prefix := Generate()
		if !strings.HasPrefix(key, Prefix) || len(key) != len(Prefix)+52 {
			t.Fatalf("key %q: want %q + 52 characters", key, Prefix)
		}
		if !WellFormed(key) {
			t.Fatalf("WellFormed(%q) = false", key)
		}
		if hash != Hash(key) || len(hash) != 64 {
			t.Fatalf("hash %q, want Hash(key) = %q", hash, Hash(key))
		}
		if prefix != key[:DisplayPrefixLen] {
			t.Fatalf("prefix %q, want %q", prefix, key[:DisplayPrefixLen])
		}
		if !Verify(key, hash) {
			t.Fatal("Verify(key, hash) = false")
		}
		if seen[key] {
			t.Fatal("duplicate key")
		}
		seen[key] = true
	}
}

func TestVerifyRefuses(t *testing.T) {
	key, hash, _ := Generate()
	other, _, _ := Generate()
	for _, tc := range []struct{ key, hash string }{
		{other, hash},
		{key, ""},
		{key, hash[:63]},
		{"", hash},
	} {
		if Verify(tc.key, tc.hash) {
			t.Errorf("Verify(%q, %q) = true", tc.key, tc.hash)
		}
	}
}

func TestWellFormed(t *testing.T) {
	key, _, _ := Generate()
	for _, k := range []string{"", "bak_", "bak_short", strings.ToUpper(key), "xyz_" + key[4:], key + "a", key[:len(key)-1] + "1"} {
		if WellFormed(k) {
			t.Errorf("WellFormed(%q) = true", k)
		}
	}
}
