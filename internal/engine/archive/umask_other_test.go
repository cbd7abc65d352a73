//go:build !unix

package archive

func syscallUmask(m int) int { return m }
