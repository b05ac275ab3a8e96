//go:build !unix

package memvec

import "unsafe"

// anonRemap changes an anonymous region at p from old to size bytes (both
// page multiples; old 0 means none, size 0 frees) and returns its address.
//
// On platforms without a mapping backend yet (Windows until it gets a
// pagefile-backed section, Plan 9, WebAssembly) the region is a []uint64 on
// the Go heap, 8-byte aligned, and growth copies. It works, but it is not off
// the heap: the collector sees its size, though it never scans it.
func anonRemap(p *byte, old, size int) (*byte, error) {
	if size == 0 {
		return nil, nil
	}
	words := make([]uint64, size/8)
	q := (*byte)(unsafe.Pointer(unsafe.SliceData(words)))
	if old > 0 {
		copy(unsafe.Slice(q, size), unsafe.Slice(p, min(old, size)))
	}
	return q, nil
}
