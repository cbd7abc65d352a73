// Package secrets holds the server's master key: it loads or generates it (once, into
// the data directory with 0600 permissions), derives purpose-specific keys from it,
// and seals small secrets (storage credentials) with AES-256-GCM.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeyFile is the master key's file name inside the data directory.
const KeyFile = "master.key"

// Keys is the master key and what is derived from it.
type Keys struct {
	master []byte
}

// Load returns the master key: given (base64) when not empty, else read from
// dataDir/master.key, else generated into that file (0600). A key file readable by
// others is refused.
func Load(dataDir, given string) (*Keys, error) {
	if given != "" {
		k, err := base64.StdEncoding.DecodeString(given)
		if err != nil || len(k) != 32 {
			return nil, errors.New("master key must be the base64 encoding of 32 bytes")
		}
		return &Keys{master: k}, nil
	}
	path := filepath.Join(dataDir, KeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("stat master key: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("master key %s is readable by others (mode %v); run chmod 600 %s", path, fi.Mode().Perm(), path)
		}
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("master key %s is not the base64 encoding of 32 bytes", path)
		}
		return &Keys{master: k}, nil
	case errors.Is(err, fs.ErrNotExist):
		return generate(dataDir, path)
	default:
		return nil, fmt.Errorf("read master key: %w", err)
	}
}

func generate(dataDir, path string) (*Keys, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	k := make([]byte, 32)
	rand.Read(k)
	// O_EXCL: two servers starting at once on one data directory must not each write
	// a different key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return Load(dataDir, "")
	}
	if err != nil {
		return nil, fmt.Errorf("create master key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write master key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write master key: %w", err)
	}
	return &Keys{master: k}, nil
}

// Derive returns a 32-byte key for purpose (HKDF-SHA256), so no two uses share a key.
func (k *Keys) Derive(purpose string) []byte {
	out, err := hkdf.Key(sha256.New, k.master, nil, "backapp "+purpose, 32)
	if err != nil {
		panic(err) // only for lengths HKDF cannot produce
	}
	return out
}

// Seal encrypts plaintext with AES-256-GCM under the key for purpose; context (for
// example the row id) is bound as associated data so a sealed value cannot be moved
// to another row.
func (k *Keys) Seal(purpose string, plaintext, context []byte) ([]byte, error) {
	aead, err := k.aead(purpose)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, plaintext, context), nil
}

// Open decrypts what Seal produced.
func (k *Keys) Open(purpose string, sealed, context []byte) ([]byte, error) {
	aead, err := k.aead(purpose)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("sealed secret is too short")
	}
	pt, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], context)
	if err != nil {
		return nil, errors.New("cannot decrypt secret: wrong master key or corrupted data")
	}
	return pt, nil
}

func (k *Keys) aead(purpose string) (cipher.AEAD, error) {
	b, err := aes.NewCipher(k.Derive("seal " + purpose))
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(b)
}
