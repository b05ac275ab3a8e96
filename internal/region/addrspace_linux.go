package region

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapNoReserve keeps a reservation out of the kernel's commit accounting:
// only the pages made accessible and written count.
const mapNoReserve = unix.MAP_NORESERVE

// moveAnonPages moves the n accessible bytes at from to the start of the
// reservation at to, with mremap: the page-table entries move, the data is
// not copied. It reports whether it moved them so (rather than copying).
//
// The range the pages leave must stay the region's until it is retired
// (Anon.move): a plain mremap unmaps it, and another goroutine's mmap could
// land there before retire maps the range anew with MAP_FIXED, which would
// destroy that mapping under it. MREMAP_DONTUNMAP (Linux 5.7) leaves the old
// range mapped, empty, so nothing else can be placed there. A kernel without
// it refuses with EINVAL before changing anything, and the pages are copied
// instead, as on the other systems.
//
// mremap moves one mapping (one VMA) only, before Linux 6.17, and fails
// with EFAULT after it has unmapped the target range, a hole that another
// goroutine could take. The pages are one mapping unless they were moved
// by mremap before (oneMapping false): the moved mapping keeps its page
// offset, so the pages committed after it in the new reservation do not
// merge with it. Those are copied, which makes them one mapping again.
func moveAnonPages(from, to *byte, n int, oneMapping bool) (remapped bool, err error) {
	if oneMapping && !dontUnmapRefused.Load() {
		_, err := unix.MremapPtr(unsafe.Pointer(from), uintptr(n), unsafe.Pointer(to), uintptr(n), unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED|unix.MREMAP_DONTUNMAP)
		if err != unix.EINVAL {
			return err == nil, err
		}
		dontUnmapRefused.Store(true)
	}
	return false, copyAnonPages(from, to, n)
}

// dontUnmapRefused is set once the kernel refused MREMAP_DONTUNMAP (older
// than Linux 5.7): moveAnonPages copies from then on.
var dontUnmapRefused atomic.Bool

// PopulateInBulk is set where populate faults pages in (see MemVec.prefaulter).
const PopulateInBulk = true

// populate faults in the pages of b for writing in one system call
// (MADV_POPULATE_WRITE, Linux 5.14), far cheaper than a page fault per page.
// Older kernels refuse with EINVAL, and the pages then fault in as written.
func populate(b []byte) {
	unix.Madvise(b, unix.MADV_POPULATE_WRITE)
}
