//go:build darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package memvec

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fileRemap changes a shared mapping of osf at p from old to size bytes
// (page multiples; old 0 means none, size 0 unmaps) and returns its address.
// Without mremap it maps the file anew and then unmaps the old mapping: the
// data is the file's, so nothing is copied, and on failure the old mapping
// is still there.
func fileRemap(osf *os.File, p *byte, old, size, prot int) (*byte, error) {
	var q *byte
	if size > 0 {
		var err error
		if q, err = mapFile(osf, size, prot); err != nil {
			return nil, err
		}
	}
	if old > 0 {
		if err := unix.MunmapPtr(unsafe.Pointer(p), uintptr(old)); err != nil {
			return nil, err
		}
	}
	return q, nil
}
