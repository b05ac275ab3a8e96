//go:build unix || windows

package memvec

import "math"

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
