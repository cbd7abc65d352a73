package seal

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// FrameSize is how much of the tar stream one zstd frame holds when a writer compresses
// with more than one goroutine. A streaming zstd encoder compresses one block after
// another, so it keeps a single core busy however many it is given; cutting the stream
// into independent frames lets every core compress. Frames of 4 MiB cost under 1% of
// ratio at the fast levels (their window is smaller than a frame), and any zstd reader
// — zstd(1), tar --zstd, this package — reads concatenated frames as one stream.
const FrameSize = 4 << 20

// StreamWindow is the window of the streaming zstd encoders (the manifest, its spool and
// catalog copies, an archive written by one goroutine): 1 MiB rather than the default
// 8 MiB, so the encoder keeps about 1 MiB of history instead of 16 MiB and a reader
// needs a 1 MiB window, not 8 MiB. JSON lines in path order find their matches
// close by.
const StreamWindow = 1 << 20

// MaxFrame is the most bytes one compressed frame of FrameSize input can take (zstd
// stores an incompressible chunk raw, with a small header per 128 KiB block), and so
// the most one Write of the frame writer passes on.
const MaxFrame = FrameSize + FrameSize/1024 + 1024

// frameWriter compresses FrameSize chunks into independent zstd frames (or gzip members) on up to
// workers goroutines and writes the frames to w in order. At most workers+1 frames are
// on their way (queued, compressed or being written) besides the chunk being filled,
// and a chunk's buffer is reused as soon as it is compressed: memory stays at about
// 2×(workers+1) frame buffers, 24 MiB with two workers.
type frameWriter struct {
	w       io.Writer
	encode  func(dst, src []byte) []byte // compresses src into a frame appended to dst; safe for concurrent use
	release func()
	buf     []byte        // the chunk being filled
	free    chan []byte   // recycled chunk buffers
	outs    chan []byte   // recycled frame buffers
	queue   chan *frame   // frames in write order
	done    chan struct{} // closed when the writing goroutine has ended
	mu      sync.Mutex
	err     error // the first write error; sticky
	written bool  // whether any frame was submitted
	closed  bool
}

type frame struct {
	in, out []byte
	ready   chan struct{}
}

func newFrameWriter(w io.Writer, level zstd.EncoderLevel, workers int) (*frameWriter, error) {
	// A frame holds FrameSize of input, so a longer window finds nothing more: with
	// the default (8 MiB) and without the lower-memory history each encoder kept a
	// 16 MiB history buffer, a fifth of a small-file backup's live heap.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(workers), zstd.WithEncoderCRC(true),
		zstd.WithWindowSize(FrameSize), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, err
	}
	encode := func(dst, src []byte) []byte { return enc.EncodeAll(src, dst) }
	return startFrames(w, workers, encode, func() { enc.Close() }), nil
}

// newGzipFrameWriter writes independent gzip members of FrameSize input each: gzip(1),
// tar -z and Go's gzip reader read concatenated members as one stream, and at a member
// boundary the compressor holds nothing, so a backup can resume there. A member starts
// without the previous one's 32 KiB window, which costs next to nothing per 4 MiB.
func newGzipFrameWriter(w io.Writer, level, workers int) (*frameWriter, error) {
	if _, err := gzip.NewWriterLevel(io.Discard, level); err != nil {
		return nil, err
	}
	pool := sync.Pool{New: func() any { gw, _ := gzip.NewWriterLevel(io.Discard, level); return gw }}
	encode := func(dst, src []byte) []byte {
		gw := pool.Get().(*gzip.Writer)
		defer pool.Put(gw)
		b := bytes.NewBuffer(dst)
		gw.Reset(b)
		gw.Write(src) // writes to a bytes.Buffer cannot fail
		gw.Close()
		return b.Bytes()
	}
	return startFrames(w, workers, encode, func() {}), nil
}

func startFrames(w io.Writer, workers int, encode func(dst, src []byte) []byte, release func()) *frameWriter {
	fw := &frameWriter{w: w, encode: encode, release: release, free: make(chan []byte, workers+1), outs: make(chan []byte, workers+1),
		queue: make(chan *frame, max(workers-1, 1)), done: make(chan struct{})}
	go fw.writeFrames()
	return fw
}

// writeFrames writes compressed frames in order; after an error it only drains.
func (fw *frameWriter) writeFrames() {
	defer close(fw.done)
	for f := range fw.queue {
		<-f.ready
		if fw.failed() == nil {
			if _, err := fw.w.Write(f.out); err != nil {
				fw.fail(err)
			}
		}
		putBack(fw.outs, f.out)
	}
}

// putBack keeps a buffer in pool for reuse, or drops it when the pool is full.
func putBack(pool chan []byte, b []byte) {
	if cap(b) == 0 {
		return
	}
	select {
	case pool <- b[:0]:
	default:
	}
}

func (fw *frameWriter) fail(err error) {
	fw.mu.Lock()
	if fw.err == nil {
		fw.err = err
	}
	fw.mu.Unlock()
}

func (fw *frameWriter) failed() error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.err
}

func (fw *frameWriter) Write(p []byte) (int, error) {
	if fw.closed {
		return 0, errors.New("zstd: write after close")
	}
	if err := fw.failed(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		if fw.buf == nil {
			select {
			case b := <-fw.free:
				fw.buf = b
			default:
				fw.buf = make([]byte, 0, FrameSize)
			}
		}
		k := copy(fw.buf[len(fw.buf):cap(fw.buf)], p)
		fw.buf = fw.buf[:len(fw.buf)+k]
		p = p[k:]
		if len(fw.buf) == cap(fw.buf) {
			fw.submit()
			if err := fw.failed(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// submit starts compressing the current chunk; it blocks while workers frames are
// queued, which bounds memory and passes the destination's pace back to the writer.
func (fw *frameWriter) submit() {
	f := &frame{in: fw.buf, ready: make(chan struct{})}
	fw.buf = nil
	fw.written = true
	var out []byte
	select {
	case out = <-fw.outs:
	default:
		// Room for an incompressible chunk: zstd stores it raw, with a small header
		// per 128 KiB block.
		out = make([]byte, 0, MaxFrame)
	}
	go func() {
		f.out = fw.encode(out, f.in)
		putBack(fw.free, f.in) // the next chunk's buffer, while this frame waits its turn
		f.in = nil
		close(f.ready)
	}()
	fw.queue <- f
}

// Close compresses what is left, waits for every frame to be written and returns the
// first error. An empty stream still gets one (empty) frame, so it is valid zstd or gzip.
func (fw *frameWriter) Close() error {
	if fw.closed {
		return fw.failed()
	}
	fw.closed = true
	if len(fw.buf) > 0 || !fw.written {
		if fw.buf == nil {
			fw.buf = []byte{}
		}
		fw.submit()
	}
	close(fw.queue)
	<-fw.done
	fw.release()
	return fw.failed()
}
