package agent

import "testing"

// The DACL agent.json and its directory get on Windows: protected (nothing inherited
// from %ProgramData%, whose ACL lets local users read), full access for SYSTEM, the
// Administrators and the installing user only; no ACE for Users, Everyone or
// Authenticated Users.
func TestPrivateSDDL(t *testing.T) {
	for _, tc := range []struct {
		user string
		dir  bool
		want string
	}{
		{"S-1-5-21-1-2-3-1001", false, "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;S-1-5-21-1-2-3-1001)"},
		{"S-1-5-21-1-2-3-1001", true, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;S-1-5-21-1-2-3-1001)"},
		{"S-1-5-18", false, "D:P(A;;FA;;;SY)(A;;FA;;;BA)"}, // a service running as SYSTEM
		{"", true, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"},
	} {
		if got := privateSDDL(tc.user, tc.dir); got != tc.want {
			t.Errorf("privateSDDL(%q, %v) = %s, want %s", tc.user, tc.dir, got, tc.want)
		}
	}
}
