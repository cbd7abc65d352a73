package scan

import "golang.org/x/sys/unix"

// sIFWHT is a whiteout, which os.Lstat gives as a device on macOS.
const sIFWHT = unix.S_IFWHT
