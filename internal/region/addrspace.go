//go:build unix || windows

package region

import (
	"math"
	"unsafe"
)

// reservationSize returns how much address space to reserve for a region
// that needs need bytes now: what was asked for, and twice the current
// reservation once that has run out. Every platform's reservation follows
// it (addrspace_unix.go, addrspace_windows.go).
func reservationSize(need, asked, current int) int {
	return max(need, asked, current+min(current, math.MaxInt-current))
}

// newReservation reserves address space for a region that needs m bytes,
// of the size reservationSize says, or just m if the system refuses that
// much (a ulimit on address space, a 32-bit process). It returns the
// reservation and its size.
func newReservation(m, asked, current int) (*byte, int, error) {
	r := reservationSize(m, asked, current)
	p, err := reserveAddressSpace(r)
	if err != nil && r > m {
		r = m
		p, err = reserveAddressSpace(r)
	}
	return p, r, err
}

// Anonymous memory that must grow without moving lives in reserved address
// space, on every platform that has it: the region is the first mapped
// bytes of the reservation, made usable (committed) as it grows and handed
// back (decommitted) as it shrinks. Each platform supplies the primitives:
// reserveAddressSpace, releaseAddressSpace, commit, decommit and
// moveAnonPages.

// remap makes the first m bytes (a page multiple) of the region usable and
// the rest of the reservation not. Growth past the reservation moves the
// region to a new, larger one; nothing else moves it. On failure the region
// is unchanged (it may have moved, its bytes with it), so a failure for want
// of address space is tried again once the quarantine has handed its ranges
// back (withAddressSpace).
func (a *Anon) remap(m int) error {
	return withAddressSpace(func() error { return a.remapOnce(m) })
}

// remapOnce is remap, tried once.
func (a *Anon) remapOnce(m int) error {
	if m > a.reserved {
		if err := a.move(m); err != nil {
			return err
		}
	}
	switch {
	case m > a.mapped:
		if err := commit(addPtr(a.base, a.mapped), m-a.mapped); err != nil {
			return err
		}
	case m < a.mapped:
		if err := decommit(addPtr(a.base, m), a.mapped-m); err != nil {
			return err
		}
	}
	a.mapped = m
	if a.Advice != AdviseNormal {
		// A new reservation, and pages decommitted (mapped anew), have
		// lost the advice: give it to the whole reservation again (see
		// adviseRegion).
		adviseRegion(unsafe.Slice(a.base, a.reserved), a.Advice)
	}
	return nil
}

// move gives the region a reservation of at least m bytes, carrying the
// usable pages over. If the system refuses the address space the
// reservation should have, it takes just m.
func (a *Anon) move(m int) error {
	p, r, err := newReservation(m, a.Reserve, a.reserved)
	if err != nil {
		return err
	}
	remapped := false
	if a.mapped > 0 {
		if remapped, err = moveAnonPages(a.base, p, a.mapped, !a.remapped); err != nil {
			releaseAddressSpace(p, r)
			return err
		}
	}
	a.remapped = remapped
	// The old reservation, still the region's (moveAnonPages leaves the
	// range its pages left mapped, so that no other mapping can take it in
	// between), goes by way of the quarantine (quarantine.go).
	retire(a.base, a.reserved)
	a.base, a.reserved = p, r
	return nil
}

// copyAnonPages carries the n usable bytes at from to the start of the
// reservation at to by committing them there and copying. The old range
// stays mapped, and the region's, until it is retired.
func copyAnonPages(from, to *byte, n int) error {
	if err := commit(to, n); err != nil {
		return err
	}
	copy(unsafe.Slice(to, n), unsafe.Slice(from, n))
	return nil
}

// free releases the reservation, pages and all.
func (a *Anon) free() error { return retire(a.base, a.reserved) }

// addPtr returns p advanced by n bytes.
func addPtr(p *byte, n int) *byte { return (*byte)(unsafe.Add(unsafe.Pointer(p), n)) }
