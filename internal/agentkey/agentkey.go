// Package agentkey makes and checks agent keys: 256-bit random secrets shown once,
// stored only as their SHA-256 (a hash of a 256-bit random secret needs no bcrypt, and
// bcrypt on every heartbeat would cap a server at tens of agents per second).
package agentkey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

// Prefix starts every key, so a leaked key is recognisable (secret scanners).
const Prefix = "bak_"

// DisplayPrefixLen is how many characters of a key (prefix included) are kept to
// identify it in lists ("bak_3F9AKQ2M").
const DisplayPrefixLen = len(Prefix) + 8

// encoding is unpadded lowercase base32: only [a-z2-7], so a key survives shells,
// config files and URLs without quoting; 256 bits give 52 characters.
var encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Generate returns a new key, its hash (what the store keeps) and its display prefix.
func Generate() (key, hash, prefix string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on supported platforms (Go ≥ 1.24 it panics itself).
		panic("agentkey: read random bytes: " + err.Error())
	}
	key = Prefix + encoding.EncodeToString(b[:])
	return key, Hash(key), key[:DisplayPrefixLen]
}

// Hash is the hex SHA-256 of a key: what the store keeps and looks keys up by.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// WellFormed reports whether key looks like a key Generate makes, so obvious garbage is
// refused without a database round trip.
func WellFormed(key string) bool {
	rest, ok := strings.CutPrefix(key, Prefix)
	if !ok || len(rest) != 52 {
		return false
	}
	_, err := encoding.DecodeString(rest)
	return err == nil
}

// Verify reports whether key hashes to hash, in constant time.
func Verify(key, hash string) bool {
	h := Hash(key)
	return len(h) == len(hash) && subtle.ConstantTimeCompare([]byte(h), []byte(hash)) == 1
}
