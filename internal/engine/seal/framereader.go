package seal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// maxWholeFrame is the largest frame content that frameReader decodes whole; the
// frames that frameWriter writes hold FrameSize. A frame that does not state its
// content size, or states more, turns the rest of the stream over to the streaming
// decoder, so memory stays bounded whatever an archive holds.
const maxWholeFrame = 4 * FrameSize

// frameReader decompresses a zstd stream on several goroutines, one frame each. The
// streaming decoder works through a stream one block after another, which made
// decompression the one step of a restore that every byte waits for on a single core.
// frameWriter cuts archives into independent frames that state their content size, so
// one goroutine here splits the stream into frames by walking the frame and block
// headers (no decoding), up to workers goroutines decode whole frames with DecodeAll
// (which checks each frame's checksum and content size), and Read returns them in
// stream order. Memory stays at about workers+1 frames, in and out.
type frameReader struct {
	src    *bufio.Reader
	dec    *zstd.Decoder
	queue  chan *wholeFrame // in stream order; closed when split ends
	stop   chan struct{}    // closed by Close
	tokens chan struct{}    // one per frame being decoded
	free   chan []byte      // recycled input buffers
	outs   chan []byte      // recycled output buffers
	cur    *wholeFrame
	off    int
	stream *zstd.Decoder // the rest of the stream, once a frame was not one to decode whole
	err    error         // sticky, returned by Read
	close  sync.Once
}

// wholeFrame is one frame, decoded by its own goroutine (ready is closed when out or
// err is set), or, as the queue's last item, the streaming decoder for the rest.
type wholeFrame struct {
	in, out []byte
	err     error
	stream  *zstd.Decoder
	ready   chan struct{}
}

// newFrameReader decompresses the zstd stream src (which starts with a frame).
func newFrameReader(src *bufio.Reader) (*frameReader, error) {
	workers := min(max(runtime.GOMAXPROCS(0), 2), 4)
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(workers), zstd.WithDecoderMaxMemory(maxWholeFrame))
	if err != nil {
		return nil, err
	}
	// Frames decoded ahead: one the reader holds, max(workers-1, 1) queued and one
	// being handed over; a frame's compressed bytes are let go once decoded.
	r := &frameReader{src: src, dec: dec, queue: make(chan *wholeFrame, max(workers-1, 1)), stop: make(chan struct{}),
		tokens: make(chan struct{}, workers), free: make(chan []byte, workers+1), outs: make(chan []byte, workers+1)}
	go r.split()
	return r, nil
}

// newStreamDecoder is the streaming decoder, for streams (or their rest) that are not
// cut into frames of known size: older archives, or another tool's.
func newStreamDecoder(r io.Reader) (*zstd.Decoder, error) {
	return zstd.NewReader(r, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxWindow(1<<30))
}

// split reads the stream frame by frame and starts a goroutine to decode each.
func (r *frameReader) split() {
	defer close(r.queue)
	for {
		var in []byte
		select {
		case in = <-r.free:
		default:
		}
		in, size, err := r.readFrame(in[:0])
		if err == io.EOF {
			return
		}
		f := &wholeFrame{in: in, ready: make(chan struct{})}
		if err != nil {
			if err == errNotWhole { // the rest, from this frame's first byte
				f.stream, err = newStreamDecoder(io.MultiReader(bytes.NewReader(in), r.src))
			}
			f.err = err
			close(f.ready)
			r.send(f)
			return
		}
		select {
		case r.tokens <- struct{}{}:
		case <-r.stop:
			return
		}
		var out []byte
		select {
		case out = <-r.outs:
		default:
			out = make([]byte, 0, max(size, FrameSize))
		}
		go func() {
			defer func() { <-r.tokens }()
			f.out, f.err = r.dec.DecodeAll(f.in, out[:0])
			putBack(r.free, f.in)
			f.in = nil
			if f.err == nil && uint64(len(f.out)) != size {
				f.err = fmt.Errorf("frame holds %d bytes, its header says %d", len(f.out), size)
			}
			close(f.ready)
		}()
		if !r.send(f) {
			return
		}
	}
}

func (r *frameReader) send(f *wholeFrame) bool {
	select {
	case r.queue <- f:
		return true
	case <-r.stop:
		if f.stream != nil {
			f.stream.Close()
		}
		return false
	}
}

// errNotWhole: the frame is not one to decode whole (no content size, too large, a
// dictionary); readFrame then returns the bytes it has read of it.
var errNotWhole = errors.New("frame not decoded whole")

// readFrame appends the next frame to in (skipping skippable frames) and returns it
// with its content size; io.EOF at the end of the stream.
func (r *frameReader) readFrame(in []byte) ([]byte, uint64, error) {
	for {
		head, err := r.src.Peek(zstd.HeaderMaxSize)
		if len(head) == 0 && err == io.EOF {
			return in, 0, io.EOF
		}
		if err != nil && err != io.EOF {
			return in, 0, err
		}
		var h zstd.Header
		if err := h.Decode(head); err != nil {
			return in, 0, err
		}
		if h.Skippable {
			if _, err := r.src.Discard(h.HeaderSize + int(h.SkippableSize)); err != nil {
				return in, 0, unexpected(err)
			}
			continue
		}
		in = append(in, head[:h.HeaderSize]...)
		if _, err := r.src.Discard(h.HeaderSize); err != nil {
			return in, 0, unexpected(err)
		}
		if !h.HasFCS || h.FrameContentSize > maxWholeFrame || h.DictionaryID != 0 {
			return in, 0, errNotWhole
		}
		for last := false; !last; {
			bh, err := r.src.Peek(3)
			if err != nil {
				return in, 0, unexpected(err)
			}
			v := int(bh[0]) | int(bh[1])<<8 | int(bh[2])<<16
			typ, size := v>>1&3, v>>3
			last = v&1 != 0
			switch {
			case typ == 1: // RLE: one byte, repeated size times
				size = 1
			case typ == 3:
				return in, 0, errors.New("reserved block type")
			case size > 128<<10:
				return in, 0, fmt.Errorf("block of %d bytes, more than zstd allows", size)
			}
			n := len(in)
			in = slices.Grow(in, 3+size)[:n+3+size]
			if _, err := io.ReadFull(r.src, in[n:]); err != nil {
				return in, 0, unexpected(err)
			}
		}
		if h.HasCheckSum {
			n := len(in)
			in = slices.Grow(in, 4)[:n+4]
			if _, err := io.ReadFull(r.src, in[n:]); err != nil {
				return in, 0, unexpected(err)
			}
		}
		return in, h.FrameContentSize, nil
	}
}

// unexpected: the stream ended inside a frame.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (r *frameReader) Read(p []byte) (int, error) {
	for r.err == nil {
		if r.stream != nil {
			n, err := r.stream.Read(p)
			r.err = err
			return n, err
		}
		if r.cur != nil {
			if r.off < len(r.cur.out) {
				n := copy(p, r.cur.out[r.off:])
				r.off += n
				return n, nil
			}
			putBack(r.outs, r.cur.out)
			r.cur = nil
		}
		f, ok := <-r.queue
		if !ok {
			r.err = io.EOF
			break
		}
		<-f.ready
		switch {
		case f.err != nil:
			r.err = f.err
		case f.stream != nil:
			r.stream = f.stream
		default:
			r.cur, r.off = f, 0
		}
	}
	return 0, r.err
}

// Close stops reading ahead and waits for the goroutines, which end once a read of
// src in progress returns.
func (r *frameReader) Close() {
	r.close.Do(func() {
		close(r.stop)
		for f := range r.queue { // until split has returned
			if f.stream != nil {
				f.stream.Close()
			}
		}
		for range cap(r.tokens) { // every decoding goroutine has ended
			r.tokens <- struct{}{}
		}
		if r.stream != nil {
			r.stream.Close()
		}
		r.dec.Close()
	})
}
