//go:build unix

package archive

import "syscall"

func syscallUmask(m int) int { return syscall.Umask(m) }
