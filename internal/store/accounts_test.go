package store

import "testing"

func TestOwnershipRule(t *testing.T) {
	admin := User{ID: "a", Role: RoleAdmin}
	user := User{ID: "u", Role: RoleUser}
	for _, tc := range []struct {
		who     User
		owner   string
		sees    bool
		isAdmin bool
		scope   string
	}{
		{admin, "a", true, true, ""},
		{admin, "u", true, true, ""},
		{user, "u", true, false, "u"},
		{user, "a", false, false, "u"},
		{user, "", false, false, "u"},
	} {
		if got := tc.who.Sees(tc.owner); got != tc.sees {
			t.Errorf("%s %s: Sees(%q) = %v, want %v", tc.who.Role, tc.who.ID, tc.owner, got, tc.sees)
		}
		if got := tc.who.IsAdmin(); got != tc.isAdmin {
			t.Errorf("%s %s: IsAdmin() = %v, want %v", tc.who.Role, tc.who.ID, got, tc.isAdmin)
		}
		if got := tc.who.Scope(); got != tc.scope {
			t.Errorf("%s %s: Scope() = %q, want %q", tc.who.Role, tc.who.ID, got, tc.scope)
		}
	}
}
