package region

import (
	"errors"
	"math"
	"unsafe"

	"golang.org/x/sys/windows"
)

// A region that must grow without moving lives in reserved address space:
// VirtualAlloc(MEM_RESERVE) keeps every other allocation out of the range
// but costs no memory and no commit charge (pagefile quota). The region
// grows by committing the next pages (MEM_COMMIT), in place.

// reserveAddressSpace reserves n bytes (a page multiple) of address space,
// inaccessible. Windows places a reservation on a 64 KiB boundary.
func reserveAddressSpace(n int) (*byte, error) {
	p, err := windows.VirtualAlloc(0, uintptr(n), windows.MEM_RESERVE, windows.PAGE_NOACCESS)
	if err != nil {
		return nil, err
	}
	return AddrToPtr(p), nil
}

// releaseAddressSpace releases the whole reservation at p, committed pages
// and all. Windows releases a reservation only as a whole, from the address
// VirtualAlloc returned, so n only says whether there is one.
func releaseAddressSpace(p *byte, n int) error {
	if p == nil || n == 0 {
		return nil
	}
	return windows.VirtualFree(uintptr(unsafe.Pointer(p)), 0, windows.MEM_RELEASE)
}

// AddrToPtr turns an address that VirtualAlloc or MapViewOfFile returned
// into a pointer. Converting a uintptr to a pointer is unsound for memory
// the Go heap owns, which could move or be freed meanwhile (go vet flags
// unsafe.Pointer(addr) for that reason); these pages are outside the heap
// and stay where they are until we free them.
func AddrToPtr(addr uintptr) *byte {
	return (*byte)(unsafe.Add(unsafe.Pointer(nil), addr))
}

// commit commits n bytes at p (page multiples), readable and writable.
// Committing charges the pages against the system's commit limit (RAM plus
// pagefile), so running out is an error here, never a fault on a later
// write; the pages take memory only once written.
func commit(p *byte, n int) error {
	_, err := windows.VirtualAlloc(uintptr(unsafe.Pointer(p)), uintptr(n), windows.MEM_COMMIT, windows.PAGE_READWRITE)
	return err
}

// decommit decommits n bytes at p: the pages and their commit charge go
// back, and pages committed again read as zero.
func decommit(p *byte, n int) error {
	return windows.VirtualFree(uintptr(unsafe.Pointer(p)), uintptr(n), windows.MEM_DECOMMIT)
}

// populate does nothing: committed pages fault in as they are first
// written, and Windows has no bulk equivalent of MADV_POPULATE_WRITE that
// measured better here.
func populate(b []byte) {}

// PopulateInBulk is false: populate does nothing here (see MemVec.prefaulter).
const PopulateInBulk = false

// addressSpaceLimit returns math.MaxUint64: Windows sets no limit on a
// process's address space beyond its size.
func addressSpaceLimit() uint64 { return math.MaxUint64 }

// outOfAddressSpace reports whether err is a mapping's failure for want of
// address space: ERROR_NOT_ENOUGH_MEMORY, which VirtualAlloc and
// MapViewOfFile return when no free range is large enough.
func outOfAddressSpace(err error) bool { return errors.Is(err, windows.ERROR_NOT_ENOUGH_MEMORY) }
