//go:build unix && !linux

package memvec

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapNoReserve is 0: MAP_NORESERVE is Linux's (FreeBSD and macOS do not
// charge reserved PROT_NONE pages anyway).
const mapNoReserve = 0

// moveAnonPages copies the n accessible bytes at from to the start of the
// reservation at to, after making them accessible there: without mremap,
// pages cannot be moved.
func moveAnonPages(from, to *byte, n int) error {
	dst := unsafe.Slice(to, n)
	if err := unix.Mprotect(dst, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		return err
	}
	copy(dst, unsafe.Slice(from, n))
	return nil
}

// populate does nothing: only Linux faults in pages in bulk; elsewhere they
// fault in as written.
func populate(b []byte) {}
