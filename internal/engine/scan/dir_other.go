//go:build !unix

package scan

var openDir = openDirByPath
