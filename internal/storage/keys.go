package storage

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Compression names as used in archive keys and backup configurations.
const (
	CompressionGzip = "gzip"
	CompressionZstd = "zstd"
	CompressionNone = "none"
)

// ArchiveKey returns the object key of an archive, exactly as the seed plan names it:
//
//	users/{userId}/agents/{agentId}/configs/{configId}/backup-YYYY-MM-DD-HHMMSS.tar.gz
//
// with .tar.zst for zstd, .tar for none and .age appended when encrypted. t is converted
// to UTC. compression is one of CompressionGzip, CompressionZstd or CompressionNone;
// configurations are validated when saved, so any other value is a programming error
// and panics rather than naming an archive wrongly.
func ArchiveKey(userID, agentID, configID string, t time.Time, compression string, encrypted bool) string {
	return ArchiveKeyN(userID, agentID, configID, t, 1, compression, encrypted)
}

// ArchiveKeyN is ArchiveKey for the nth run of a configuration within the second t:
// n <= 1 gives ArchiveKey's name, n >= 2 appends "-n" to the time
// (backup-YYYY-MM-DD-HHMMSS-2.tar.gz), so runs started within one second get distinct
// names that still sort by time.
func ArchiveKeyN(userID, agentID, configID string, t time.Time, n int, compression string, encrypted bool) string {
	var ext string
	switch compression {
	case CompressionGzip:
		ext = ".tar.gz"
	case CompressionZstd:
		ext = ".tar.zst"
	case CompressionNone:
		ext = ".tar"
	default:
		panic(fmt.Sprintf("storage.ArchiveKey: unknown compression %q", compression))
	}
	if encrypted {
		ext += ".age"
	}
	name := "backup-" + t.UTC().Format("2006-01-02-150405")
	if n >= 2 {
		name += "-" + strconv.Itoa(n)
	}
	return ConfigPrefix(userID, agentID, configID) + name + ext
}

// ManifestKey returns the key of the manifest stored beside an archive.
func ManifestKey(archiveKey string) string { return archiveKey + ".manifest" }

// CatalogKey is the object key of the server's sealed catalog copy of a run's
// manifest (names, sizes, times and hashes, never contents). It lives under the
// user's prefix but outside every agent's prefix, so no agent can get a URL for it:
//
//	users/{userId}/catalog/{configId}/{runId}.manifest.zst.sealed
func CatalogKey(userID, configID, runID string) string {
	return UserPrefix(userID) + "catalog/" + configID + "/" + runID + ".manifest.zst.sealed"
}

// UserPrefix is the prefix under which every object of a user lives, ending in "/".
func UserPrefix(userID string) string { return "users/" + userID + "/" }

// AgentPrefix is the prefix under which every object an agent may touch lives, ending
// in "/". The server checks that each key it presigns for an agent starts with it.
func AgentPrefix(userID, agentID string) string {
	return UserPrefix(userID) + "agents/" + agentID + "/"
}

// ConfigPrefix is the prefix of one backup configuration's archives, ending in "/".
func ConfigPrefix(userID, agentID, configID string) string {
	return AgentPrefix(userID, agentID) + "configs/" + configID + "/"
}

// KeyUnder reports whether key is a valid key inside prefix. Unlike a bare
// strings.HasPrefix it rejects keys that could resolve elsewhere ("users/u/agents/a/../b").
func KeyUnder(key, prefix string) bool {
	return ValidateKey(key) == nil && strings.HasPrefix(key, prefix) && len(key) > len(prefix)
}

// MaxKeyLength is S3's limit on the length of an object key in bytes.
const MaxKeyLength = 1024

// ValidateKey checks that key is a safe object key: relative, slash-separated, valid
// UTF-8, without empty, "." or ".." segments, backslashes, NUL or other control
// characters. Both destinations refuse other keys, so a key can never name a file
// outside the local directory nor be normalised into another key by an S3 server.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("invalid object key: empty")
	}
	if len(key) > MaxKeyLength {
		return fmt.Errorf("invalid object key %.40q…: longer than %d bytes", key, MaxKeyLength)
	}
	if err := validatePath(key); err != nil {
		return fmt.Errorf("invalid object key %q: %w", key, err)
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("invalid object key %q: empty path segment (leading, trailing or double slash)", key)
		case ".", "..":
			return fmt.Errorf("invalid object key %q: %q segment", key, seg)
		}
	}
	return nil
}

// validatePrefix checks a listing prefix: like a key, but it may be empty and end in "/".
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if len(prefix) > MaxKeyLength {
		return fmt.Errorf("invalid prefix %.40q…: longer than %d bytes", prefix, MaxKeyLength)
	}
	if err := validatePath(prefix); err != nil {
		return fmt.Errorf("invalid prefix %q: %w", prefix, err)
	}
	segs := strings.Split(strings.TrimSuffix(prefix, "/"), "/")
	for i, seg := range segs {
		if seg == ".." || seg == "." && i < len(segs)-1 || seg == "" {
			return fmt.Errorf("invalid prefix %q: %q segment", prefix, seg)
		}
	}
	return nil
}

func validatePath(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	if strings.HasPrefix(s, "/") {
		return fmt.Errorf("absolute")
	}
	for _, r := range s {
		switch {
		case r == '\\':
			return fmt.Errorf("contains a backslash")
		case r == 0:
			return fmt.Errorf("contains NUL")
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("contains control character %U", r)
		}
	}
	return nil
}
