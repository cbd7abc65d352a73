//go:build !linux

package archive

import (
	"errors"
	"os"
)

// exchange is Linux's: elsewhere an entry is replaced by a directory in two renames.
func exchange(*os.File, string, string) error { return errors.ErrUnsupported }
