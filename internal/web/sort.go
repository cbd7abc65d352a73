package web

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// sortState is a list's order as its URL says it (?sort=KEY&dir=asc|desc), so a
// sorted view can be linked; the headers of its table link to the other orders.
type sortState struct {
	Key  string
	Desc bool
	path string
	q    url.Values
	// newest is the key that sorts descending when the URL names no direction (a
	// list paged newest first), "" for none.
	newest string
}

// sortFrom reads the order of the list at path from r: one of keys (def when the
// URL names none or another), ascending unless dir=desc.
func sortFrom(r *http.Request, path, def string, keys ...string) sortState {
	q := r.URL.Query()
	s := sortState{Key: def, path: path, q: q}
	if k := q.Get("sort"); slices.Contains(keys, k) {
		s.Key = k
	}
	s.Desc = strings.EqualFold(q.Get("dir"), "desc")
	return s
}

// sortNewestFrom is sortFrom for a list whose default order, def, is descending
// (newest first) unless the URL says dir=asc.
func sortNewestFrom(r *http.Request, path, def string, keys ...string) sortState {
	s := sortFrom(r, path, def, keys...)
	s.newest = def
	if s.Key == def && s.q.Get("dir") == "" {
		s.Desc = true
	}
	return s
}

// Link is the URL that sorts by key: ascending, or the other way when it sorts by
// key already. Other parameters (filters) are kept.
func (s sortState) Link(key string) string {
	v := url.Values{}
	for k, vs := range s.q {
		if k != "sort" && k != "dir" && k != "offset" {
			v[k] = vs
		}
	}
	v.Set("sort", key)
	switch {
	case key == s.Key && !s.Desc:
		v.Set("dir", "desc")
	case key == s.Key && key == s.newest:
		v.Set("dir", "asc")
	}
	return s.path + "?" + v.Encode()
}

// Aria is the aria-sort value of key's header: "" when the list is not sorted by it.
func (s sortState) Aria(key string) string {
	switch {
	case key != s.Key:
		return ""
	case s.Desc:
		return "descending"
	}
	return "ascending"
}

// Arrow is the shape beside key's header (decoration: aria-sort says it in words).
func (s sortState) Arrow(key string) string {
	switch {
	case key != s.Key:
		return "↕"
	case s.Desc:
		return "▼"
	}
	return "▲"
}

// sortRows orders rows by the key's comparison, ascending or descending, stably, with
// ties by name so the order never jumps between loads.
func sortRows[T any](rows []T, s sortState, by map[string]func(a, b T) int, name func(T) string) {
	c := by[s.Key]
	if c == nil {
		return
	}
	slices.SortStableFunc(rows, func(a, b T) int {
		r := c(a, b)
		if s.Desc {
			r = -r
		}
		return cmp.Or(r, cmp.Compare(strings.ToLower(name(a)), strings.ToLower(name(b))))
	})
}

// sortArgs is what the "sorthead" template shows.
type sortArgs struct {
	Sort              sortState
	Key, Label, Class string
}
