package memvec

import "math"

// reservationSize returns how much address space to reserve for a region
// that needs need bytes now: what was asked for, and twice the current
// reservation once that has run out. Every platform's reservation follows
// it (addrspace_unix.go, addrspace_windows.go).
func reservationSize(need, asked, current int) int {
	return max(need, asked, current+min(current, math.MaxInt-current))
}
