package scan

import (
	"syscall"
)

// dirID is the identity of directory n for the loop check: the volume serial number
// and the file index, which Windows gives only through an open handle (the FileInfo of
// os.Lstat carries neither). FILE_FLAG_BACKUP_SEMANTICS is what lets CreateFile open
// a directory. Without FILE_FLAG_OPEN_REPARSE_POINT a followed link yields its target,
// the directory os.ReadDir reads.
func dirID(n Node) ([2]uint64, error) {
	p, err := syscall.UTF16PtrFromString(n.Path)
	if err != nil {
		return [2]uint64{}, err
	}
	h, err := syscall.CreateFile(p, 0, syscall.FILE_SHARE_READ|syscall.FILE_SHARE_WRITE|syscall.FILE_SHARE_DELETE,
		nil, syscall.OPEN_EXISTING, syscall.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return [2]uint64{}, err
	}
	defer syscall.CloseHandle(h)
	var d syscall.ByHandleFileInformation
	if err := syscall.GetFileInformationByHandle(h, &d); err != nil {
		return [2]uint64{}, err
	}
	return [2]uint64{uint64(d.VolumeSerialNumber), uint64(d.FileIndexHigh)<<32 | uint64(d.FileIndexLow)}, nil
}
