//go:build !unix && !windows

package region

import "unsafe"

// remap gives the region m accessible bytes (a page multiple).
//
// On platforms with neither Unix mappings nor Windows' VirtualAlloc (Plan 9,
// WebAssembly) the region is a []uint64 on the Go heap, 8-byte aligned, and
// every resize copies it to a new address: views do not survive growth
// here. It works, but it is not off the heap: the collector counts its
// size, though it never scans it.
func (a *Anon) remap(m int) error {
	var p *byte
	if m > 0 {
		p = (*byte)(unsafe.Pointer(unsafe.SliceData(make([]uint64, m/8))))
		copy(unsafe.Slice(p, m), unsafe.Slice(a.base, min(a.mapped, m)))
	}
	a.base, a.mapped, a.reserved = p, m, m
	return nil
}

// free lets the collector have the block.
func (a *Anon) free() error { return nil }

// populate does nothing: heap memory needs no faulting in.
func populate(b []byte) {}

// PopulateInBulk is false: populate does nothing here (see MemVec.prefaulter).
const PopulateInBulk = false
