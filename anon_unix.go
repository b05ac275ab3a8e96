//go:build unix && !linux

package memvec

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// anonRemap changes an anonymous mapping at p from old to size bytes (both
// page multiples; old 0 means none, size 0 unmaps) and returns its address.
// Without mremap, growth maps a new region, copies the common prefix and
// unmaps the old one: on failure the old mapping is still there, unchanged.
func anonRemap(p *byte, old, size int) (*byte, error) {
	var q unsafe.Pointer
	if size > 0 {
		var err error
		q, err = unix.MmapPtr(-1, 0, nil, uintptr(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
		if err != nil {
			return nil, err
		}
		if old > 0 {
			copy(unsafe.Slice((*byte)(q), size), unsafe.Slice(p, min(old, size)))
		}
	}
	if old > 0 {
		if err := unix.MunmapPtr(unsafe.Pointer(p), uintptr(old)); err != nil {
			return nil, err
		}
	}
	return (*byte)(q), nil
}
