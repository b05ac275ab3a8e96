//go:build unix

package region

import (
	"errors"
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

// commit makes n bytes at p (page multiples) readable and writable.
func commit(p *byte, n int) error {
	return unix.Mprotect(unsafe.Slice(p, n), unix.PROT_READ|unix.PROT_WRITE)
}

// decommit makes n bytes at p reserved again. Mapping fresh reserved pages
// over them hands their memory back and makes them read as zero should they
// be committed again, on every Unix (MADV_DONTNEED zeroes only on Linux).
func decommit(p *byte, n int) error {
	_, err := unix.MmapPtr(-1, 0, unsafe.Pointer(p), uintptr(n), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_FIXED|mapNoReserve)
	return err
}

// outOfAddressSpace reports whether err is a mapping's failure for want of
// address space: ENOMEM, which mmap, mremap and mprotect return past
// RLIMIT_AS, past a 32-bit process's 4 GiB, or past vm.max_map_count
// mappings.
func outOfAddressSpace(err error) bool { return errors.Is(err, unix.ENOMEM) }
