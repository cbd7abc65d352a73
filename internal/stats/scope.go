package stats

import "github.com/backapp/backapp/internal/apperr"

// ScopeUser resolves a scope parameter to the user whose data is read: "" or
// "mine" is the caller's own, "all" ("" user) is everyone's and only for
// administrators.
func ScopeUser(userID string, isAdmin bool, scope string) (string, error) {
	switch scope {
	case "", "mine":
		return userID, nil
	case "all":
		if !isAdmin {
			return "", apperr.New(apperr.Forbidden, "scope=all is for administrators; use scope=mine")
		}
		return "", nil
	}
	return "", apperr.Invalidf("scope", "unknown scope %q: use mine or all", scope)
}
