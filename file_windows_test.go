package memvec

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
)

// memPrivate is the type of pages that are no view (a reservation, say):
// MEM_PRIVATE, which x/sys/windows does not define.
const memPrivate = 0x20000

// requireRetired requires that the pages at addr, where a view of a file
// was, are no view now but a reservation of the view's own range,
// inaccessible: retired to the quarantine, so that a stale view faults
// rather than reaching what is mapped there next.
func requireRetired(t *testing.T, addr, viewBase uintptr, op string) {
	t.Helper()
	old := query(t, addr)
	require.True(t, old.State == windows.MEM_RESERVE && old.Type == memPrivate && old.AllocationBase == viewBase,
		"%s leaves the old view's range reserved and inaccessible: %+v", op, old)
}

// TestFileResizeMovesView specifies where a File's region lies on Windows:
// it stays put while pushes fit in the capacity, and every resize (a growth,
// a Clip) maps the file at a new address and unmaps the old view, keeping
// every element. This is what the README's Views table says. The old view's
// range is kept reserved, so that a view from before the resize faults.
func TestFileResizeMovesView(t *testing.T) {
	v := openVec[point](t, vecPath(t))
	require.NoError(t, v.Push(pt(0)))
	base := uintptr(unsafe.Pointer(&v.Slice()[0]))
	for v.Len() < v.Cap() {
		require.NoError(t, v.Push(pt(v.Len())))
	}
	require.Equal(t, base, uintptr(unsafe.Pointer(&v.Slice()[0])), "pushes within the capacity do not move the region")

	requireMoved := func(op string) {
		t.Helper()
		now := uintptr(unsafe.Pointer(&v.Slice()[0]))
		require.NotEqual(t, base, now, "%s moves the region", op)
		requireRetired(t, base, base-uintptr(v.dataOffset), op)
		for i, x := range v.All() {
			require.Equal(t, pt(i), x, "after %s", op)
		}
		base = now
	}
	require.NoError(t, v.Push(pt(v.Len())))
	requireMoved("growth")
	require.NoError(t, v.Clip())
	requireMoved("Clip")
}
