package memvec

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// memFree is the state of pages that nothing holds: MEM_FREE, which
// x/sys/windows does not define.
const memFree = 0x10000

// TestFileResizeMovesView specifies where a File's region lies on Windows:
// it stays put while pushes fit in the capacity, and every resize (a growth,
// a Clip) maps the file at a new address and unmaps the old view, keeping
// every element. This is what the README's Views table says.
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
		old := query(t, base)
		require.True(t, old.State == memFree || old.AllocationBase != base-uintptr(v.dataOffset),
			"%s unmaps the old view: %+v", op, old)
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
