package archive

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"
)

// dirsInMemory is how many directories a restore keeps in memory for Finish; beyond
// that they go to a temporary file in sorted runs (about 100 bytes a directory, so a
// tree of millions of directories does not grow the restore's memory).
var dirsInMemory = 64 << 10

// dirList is the directories an Extractor made, handed back by each in Finish's order
// (deepest first, siblings together; in the order added when equal): in memory, and
// once more than dirsInMemory were added, as runs sorted in that order in a
// temporary file (in dir, "" for the system's), merged when read.
type dirList struct {
	dir  string
	mem  []dirMeta
	file *os.File
	w    *bufio.Writer
	size int64   // bytes written to file
	runs []int64 // start offset of each run in file; the last one ends at size
}

func (l *dirList) add(d dirMeta) error {
	l.mem = append(l.mem, d)
	if len(l.mem) < dirsInMemory {
		return nil
	}
	return l.spill()
}

// finishOrder is Finish's order: deeper first, then by parent; stable.
func finishOrder(a, b dirMeta) int {
	if c := strings.Count(b.name, "/") - strings.Count(a.name, "/"); c != 0 {
		return c
	}
	return strings.Compare(path.Dir(a.name), path.Dir(b.name))
}

// spill writes the directories in memory as one sorted run.
func (l *dirList) spill() error {
	if l.file == nil {
		f, err := os.CreateTemp(l.dir, "backapp-dirs-*.tmp")
		if err != nil {
			return fmt.Errorf("keep the directories' metadata: %w", err)
		}
		if runtime.GOOS != "windows" { // an open file stays readable: a crash leaves nothing
			_ = os.Remove(f.Name())
		}
		l.file, l.w = f, bufio.NewWriterSize(f, 64<<10)
	}
	slices.SortStableFunc(l.mem, finishOrder)
	l.runs = append(l.runs, l.size)
	var buf []byte
	for _, d := range l.mem {
		buf = encodeDir(buf[:0], d)
		if _, err := l.w.Write(buf); err != nil {
			return fmt.Errorf("keep the directories' metadata: %w", err)
		}
		l.size += int64(len(buf))
	}
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("keep the directories' metadata: %w", err)
	}
	clear(l.mem)
	l.mem = l.mem[:0]
	return nil
}

func encodeDir(b []byte, d dirMeta) []byte {
	b = binary.AppendUvarint(b, uint64(len(d.name)))
	b = append(b, d.name...)
	b = binary.AppendUvarint(b, uint64(d.mode))
	b = binary.AppendVarint(b, d.mtime.Unix())
	b = binary.AppendUvarint(b, uint64(d.mtime.Nanosecond()))
	b = binary.AppendVarint(b, int64(d.uid))
	return binary.AppendVarint(b, int64(d.gid))
}

func decodeDir(r *bufio.Reader) (dirMeta, error) {
	var d dirMeta
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return d, err // io.EOF at a run's end
	}
	name := make([]byte, n)
	if _, err := io.ReadFull(r, name); err != nil {
		return d, err
	}
	d.name = string(name)
	var vals [5]int64
	for i := range vals {
		var v uint64
		var sv int64
		if i == 0 || i == 2 {
			v, err = binary.ReadUvarint(r)
			sv = int64(v)
		} else {
			sv, err = binary.ReadVarint(r)
		}
		if err != nil {
			return d, unexpectedEOF(err)
		}
		vals[i] = sv
	}
	d.mode = fs.FileMode(vals[0])
	d.mtime = time.Unix(vals[1], vals[2])
	d.uid, d.gid = int(vals[3]), int(vals[4])
	return d, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// each calls fn with every directory in Finish's order, then empties the list.
func (l *dirList) each(fn func(dirMeta)) error {
	defer l.close()
	slices.SortStableFunc(l.mem, finishOrder)
	if l.file == nil {
		for _, d := range l.mem {
			fn(d)
		}
		return nil
	}
	// A k-way merge of the runs and what is in memory (the last run).
	h := &dirHeap{}
	for i, start := range l.runs {
		end := l.size
		if i+1 < len(l.runs) {
			end = l.runs[i+1]
		}
		src := &dirSource{r: bufio.NewReaderSize(io.NewSectionReader(l.file, start, end-start), 16<<10), run: i}
		if err := src.next(); err != nil {
			return err
		}
		if src.ok {
			h.s = append(h.s, src)
		}
	}
	if len(l.mem) > 0 {
		src := &dirSource{mem: l.mem, run: len(l.runs)}
		src.next()
		h.s = append(h.s, src)
	}
	heap.Init(h)
	for len(h.s) > 0 {
		src := h.s[0]
		fn(src.cur)
		if err := src.next(); err != nil {
			return err
		}
		if src.ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

func (l *dirList) close() {
	l.mem = nil
	if l.file != nil {
		l.file.Close()
		_ = os.Remove(l.file.Name())
		l.file, l.w, l.runs, l.size = nil, nil, nil, 0
	}
}

// dirSource is one sorted run being merged: from the file, or the list in memory.
type dirSource struct {
	r   *bufio.Reader
	mem []dirMeta
	run int
	cur dirMeta
	ok  bool
}

func (s *dirSource) next() error {
	if s.r == nil {
		s.ok = len(s.mem) > 0
		if s.ok {
			s.cur, s.mem = s.mem[0], s.mem[1:]
		}
		return nil
	}
	d, err := decodeDir(s.r)
	if errors.Is(err, io.EOF) {
		s.ok = false
		return nil
	}
	if err != nil {
		return fmt.Errorf("read back the directories' metadata: %w", err)
	}
	s.cur, s.ok = d, true
	return nil
}

// dirHeap orders the runs by their current directory, earlier runs first when equal.
type dirHeap struct{ s []*dirSource }

func (h *dirHeap) Len() int { return len(h.s) }
func (h *dirHeap) Less(i, j int) bool {
	if c := finishOrder(h.s[i].cur, h.s[j].cur); c != 0 {
		return c < 0
	}
	return h.s[i].run < h.s[j].run
}
func (h *dirHeap) Swap(i, j int) { h.s[i], h.s[j] = h.s[j], h.s[i] }
func (h *dirHeap) Push(x any)    { h.s = append(h.s, x.(*dirSource)) }
func (h *dirHeap) Pop() any {
	x := h.s[len(h.s)-1]
	h.s = h.s[:len(h.s)-1]
	return x
}
