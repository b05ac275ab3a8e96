package memvec

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fileRemap changes a shared mapping of osf at p from old to size bytes
// (page multiples; old 0 means none, size 0 unmaps) and returns its address.
// Linux resizes it with mremap, which keeps the pages already faulted in;
// MREMAP_MAYMOVE lets it move when the address space after it is taken. On
// failure the mapping is unchanged.
func fileRemap(osf *os.File, p *byte, old, size, prot int) (*byte, error) {
	switch {
	case old == 0:
		return mapFile(osf, size, prot)
	case size == 0:
		return nil, unix.MunmapPtr(unsafe.Pointer(p), uintptr(old))
	}
	q, err := unix.MremapPtr(unsafe.Pointer(p), uintptr(old), nil, uintptr(size), unix.MREMAP_MAYMOVE)
	return (*byte)(q), err
}
