//go:build (unix && !linux) || windows

package region

// moveAnonPages carries the n usable bytes at from to the start of the
// reservation at to by copying them (copyAnonPages): without mremap
// (Linux's, in addrspace_linux.go), pages cannot be moved from one
// reservation to another, on Windows as on the other Unix systems.
// It reports that it copied (remapped false).
func moveAnonPages(from, to *byte, n int, oneMapping bool) (remapped bool, err error) {
	return false, copyAnonPages(from, to, n)
}
