//go:build (unix && !linux) || windows

package memvec

import "unsafe"

// moveAnonPages carries the n usable bytes at from to the start of the
// reservation at to by committing them there and copying: without mremap
// (Linux's, in addrspace_linux.go), pages cannot be moved from one
// reservation to another, on Windows as on the other Unix systems.
func moveAnonPages(from, to *byte, n int) error {
	if err := commit(to, n); err != nil {
		return err
	}
	copy(unsafe.Slice(to, n), unsafe.Slice(from, n))
	return nil
}
