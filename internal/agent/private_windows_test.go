package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/backapp/backapp/internal/testenv/wine"
)

// agent.json, as SaveSettings writes it on Windows, carries the protected DACL; that
// Windows then refuses other users is Windows' part (wine records ACLs but does not
// enforce them; the DACL built is checked by TestPrivateSDDL on every platform).
func TestSettingsACL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conf")
	p, err := SaveSettings(dir, Settings{Server: "https://backapp.example.com", Key: "bak_secret"})
	if err != nil {
		t.Fatal(err)
	}
	// SetNamedSecurityInfo succeeded (SaveSettings would have failed); wine answers
	// reads of the ACL from the Unix mode bits, not from what was set.
	wine.Skip(t, "it derives the ACLs it reports from Unix modes instead of keeping those set")
	user, err := currentUserSID()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		dir  bool
	}{{dir, true}, {p, false}} {
		sd, err := windows.GetNamedSecurityInfo(tc.path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
		if err != nil {
			t.Fatalf("read the ACL of %s: %v", tc.path, err)
		}
		got := sd.String()
		want, _ := windows.SecurityDescriptorFromString(privateSDDL(user, tc.dir))
		if got != want.String() {
			t.Errorf("%s: ACL %s, want %s", tc.path, got, want)
		}
		for _, who := range []string{";;;WD)", ";;;BU)", ";;;AU)", ";;;S-1-1-0)", ";;;S-1-5-32-545)"} {
			if strings.Contains(got, who) {
				t.Errorf("%s: ACL %s grants %s", tc.path, got, who)
			}
		}
	}
}

// Windows refuses another user's read of agent.json: needs a second account, which
// neither wine nor an unprivileged test has.
func TestSettingsACLEnforced(t *testing.T) {
	wine.Skip(t, "wine records ACLs but does not enforce them")
	t.Skip("needs a second Windows account to try the read; run by hand: icacls %ProgramData%\\backapp-agent\\agent.json")
}

// A state directory given with --state-dir, outside the configuration directory whose
// ACL the default one inherits, gets the protected DACL too, and what OpenState creates
// in it inherits it. Under wine the test shows that SetNamedSecurityInfo took the ACL
// (OpenState would fail otherwise); wine reports ACLs from Unix modes, so comparing them
// is left to Windows.
func TestStateACL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "custom-state")
	if err := os.MkdirAll(dir, 0o755); err != nil { // there before, with its parent's ACL
		t.Fatal(err)
	}
	if _, err := OpenState(dir, nil); err != nil {
		t.Fatal(err)
	}
	wine.Skip(t, "it derives the ACLs it reports from Unix modes instead of keeping those set")
	user, err := currentUserSID()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := windows.SecurityDescriptorFromString(privateSDDL(user, true))
	for _, p := range []string{dir, filepath.Join(dir, "configs")} {
		sd, err := windows.GetNamedSecurityInfo(p, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
		if err != nil {
			t.Fatalf("read the ACL of %s: %v", p, err)
		}
		got := sd.String()
		if p == dir && got != want.String() {
			t.Errorf("%s: ACL %s, want %s", p, got, want)
		}
		for _, who := range []string{";;;WD)", ";;;BU)", ";;;AU)", ";;;S-1-1-0)", ";;;S-1-5-32-545)"} {
			if strings.Contains(got, who) {
				t.Errorf("%s: ACL %s grants %s", p, got, who)
			}
		}
	}
}
