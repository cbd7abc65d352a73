package wine

import (
	"sync"
	"syscall"
)

// Running reports whether the process runs under wine: wine's ntdll exports
// wine_get_version, Windows' does not.
var Running = sync.OnceValue(func() bool {
	d, err := syscall.LoadDLL("ntdll.dll")
	if err != nil {
		return false
	}
	_, err = d.FindProc("wine_get_version")
	return err == nil
})
