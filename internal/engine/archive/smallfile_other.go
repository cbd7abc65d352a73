//go:build !linux

package archive

import (
	"errors"
	"os"
)

// smallFast: small files go through writeFile (under a temporary name, then renamed)
// here; createSmall is Linux's.
const smallFast = false

func processUmask() uint32 { return 0o7777 }

func createSmall(*os.File, string, []byte, smallMeta, *newOwner, uint32) error {
	return errors.ErrUnsupported
}
