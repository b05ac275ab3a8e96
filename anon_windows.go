package memvec

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// remap makes the first m bytes (a page multiple) of the region committed,
// readable and writable, and the rest of the reservation not. Growth past
// the reservation moves the region to a new, larger one; nothing else
// moves it. On failure the region is unchanged.
//
// Committing charges the pages against the system's commit limit (RAM plus
// pagefile), so running out is an error here, never a fault on a later
// write; the pages take memory only once written.
func (a *Anon) remap(m int) error {
	if m > a.reserved {
		if err := a.move(m); err != nil {
			return err
		}
	}
	base := uintptr(unsafe.Pointer(a.base))
	if m > a.mapped {
		if _, err := windows.VirtualAlloc(base+uintptr(a.mapped), uintptr(m-a.mapped), windows.MEM_COMMIT, windows.PAGE_READWRITE); err != nil {
			return err
		}
	} else if m < a.mapped {
		// Decommitting hands the pages and their commit charge back, and
		// pages committed again read as zero, should the region grow back.
		if err := windows.VirtualFree(base+uintptr(m), uintptr(a.mapped-m), windows.MEM_DECOMMIT); err != nil {
			return err
		}
	}
	a.mapped = m
	return nil
}

// move gives the region a reservation of at least m bytes, carrying the
// committed pages over. Windows cannot move pages from one reservation to
// another, so they are copied. If the system refuses the address space the
// reservation should have, it takes just m.
func (a *Anon) move(m int) error {
	p, r, err := newReservation(m, a.reserve, a.reserved)
	if err != nil {
		return err
	}
	if a.mapped > 0 {
		if _, err := windows.VirtualAlloc(uintptr(unsafe.Pointer(p)), uintptr(a.mapped), windows.MEM_COMMIT, windows.PAGE_READWRITE); err != nil {
			releaseAddressSpace(p, r)
			return err
		}
		copy(unsafe.Slice(p, a.mapped), unsafe.Slice(a.base, a.mapped))
	}
	releaseAddressSpace(a.base, a.reserved)
	a.base, a.reserved = p, r
	return nil
}

// free releases the reservation, committed pages and all.
func (a *Anon) free() error { return releaseAddressSpace(a.base, a.reserved) }
