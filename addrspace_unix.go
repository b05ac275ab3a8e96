//go:build unix

package memvec

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// A region that must grow without moving lives in reserved address space:
// pages mapped PROT_NONE, which cost no memory (and, with MAP_NORESERVE, no
// commit charge either) but keep every other mapping out of the range. The
// region grows by making the next pages accessible, in place.

// reserveAddressSpace reserves n bytes (a page multiple) of address space,
// inaccessible.
func reserveAddressSpace(n int) (*byte, error) {
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(n), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON|mapNoReserve)
	return (*byte)(p), err
}

// releaseAddressSpace unmaps n bytes from p: reserved, mapped, or both.
func releaseAddressSpace(p *byte, n int) error {
	if n == 0 {
		return nil
	}
	return unix.MunmapPtr(unsafe.Pointer(p), uintptr(n))
}

// remap makes the first m bytes (a page multiple) of the region accessible
// and the rest of the reservation not. Growth past the reservation moves the
// region to a new, larger one; nothing else moves it. On failure the region
// is unchanged.
func (a *Anon) remap(m int) error {
	if m > a.reserved {
		if err := a.move(m); err != nil {
			return err
		}
	}
	if m > a.mapped {
		grown := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(a.base), a.mapped)), m-a.mapped)
		if err := unix.Mprotect(grown, unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return err
		}
	} else if m < a.mapped {
		// Mapping fresh reserved pages over the tail hands its memory
		// back and makes it read as zero should it grow again, on every
		// Unix (MADV_DONTNEED zeroes only on Linux).
		tail := unsafe.Add(unsafe.Pointer(a.base), m)
		_, err := unix.MmapPtr(-1, 0, tail, uintptr(a.mapped-m), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_FIXED|mapNoReserve)
		if err != nil {
			return err
		}
	}
	a.mapped = m
	return nil
}

// move gives the region a reservation of at least m bytes, carrying the
// accessible pages over. If the system refuses the address space the
// reservation should have, it takes just m.
func (a *Anon) move(m int) error {
	p, r, err := newReservation(m, a.reserve, a.reserved)
	if err != nil {
		return err
	}
	if a.mapped > 0 {
		if err := moveAnonPages(a.base, p, a.mapped); err != nil {
			releaseAddressSpace(p, r)
			return err
		}
	}
	// What is left of the old reservation (on Linux only its tail: the
	// pages themselves have moved) goes.
	releaseAddressSpace(a.base, a.reserved)
	a.base, a.reserved = p, r
	return nil
}

// free unmaps the reservation, pages and all.
func (a *Anon) free() error { return releaseAddressSpace(a.base, a.reserved) }
