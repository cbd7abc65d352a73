//go:build !unix && !windows

package scan

import "errors"

// dirID has no identity to give on this platform; the walk descends without the check.
func dirID(Node) ([2]uint64, error) {
	return [2]uint64{}, errors.New("no file identity on this platform")
}
