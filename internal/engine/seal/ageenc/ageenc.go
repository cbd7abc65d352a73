// Package ageenc writes the age v1 format (age-encryption.org/v1) with a state that can
// be saved and continued: filippo.io/age's writer keeps its STREAM state private, so a
// backup encrypted with it cannot resume after the process dies. The output is standard
// age, read by age.Decrypt and `age -d`; the recipients' stanzas come from age itself
// (age.Recipient.Wrap), only the header's framing and MAC and the payload are written
// here, following https://github.com/C2SP/C2SP/blob/main/age.md.
//
// The payload is STREAM over ChaCha20-Poly1305: the key is HKDF-SHA256(file key, salt
// the 16-byte nonce after the header, info "payload"), the plaintext is cut into 64 KiB
// chunks, each sealed with the nonce 11-byte big-endian chunk counter ‖ last-chunk flag.
// Only the last chunk may be shorter than 64 KiB (and empty only when the whole
// plaintext is), so a full chunk is held until more bytes show it is not the last.
package ageenc

import (
	"bytes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// ChunkSize is the plaintext size of every payload chunk but the last.
const ChunkSize = 64 << 10

// Overhead is what sealing adds to each chunk.
const Overhead = chacha20poly1305.Overhead

// State is where a Writer stands between two Writes: enough to continue the payload
// in another process. It holds the payload key — anyone who has it and the file can
// decrypt the file — and up to ChunkSize plaintext bytes not yet sealed.
type State struct {
	Key     []byte `json:"key"`     // payload key (32 bytes)
	Counter uint64 `json:"counter"` // chunks sealed so far
	Pending []byte `json:"pending"` // plaintext of the chunk being filled
}

// Writer encrypts to dst. Every Write makes exactly one Write to dst (possibly empty):
// the header and nonce go with the first, then every chunk the bytes so far complete.
type Writer struct {
	dst     io.Writer
	aead    cipher.AEAD
	key     []byte
	head    []byte // header and nonce, until written
	counter uint64
	pending []byte // cap ChunkSize
	out     []byte
	err     error
}

// NewWriter starts an age file for recipients (X25519 recipients, or one scrypt
// recipient for a passphrase). Nothing is written to dst before the first Write or Close.
func NewWriter(dst io.Writer, recipients ...age.Recipient) (*Writer, error) {
	if len(recipients) == 0 {
		return nil, errors.New("age: no recipients")
	}
	fileKey := make([]byte, 16)
	rand.Read(fileKey)
	var hdr bytes.Buffer
	hdr.WriteString("age-encryption.org/v1\n")
	var labels []string
	for i, r := range recipients {
		var stanzas []*age.Stanza
		var l []string
		var err error
		if rl, ok := r.(age.RecipientWithLabels); ok {
			stanzas, l, err = rl.WrapWithLabels(fileKey)
		} else {
			stanzas, err = r.Wrap(fileKey)
		}
		if err != nil {
			return nil, fmt.Errorf("age: wrap the file key for recipient #%d: %w", i, err)
		}
		slices.Sort(l)
		if i == 0 {
			labels = l
		} else if !slices.Equal(labels, l) {
			return nil, fmt.Errorf("age: recipients %q and %q cannot be mixed (a passphrase must be the only recipient)", labels, l)
		}
		for _, s := range stanzas {
			if err := writeStanza(&hdr, s); err != nil {
				return nil, err
			}
		}
	}
	hdr.WriteString("---")
	mac := hmac.New(sha256.New, derive(fileKey, nil, "header"))
	mac.Write(hdr.Bytes())
	hdr.WriteString(" " + base64.RawStdEncoding.EncodeToString(mac.Sum(nil)) + "\n")
	nonce := make([]byte, 16)
	rand.Read(nonce)
	hdr.Write(nonce)
	w, err := Resume(dst, State{Key: derive(fileKey, nonce, "payload")})
	if err != nil {
		return nil, err
	}
	w.head = hdr.Bytes()
	return w, nil
}

// Resume continues a payload from a Writer's State, in a new process: the header and
// the chunks before the state are already in the file.
func Resume(dst io.Writer, st State) (*Writer, error) {
	if len(st.Pending) > ChunkSize {
		return nil, fmt.Errorf("age: resume: %d pending bytes, at most %d", len(st.Pending), ChunkSize)
	}
	aead, err := chacha20poly1305.New(st.Key)
	if err != nil {
		return nil, fmt.Errorf("age: resume: %w", err)
	}
	p := make([]byte, len(st.Pending), ChunkSize)
	copy(p, st.Pending)
	return &Writer{dst: dst, aead: aead, key: slices.Clone(st.Key), counter: st.Counter, pending: p}, nil
}

// State returns where the writer stands; valid until the next Write.
func (w *Writer) State() State {
	return State{Key: w.key, Counter: w.counter, Pending: slices.Clone(w.pending)}
}

func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := len(p)
	out := append(w.out[:0], w.head...)
	// A full chunk is sealed only once a byte after it shows it is not the last.
	if len(w.pending) > 0 {
		k := min(len(p), ChunkSize-len(w.pending))
		w.pending = append(w.pending, p[:k]...)
		p = p[k:]
		if len(p) > 0 {
			out = w.seal(out, w.pending, false)
			w.pending = w.pending[:0]
		}
	}
	for len(p) > ChunkSize {
		out = w.seal(out, p[:ChunkSize], false)
		p = p[ChunkSize:]
	}
	w.pending = append(w.pending, p...)
	w.out = out
	if _, err := w.dst.Write(out); err != nil {
		w.err = err
		return 0, err
	}
	w.head = nil
	return n, nil
}

// Close seals the last chunk (with the header if nothing was written). It does not
// close dst.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	out := w.seal(append(w.out[:0], w.head...), w.pending, true)
	w.err = errors.New("age: write after close")
	if _, err := w.dst.Write(out); err != nil {
		w.err = err
		return err
	}
	return nil
}

func (w *Writer) seal(out, chunk []byte, last bool) []byte {
	var nonce [chacha20poly1305.NonceSize]byte
	// 11-byte big-endian counter: the top 3 bytes stay zero (2^64 chunks is 1 ZiB).
	for i, c := 10, w.counter; i >= 3; i, c = i-1, c>>8 {
		nonce[i] = byte(c)
	}
	if last {
		nonce[11] = 1
	}
	w.counter++
	return w.aead.Seal(out, nonce[:], chunk, nil)
}

// derive is HKDF-SHA256 to 32 bytes.
func derive(ikm, salt []byte, info string) []byte {
	k := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, ikm, salt, []byte(info)), k); err != nil {
		panic("age: hkdf: " + err.Error())
	}
	return k
}

// writeStanza writes "-> type args…" and the body in base64 (no padding) in lines of
// 64 columns, the last one shorter (so empty when the body fills its lines).
func writeStanza(b *bytes.Buffer, s *age.Stanza) error {
	for _, a := range append([]string{s.Type}, s.Args...) {
		if a == "" || strings.ContainsFunc(a, func(r rune) bool { return r < 33 || r > 126 }) {
			return fmt.Errorf("age: invalid stanza argument %q", a)
		}
	}
	b.WriteString("-> " + strings.Join(append([]string{s.Type}, s.Args...), " ") + "\n")
	body := base64.RawStdEncoding.EncodeToString(s.Body)
	for len(body) >= 64 {
		b.WriteString(body[:64] + "\n")
		body = body[64:]
	}
	b.WriteString(body + "\n")
	return nil
}
