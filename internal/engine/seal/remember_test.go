package seal

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"filippo.io/age"
)

// countUnwraps counts the unwraps that reach an identity.
type countUnwraps struct {
	id age.Identity
	n  int
}

func (c *countUnwraps) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	c.n++
	return c.id.Unwrap(stanzas)
}

// sealed is plain sealed with passphrase at scrypt cost 2^10.
func sealed(t *testing.T, plain, passphrase string) []byte {
	t.Helper()
	o, err := Options{Codec: Zstd, Passphrase: passphrase, ScryptWorkFactor: 10, Concurrency: 1}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := NewWriter(&b, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func open(t *testing.T, file []byte, ids []age.Identity) (string, error) {
	t.Helper()
	r, _, err := NewReader(bytes.NewReader(file), ids)
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

// TestRememberKeys: a file read again is not unwrapped again; another file, a wrong
// passphrase and a changed stanza are; forget zeroes what was remembered.
func TestRememberKeys(t *testing.T) {
	const pass = "correct horse battery staple"
	a, b := sealed(t, "file a", pass), sealed(t, "file b", pass)
	id, err := PassphraseIdentity(pass)
	if err != nil {
		t.Fatal(err)
	}
	counted := &countUnwraps{id: id}
	ids, forget := RememberKeys([]age.Identity{counted})
	for i, c := range []struct {
		file       []byte
		want       string
		wantUnwrap int // unwraps so far
	}{{a, "file a", 1}, {a, "file a", 1}, {b, "file b", 2}, {a, "file a", 2}, {b, "file b", 2}} {
		got, err := open(t, c.file, ids)
		if err != nil || got != c.want {
			t.Fatalf("reading %d: got %q, %v; want %q", i, got, err, c.want)
		}
		if counted.n != c.wantUnwrap {
			t.Errorf("after reading %d: %d unwraps, want %d", i, counted.n, c.wantUnwrap)
		}
	}

	// The key handed out is the caller's own: changing it changes nothing remembered.
	stanzas := headerStanzas(t, a)
	k1, err := ids[0].Unwrap(stanzas)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(k1)
	clear(k1)
	if k2, err := ids[0].Unwrap(stanzas); err != nil || !bytes.Equal(k2, want) {
		t.Errorf("key after the caller cleared its copy: %x, %v; want %x", k2, err, want)
	}

	// A stanza differing in one byte of its body is unwrapped, and fails.
	n := counted.n
	changed := *stanzas[0]
	changed.Body = slices.Clone(changed.Body)
	changed.Body[0] ^= 1
	if _, err := ids[0].Unwrap([]*age.Stanza{&changed}); err == nil {
		t.Error("a changed stanza unwrapped")
	}
	if counted.n != n+1 {
		t.Errorf("a changed stanza: %d unwraps, want %d", counted.n-n, 1)
	}

	// forget zeroes the remembered keys, and the next reading unwraps again.
	r := ids[0].(*rememberingIdentity)
	var kept [][]byte
	for _, k := range r.keys {
		kept = append(kept, k)
	}
	forget()
	for _, k := range kept {
		if !bytes.Equal(k, make([]byte, len(k))) {
			t.Errorf("forget left a key: %x", k)
		}
	}
	n = counted.n
	if got, err := open(t, a, ids); err != nil || got != "file a" {
		t.Fatalf("after forget: got %q, %v", got, err)
	}
	if counted.n != n+1 {
		t.Errorf("after forget: %d unwraps, want 1", counted.n-n)
	}

	// A wrong passphrase fails every time (nothing is remembered of a failure).
	wrong, _ := PassphraseIdentity("wrong")
	wrongCounted := &countUnwraps{id: wrong}
	ids, forget = RememberKeys([]age.Identity{wrongCounted})
	defer forget()
	for range 2 {
		if _, err := open(t, a, ids); !errors.Is(err, ErrWrongKey) {
			t.Errorf("wrong passphrase: got %v, want ErrWrongKey", err)
		}
	}
	if wrongCounted.n != 2 {
		t.Errorf("wrong passphrase: %d unwraps, want 2", wrongCounted.n)
	}
}

// headerStanzas are the recipient stanzas of an age file, as age.Decrypt hands them
// to identities.
func headerStanzas(t *testing.T, file []byte) []*age.Stanza {
	t.Helper()
	var got []*age.Stanza
	grab := identityFunc(func(s []*age.Stanza) ([]byte, error) {
		got = s
		return nil, age.ErrIncorrectIdentity
	})
	_, _ = age.Decrypt(bytes.NewReader(file), grab)
	if len(got) == 0 {
		t.Fatal("no stanzas in the header")
	}
	return got
}

type identityFunc func([]*age.Stanza) ([]byte, error)

func (f identityFunc) Unwrap(s []*age.Stanza) ([]byte, error) { return f(s) }
