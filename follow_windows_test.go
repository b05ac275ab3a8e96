package memvec

import (
	"os"
	"testing"
	"unsafe"

	"github.com/memvec/memvec/internal/region"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
)

// makePoll does nothing: followers here always poll.
func makePoll(f *File) {}

// statSize returns the size of the file at path.
func statSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

// TestFollowerViewMovesOnGrowth specifies where a follower's region lies on
// Windows: a Refresh that finds the elements within the follower's view
// maps nothing and moves nothing, and one that finds the file grown past
// the view maps the whole file anew and unmaps the old view, which is what
// File's documentation says. The view is read-only.
func TestFollowerViewMovesOnGrowth(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Push(pt(0)))
	r := openVec[point](t, path, Follow())
	require.Equal(t, pts(0), r.Slice())
	base := uintptr(unsafe.Pointer(&r.Slice()[0]))
	view := query(t, base)
	require.Equal(t, uint32(windows.PAGE_READONLY), view.Protect, "a follower maps the file read-only")

	for w.Len() < w.Cap() {
		require.NoError(t, w.Push(pt(w.Len())))
	}
	n, err := r.Refresh()
	require.NoError(t, err)
	require.Equal(t, w.Len(), n)
	require.Equal(t, base, uintptr(unsafe.Pointer(&r.Slice()[0])), "a Refresh within the file's size does not move the view")

	require.NoError(t, w.Push(pt(w.Len()))) // past the capacity: the file grows
	n, err = r.Refresh()
	require.NoError(t, err)
	require.Equal(t, w.Len(), n)
	now := uintptr(unsafe.Pointer(&r.Slice()[0]))
	require.NotEqual(t, base, now, "a Refresh that finds the file grown maps it anew")
	requireRetired(t, base, view.AllocationBase, "a Refresh that finds the file grown")
	for i, x := range r.All() {
		require.Equal(t, pt(i), x)
	}
	require.Equal(t, statSize(t, path), int64(len(r.mem.Bytes())), "the follower maps the whole file")
}

// TestFollowerTakesNoWriterLock: a follower opens beside a writer and beside
// ReadOnly readers, and they open beside it. On Windows the lock belongs to
// the handle, so handles in one process keep each other out as handles in
// two processes do.
func TestFollowerTakesNoWriterLock(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(0, 1, 2)...))
	r1 := openVec[point](t, path, Follow())
	require.NoError(t, w.Close())

	w = openVec[point](t, path) // a writer opens beside a follower
	require.NoError(t, w.Push(pt(3)))
	n, err := r1.Refresh()
	require.NoError(t, err)
	require.Equal(t, 4, n)
	require.NoError(t, w.Close())

	ro := openVec[point](t, path, ReadOnly()) // so does a reader
	r2 := openVec[point](t, path, Follow())   // and a follower beside it
	require.Equal(t, pts(0, 1, 2, 3), r2.Slice())
	require.NoError(t, ro.Close())
	openVec[point](t, path) // the followers leave the writer's lock free
}

// TestFollowerKeepsClipFromTruncating: a writer's Clip with a follower
// attached succeeds and keeps the file's size and the writer's view, which
// only the follower lock tells it to do (without it, the writer unmaps its
// view to cut the file, Windows refuses the cut under the follower's view,
// and the writer maps the file again elsewhere: see
// TestClipUnderForeignView). The writer grows back into the bytes it kept;
// once the follower has closed, Clip truncates.
func TestFollowerKeepsClipFromTruncating(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	for i := range 100 {
		require.NoError(t, w.Push(pt(i)))
	}
	r := openVec[point](t, path, Follow())
	require.Equal(t, 100, r.Len())
	size := statSize(t, path)
	need, err := regionSize(w.dataOffset, 10, w.layout.size)
	require.NoError(t, err)
	require.Greater(t, size, int64(need))

	base, view := uintptr(unsafe.Pointer(&w.Slice()[0])), w.mem.(*File).r.Reserved()
	w.Truncate(10)
	require.ErrorIs(t, w.Clip(), ErrFollowed)
	require.Equal(t, 10, w.Cap())
	require.Equal(t, size, statSize(t, path), "a Clip with a follower attached keeps the file's size")
	// The address alone would not show a view unmapped and mapped again:
	// Windows often hands the same address out again.
	require.Equal(t, view, w.mem.(*File).r.Reserved(), "a Clip that keeps the file's size keeps the writer's view")
	require.Equal(t, base, uintptr(unsafe.Pointer(&w.Slice()[0])), "a Clip that keeps the file's size keeps the writer's view")
	require.Equal(t, pt(99), r.Index(99), "the follower still reads what it saw")
	n, err := r.Refresh()
	require.ErrorIs(t, err, ErrRewritten)
	require.Equal(t, 10, n)

	for i := 10; i < 20; i++ { // back into the bytes the Clip kept
		require.NoError(t, w.Push(pt(i)))
	}
	require.Equal(t, size, statSize(t, path))
	require.Equal(t, base, uintptr(unsafe.Pointer(&w.Slice()[0])), "growth back into the kept bytes keeps the writer's view")
	n, err = r.Refresh()
	require.NoError(t, err)
	require.Equal(t, 20, n)
	for i, x := range r.All() {
		require.Equal(t, pt(i), x)
	}

	require.NoError(t, r.Close())
	require.NoError(t, w.Clip())
	need, err = regionSize(w.dataOffset, 20, w.layout.size)
	require.NoError(t, err)
	require.Equal(t, int64(need), statSize(t, path), "a Clip without followers truncates")
	for i, x := range w.All() {
		require.Equal(t, pt(i), x)
	}
}

// TestClipUnderForeignView: a view of the file that holds no follower lock
// (a follower that took its lock after the writer looked, or another
// program) makes Windows refuse to cut the file; the Clip then keeps the
// file's size, as it does for a follower, and the vector stays whole.
func TestClipUnderForeignView(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	for i := range 100 {
		require.NoError(t, w.Push(pt(i)))
	}
	size := statSize(t, path)

	osf, err := os.Open(path)
	require.NoError(t, err)
	defer osf.Close()
	section, err := windows.CreateFileMapping(windows.Handle(osf.Fd()), nil, windows.PAGE_READONLY, 0, 0, nil)
	require.NoError(t, err)
	addr, err := windows.MapViewOfFile(section, windows.FILE_MAP_READ, 0, 0, 0)
	windows.CloseHandle(section)
	require.NoError(t, err)
	mapped := true
	defer func() {
		if mapped {
			windows.UnmapViewOfFile(addr)
		}
	}()
	seen := unsafe.Slice((*point)(unsafe.Add(unsafe.Pointer(region.AddrToPtr(addr)), w.dataOffset)), 100)

	w.Truncate(10)
	require.ErrorIs(t, w.Clip(), ErrFollowed)
	require.Equal(t, 10, w.Cap())
	require.Equal(t, size, statSize(t, path), "Windows keeps the bytes under another handle's view")
	require.Equal(t, pt(99), seen[99])
	for i := 10; i < 20; i++ {
		require.NoError(t, w.Push(pt(i)))
	}
	require.Equal(t, pts(seq(20)...), w.Slice())

	require.NoError(t, windows.UnmapViewOfFile(addr))
	mapped = false
	require.NoError(t, w.Clip())
	need, err := regionSize(w.dataOffset, 20, w.layout.size)
	require.NoError(t, err)
	require.Equal(t, int64(need), statSize(t, path))
}
