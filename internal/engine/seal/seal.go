// Package seal turns a tar stream into the bytes that are stored — compressed with zstd,
// gzip or not at all, then optionally encrypted with age — and back, detecting the codec
// and the encryption from the stored bytes so that any archive can be opened without
// knowing how it was written.
package seal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"filippo.io/age"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"

	"github.com/backapp/backapp/internal/engine/seal/ageenc"
)

// Codecs.
const (
	Zstd = "zstd"
	Gzip = "gzip"
	None = "none"
)

// DefaultCodec and DefaultZstdLevel are what a backup uses when the config names none.
// zstd at level 1 compresses at several hundred MB/s per core, so on a 2-core machine
// reading, hashing and uploading — not compression — bound the backup; gzip, even
// parallel, is 3–5 times slower for a similar ratio. See docs/engine.md.
const (
	DefaultCodec     = Zstd
	DefaultZstdLevel = 1
	DefaultGzipLevel = 6
)

// Options say how to seal a stream.
type Options struct {
	Codec string // Zstd, Gzip or None; "" means DefaultCodec
	Level int    // zstd 1–22 or gzip 1–9; 0 means the codec's default
	// Recipients are age recipients (X25519 "age1…" public keys). A passphrase cannot
	// be combined with recipients: age allows a passphrase only as the sole recipient.
	Recipients []age.Recipient
	Passphrase string
	// ScryptWorkFactor is log2 of the scrypt cost for a passphrase (0: age's default, 18).
	ScryptWorkFactor int
	// Concurrency is the number of compressor goroutines; 0 means GOMAXPROCS. zstd with
	// more than one writes independent frames of FrameSize (see FrameSize).
	Concurrency int
	// Frames makes zstd write independent frames (gzip independent members) of
	// FrameSize even with one goroutine, each in one Write of at most MaxFrame bytes
	// (MaxWrite once encrypted): a backup that can resume needs them.
	Frames bool
	// ResumeAge continues an encrypted stream from the state Writer.AgeState returned
	// in an earlier process, instead of starting a new age file (no header is written).
	ResumeAge *ageenc.State
}

// MaxWrite is the most bytes one Write of a Writer with Frames passes on: a frame, or
// a frame encrypted with the chunk held from the frames before it (and the age header
// with the first).
func MaxWrite(o Options) int {
	if !o.Encrypted() {
		return MaxFrame
	}
	n := MaxFrame + ageenc.ChunkSize
	return n + (n/ageenc.ChunkSize+1)*ageenc.Overhead + 64<<10
}

// Encrypted reports whether o encrypts.
func (o Options) Encrypted() bool { return len(o.Recipients) > 0 || o.Passphrase != "" }

// Normalize fills defaults and validates o.
func (o Options) Normalize() (Options, error) {
	if o.Codec == "" {
		o.Codec = DefaultCodec
	}
	switch o.Codec {
	case Zstd:
		if o.Level == 0 {
			o.Level = DefaultZstdLevel
		}
		if o.Level < 1 || o.Level > 22 {
			return o, fmt.Errorf("zstd level %d: must be 1–22", o.Level)
		}
	case Gzip:
		if o.Level == 0 {
			o.Level = DefaultGzipLevel
		}
		if o.Level < 1 || o.Level > 9 {
			return o, fmt.Errorf("gzip level %d: must be 1–9", o.Level)
		}
	case None:
		o.Level = 0
	default:
		return o, fmt.Errorf("unknown compression %q: want zstd, gzip or none", o.Codec)
	}
	if o.Passphrase != "" && len(o.Recipients) > 0 {
		return o, errors.New("encryption: a passphrase cannot be combined with age recipients (age allows a passphrase only alone)")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = runtime.GOMAXPROCS(0)
	}
	return o, nil
}

// ParseRecipients parses age X25519 public keys ("age1…"), one per element or line;
// blank lines and # comments are ignored.
func ParseRecipients(keys ...string) ([]age.Recipient, error) {
	var rs []age.Recipient
	for _, k := range keys {
		parsed, err := age.ParseRecipients(strings.NewReader(k))
		if err != nil {
			return nil, fmt.Errorf("parse age recipient: %w", err)
		}
		rs = append(rs, parsed...)
	}
	return rs, nil
}

// ParseIdentities parses age identity files ("AGE-SECRET-KEY-1…" lines).
func ParseIdentities(text string) ([]age.Identity, error) {
	ids, err := age.ParseIdentities(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("parse age identity: %w", err)
	}
	return ids, nil
}

// PassphraseIdentity returns the identity that opens archives sealed with passphrase.
func PassphraseIdentity(passphrase string) (age.Identity, error) {
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return nil, fmt.Errorf("passphrase identity: %w", err)
	}
	return id, nil
}

// Writer compresses and encrypts; see NewWriter.
type Writer struct {
	closers []io.Closer // innermost (compressor) first
	w       io.Writer
	age     *ageenc.Writer
}

func (s *Writer) Write(p []byte) (int, error) { return s.w.Write(p) }

// AgeState returns the encryption's state (nil when not encrypted). With Frames, read
// in a Write of the destination, it is the state at the end of the frame being
// written: what a resumed Writer (Options.ResumeAge) continues from.
func (s *Writer) AgeState() *ageenc.State {
	if s.age == nil {
		return nil
	}
	st := s.age.State()
	return &st
}

func (s *Writer) Close() error {
	for _, c := range s.closers {
		if err := c.Close(); err != nil {
			return err
		}
	}
	return nil
}

// NewWriter returns a writer that compresses and encrypts into w. Close flushes every
// layer but does not close w. o must be normalized.
func NewWriter(w io.Writer, o Options) (*Writer, error) {
	s := &Writer{w: w}
	var enc io.WriteCloser
	switch {
	case o.Encrypted() && o.ResumeAge != nil:
		aw, err := ageenc.Resume(w, *o.ResumeAge)
		if err != nil {
			return nil, fmt.Errorf("encryption: %w", err)
		}
		s.age, enc, s.w = aw, aw, aw
	case o.Encrypted():
		rs := o.Recipients
		if o.Passphrase != "" {
			r, err := age.NewScryptRecipient(o.Passphrase)
			if err != nil {
				return nil, fmt.Errorf("encryption: %w", err)
			}
			if o.ScryptWorkFactor > 0 {
				r.SetWorkFactor(o.ScryptWorkFactor)
			}
			rs = []age.Recipient{r}
		}
		// Our age writer rather than age.Encrypt: the same format, but its state can
		// be saved for a resumed backup.
		aw, err := ageenc.NewWriter(w, rs...)
		if err != nil {
			return nil, fmt.Errorf("encryption: %w", err)
		}
		s.age, enc, s.w = aw, aw, aw
	}
	switch o.Codec {
	case Zstd:
		if o.Concurrency > 1 || o.Frames {
			fw, err := newFrameWriter(s.w, zstd.EncoderLevelFromZstd(o.Level), o.Concurrency)
			if err != nil {
				return nil, fmt.Errorf("zstd: %w", err)
			}
			s.w = fw
			s.closers = append(s.closers, fw)
			break
		}
		zw, err := zstd.NewWriter(s.w,
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(o.Level)),
			zstd.WithEncoderConcurrency(o.Concurrency),
			zstd.WithEncoderCRC(true),
			zstd.WithWindowSize(StreamWindow), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		s.w = zw
		s.closers = append(s.closers, zw)
	case Gzip:
		if o.Frames {
			fw, err := newGzipFrameWriter(s.w, o.Level, o.Concurrency)
			if err != nil {
				return nil, fmt.Errorf("gzip: %w", err)
			}
			s.w = fw
			s.closers = append(s.closers, fw)
			break
		}
		gw, err := pgzip.NewWriterLevel(s.w, o.Level)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		if err := gw.SetConcurrency(1<<20, o.Concurrency*2); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		s.w = gw
		s.closers = append(s.closers, gw)
	}
	if enc != nil {
		s.closers = append(s.closers, enc)
	}
	return s, nil
}

// ErrWrongKey is returned (wrapped) when no given identity opens an encrypted archive.
var ErrWrongKey = errors.New("wrong age key or passphrase")

// ErrEncrypted is returned (wrapped) when an archive is encrypted and no identity was given.
var ErrEncrypted = errors.New("archive is encrypted: an age identity or passphrase is needed")

const ageMagic = "age-encryption.org/"

// Info describes how a stream was sealed.
type Info struct {
	Codec     string
	Encrypted bool
}

type readCloser struct {
	io.Reader
	close func()
}

func (r readCloser) Close() error {
	if r.close != nil {
		r.close()
	}
	return nil
}

// NewReader detects encryption and compression in r and returns the plain tar (or
// manifest) stream. Errors from the returned reader name the layer that failed: a
// truncated or corrupted archive fails in decryption (authenticated) or decompression.
func NewReader(r io.Reader, ids []age.Identity) (io.ReadCloser, Info, error) {
	var info Info
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(len(ageMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, info, fmt.Errorf("read archive: %w", err)
	}
	var plain io.Reader = br
	if bytes.Equal(head, []byte(ageMagic)) {
		info.Encrypted = true
		if len(ids) == 0 {
			return nil, info, ErrEncrypted
		}
		d, err := age.Decrypt(br, ids...)
		if err != nil {
			var nm *age.NoIdentityMatchError
			if errors.As(err, &nm) || strings.Contains(err.Error(), "incorrect passphrase") {
				return nil, info, fmt.Errorf("decrypt archive: %w: %v", ErrWrongKey, err)
			}
			return nil, info, fmt.Errorf("decrypt archive: %w", err)
		}
		plain = &layerErr{r: d, what: "decrypt archive (truncated or corrupted)"}
	}
	pr := bufio.NewReaderSize(plain, 64<<10)
	magic, err := pr.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, info, fmt.Errorf("read archive: %w", err)
	}
	switch {
	case len(magic) >= 4 && bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		info.Codec = Zstd
		zr, err := newFrameReader(pr)
		if err != nil {
			return nil, info, fmt.Errorf("zstd: %w", err)
		}
		return readCloser{Reader: &layerErr{r: zr, what: "decompress zstd (truncated or corrupted)"}, close: zr.Close}, info, nil
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		info.Codec = Gzip
		gr, err := gzip.NewReader(pr)
		if err != nil {
			return nil, info, fmt.Errorf("gzip: %w", err)
		}
		return readCloser{Reader: &layerErr{r: gr, what: "decompress gzip (truncated or corrupted)"}, close: func() { gr.Close() }}, info, nil
	default:
		info.Codec = None
		return readCloser{Reader: pr}, info, nil
	}
}

// layerErr names the layer in errors other than io.EOF, and turns an EOF in the middle
// of a frame into io.ErrUnexpectedEOF.
type layerErr struct {
	r    io.Reader
	what string
}

func (l *layerErr) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", l.what, err)
	}
	return n, err
}
