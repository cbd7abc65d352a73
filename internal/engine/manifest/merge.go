package manifest

import (
	"errors"
	"fmt"
	"io"
	"slices"
)

// Merge returns the tree at the time of the last of rs: rs[0] lists the whole tree at
// its time (a full manifest, or a tree merged before), and each later one is the delta
// (Header.Delta) of the next run of the same chain. Entries come in ComparePaths order;
// of a path the last manifest that names it wins, and a deletion leaves it out, so
// Next returns no TypeDeleted entries. Header is the last one's; Trailer is set at the
// end. The readers are read as the merge goes (memory does not grow with the tree);
// the caller closes what they read from. One reader is returned as it is.
func Merge(rs ...*Reader) (*Reader, error) {
	switch len(rs) {
	case 0:
		return nil, errors.New("merge manifests: none")
	case 1:
		return rs[0], nil
	}
	last := rs[len(rs)-1].Header
	for i, r := range rs {
		h := r.Header
		if len(h.Chain) > len(last.Chain) || !slices.Equal(h.Chain, last.Chain[:len(h.Chain)]) {
			return nil, fmt.Errorf("merge manifests: %s is not of the chain of %s", h.Name, last.Name)
		}
		if i == 0 {
			continue
		}
		if !h.Delta {
			return nil, fmt.Errorf("merge manifests: %s is not a delta", h.Name)
		}
		if prev := rs[i-1].Header; len(h.Chain) != len(prev.Chain)+1 {
			return nil, fmt.Errorf("merge manifests: %s does not follow %s", h.Name, prev.Name)
		}
	}
	m := &merger{rs: rs, heads: make([]Entry, len(rs)), live: make([]int, 0, len(rs))}
	for i, r := range rs {
		ok, err := m.fill(i, r)
		if err != nil {
			return nil, err
		}
		if ok {
			m.live = append(m.live, i)
		}
	}
	return &Reader{Header: last, m: m}, nil
}

// merger is a Merge in progress: the next entry of each reader still live.
type merger struct {
	rs    []*Reader
	heads []Entry
	live  []int // indexes of readers with an entry in heads, ascending
	err   error
}

func (m *merger) fill(i int, r *Reader) (bool, error) {
	e, err := r.Next()
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("manifest of %s: %w", r.Header.Name, err)
	}
	m.heads[i] = e
	return true, nil
}

func (m *merger) next(out *Reader) (Entry, error) {
	if m.err != nil {
		return Entry{}, m.err
	}
	for len(m.live) > 0 {
		// The smallest path; of equal ones the latest manifest's (live is ascending).
		best := m.live[0]
		for _, i := range m.live[1:] {
			if ComparePaths(m.heads[i].Path, m.heads[best].Path) <= 0 {
				best = i
			}
		}
		e := m.heads[best]
		path := e.Path
		keep := m.live[:0]
		for _, i := range m.live {
			if m.heads[i].Path == path {
				ok, err := m.fill(i, m.rs[i])
				if err != nil {
					m.err = err
					return Entry{}, err
				}
				if !ok {
					continue
				}
			}
			keep = append(keep, i)
		}
		m.live = keep
		if e.Type == TypeDeleted {
			continue
		}
		out.last = e.Path
		out.n++
		return e, nil
	}
	if out.Trailer == nil {
		out.Trailer = m.rs[len(m.rs)-1].Trailer
	}
	return Entry{}, io.EOF
}
