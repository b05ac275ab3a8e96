package memvec

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// anonRemap changes an anonymous mapping at p from old to size bytes (both
// page multiples; old 0 means none, size 0 unmaps) and returns its address.
// Linux grows and shrinks with mremap, which moves page-table entries rather
// than copying the data; MREMAP_MAYMOVE lets it move the mapping when the
// address space after it is taken. On failure the mapping is unchanged.
func anonRemap(p *byte, old, size int) (*byte, error) {
	switch {
	case old == 0:
		q, err := unix.MmapPtr(-1, 0, nil, uintptr(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		return (*byte)(q), err
	case size == 0:
		return nil, unix.MunmapPtr(unsafe.Pointer(p), uintptr(old))
	}
	q, err := unix.MremapPtr(unsafe.Pointer(p), uintptr(old), nil, uintptr(size), unix.MREMAP_MAYMOVE)
	return (*byte)(q), err
}
