//go:build unix

package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestExtractOwners: restoring as root gives every entry its archived owner, whether
// or not it is the owner a new file gets anyway: root's, or a set-group-ID directory's
// group (which the extractor learns per directory and must not take for root's).
func TestExtractOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("restoring owners needs root")
	}
	target := t.TempDir()
	sg := filepath.Join(target, "sg") // already there, set-group-ID, group 4321
	must(t, os.Mkdir(sg, 0o755))
	must(t, os.Chown(sg, 0, 4321))
	must(t, os.Chmod(sg, 0o2775|os.ModeSetgid))
	if fi, err := os.Stat(sg); err != nil || fi.Mode()&os.ModeSetgid == 0 {
		t.Skipf("cannot make a set-group-ID directory here: %v %v", fi, err)
	}
	big := strings.Repeat("x", smallFile+1)
	ents := []ent{
		{name: "a", uid: 0, gid: 0},
		{name: "b", uid: 1234, gid: 5678},
		{name: "c", uid: 0, gid: 5678},
		{name: "d", uid: 1234, gid: 0},
		{name: "e", uid: 0, gid: 0},
		{name: "sg/a", uid: 0, gid: 0}, // a new file here gets group 4321
		{name: "sg/b", uid: 0, gid: 4321},
		{name: "sg/c", uid: 0, gid: 0},
		{name: "sg/d", uid: 1234, gid: 4321},
		{name: "dir/", typ: tar.TypeDir, uid: 1234, gid: 5678},
		{name: "dir/a", uid: 0, gid: 0},
		{name: "dir/b", uid: 1234, gid: 5678},
		{name: "big", body: big, uid: 1234, gid: 5678},
		{name: "link", link: "a", typ: tar.TypeSymlink, uid: 1234, gid: 5678},
	}
	for i := range ents {
		if ents[i].typ == 0 {
			ents[i].typ = tar.TypeReg
			if ents[i].body == "" {
				ents[i].body = ents[i].name
			}
		}
	}
	x := newExtractor(t, target, ExtractOptions{Owners: true})
	must(t, x.Extract(context.Background(), bytes.NewReader(tarOf(t, ents...))))
	must(t, x.Finish())
	for _, e := range ents {
		fi, err := os.Lstat(filepath.Join(target, e.name))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != e.uid || int(st.Gid) != e.gid {
			t.Errorf("%s: owner %d:%d, want %d:%d", e.name, st.Uid, st.Gid, e.uid, e.gid)
		}
	}
}
