//go:build unix

package scan

// dirID is the identity of directory n for the loop check: device and inode.
func dirID(n Node) ([2]uint64, error) { return [2]uint64{n.Stat.Dev, n.Stat.Ino}, nil }
