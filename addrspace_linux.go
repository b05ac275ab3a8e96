package memvec

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapNoReserve keeps a reservation out of the kernel's commit accounting:
// only the pages made accessible and written count.
const mapNoReserve = unix.MAP_NORESERVE

// moveAnonPages moves the n accessible bytes at from to the start of the
// reservation at to, with mremap: the page-table entries move, the data is
// not copied.
func moveAnonPages(from, to *byte, n int) error {
	_, err := unix.MremapPtr(unsafe.Pointer(from), uintptr(n), unsafe.Pointer(to), uintptr(n), unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED)
	return err
}

// populateInBulk is set where populate faults pages in (see MemVec.prefaulter).
const populateInBulk = true

// populate faults in the pages of b for writing in one system call
// (MADV_POPULATE_WRITE, Linux 5.14), far cheaper than a page fault per page.
// Older kernels refuse with EINVAL, and the pages then fault in as written.
func populate(b []byte) {
	unix.Madvise(b, unix.MADV_POPULATE_WRITE)
}
