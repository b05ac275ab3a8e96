package memvec

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
)

// query returns what Windows says of the pages at addr: their state
// (committed, reserved, free), protection and the run of like pages from
// addr on.
func query(t *testing.T, addr uintptr) windows.MemoryBasicInformation {
	t.Helper()
	var info windows.MemoryBasicInformation
	require.NoError(t, windows.VirtualQuery(addr, &info, unsafe.Sizeof(info)))
	return info
}

// TestAnonCommitsInPlace: anonymous memory on Windows is one reservation,
// committed from its start and reserved past that. Growth commits the next
// pages in place; shrinking decommits the tail, and pages that grow back
// read as zero.
func TestAnonCommitsInPlace(t *testing.T) {
	a, err := NewAnon(3 * pageSize)
	require.NoError(t, err)
	defer a.Close()
	base := uintptr(unsafe.Pointer(&a.Bytes()[0]))
	// requireCommitted walks the reservation run by run (Windows reports
	// the pages decommitted and those never committed as one run, Wine as
	// two) and requires the first size bytes committed and the rest
	// reserved.
	requireCommitted := func(size int) {
		t.Helper()
		end := base + uintptr(a.r.Reserved())
		for addr := base; addr < end; {
			info := query(t, addr)
			require.Equal(t, base, info.AllocationBase, "one reservation, at %#x", addr)
			if addr < base+uintptr(size) {
				require.Equal(t, uint32(windows.MEM_COMMIT), info.State, "the region is committed, at %#x", addr)
				require.Equal(t, uint32(windows.PAGE_READWRITE), info.Protect)
				require.LessOrEqual(t, addr+info.RegionSize, base+uintptr(size), "and nothing past it")
			} else {
				require.Equal(t, uint32(windows.MEM_RESERVE), info.State, "past the region, the reservation, at %#x", addr)
			}
			addr += info.RegionSize
		}
	}
	requireCommitted(3 * pageSize)
	require.Equal(t, DefaultReserve, a.r.Reserved())
	for i := range a.Bytes() {
		a.Bytes()[i] = 0xAB
	}

	require.NoError(t, a.Resize(pageSize))
	requireCommitted(pageSize)
	require.NoError(t, a.Resize(5*pageSize))
	requireCommitted(5 * pageSize)
	b := a.Bytes()
	require.Equal(t, base, uintptr(unsafe.Pointer(&b[0])), "growth within the reservation stays in place")
	for i, x := range b {
		want := byte(0)
		if i < pageSize {
			want = 0xAB
		}
		if x != want {
			require.Failf(t, "wrong byte", "byte %d is %#x, want %#x", i, x, want)
		}
	}
}
