package api

import "github.com/backapp/backapp/internal/apperr"

// parseDir reads a list's dir parameter: "asc" sorts ascending, "desc" or none
// descending (the lists' default, newest first), anything else is refused.
func parseDir(dir string) (asc bool, err error) {
	switch dir {
	case "", "desc":
		return false, nil
	case "asc":
		return true, nil
	}
	return false, apperr.Invalidf("dir", "dir must be asc or desc, not %q", dir)
}
