package secrets

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadGeneratesOnceWith0600(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %v, want 0600", got)
	}
	k2, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1.master, k2.master) {
		t.Error("second Load generated a new key; want the stored one")
	}
}

func TestLoadRefusesOpenPermissions(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, ""); err == nil {
		t.Fatal("Load accepted a world-readable key file")
	}
}

func TestLoadGivenKey(t *testing.T) {
	if _, err := Load(t.TempDir(), "not base64!"); err == nil {
		t.Error("Load accepted a malformed key")
	}
	if _, err := Load(t.TempDir(), "AAAA"); err == nil {
		t.Error("Load accepted a 3-byte key")
	}
	k, err := Load(t.TempDir(), "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	if err != nil {
		t.Fatal(err)
	}
	if string(k.master) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("master = %q", k.master)
	}
}

func TestSealOpen(t *testing.T) {
	k, err := Load(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := k.Seal("s3", []byte("secret-key"), []byte("row-1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("secret-key")) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := k.Open("s3", sealed, []byte("row-1"))
	if err != nil || string(got) != "secret-key" {
		t.Fatalf("Open = %q, %v; want secret-key", got, err)
	}
	if _, err := k.Open("s3", sealed, []byte("row-2")); err == nil {
		t.Error("Open accepted a value sealed for another row")
	}
	if _, err := k.Open("other", sealed, []byte("row-1")); err == nil {
		t.Error("Open accepted a value sealed for another purpose")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Open("s3", sealed, []byte("row-1")); err == nil {
		t.Error("Open accepted a tampered value")
	}
	if bytes.Equal(k.Derive("a"), k.Derive("b")) {
		t.Error("Derive gave one key for two purposes")
	}
}
