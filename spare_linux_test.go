package memvec

import (
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// diskBytes returns the bytes of disk the file at path occupies (st_blocks)
// and its size.
func diskBytes(t testing.TB, path string) (disk, size int64) {
	t.Helper()
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(path, &st))
	return st.Blocks * 512, st.Size
}

// TestCloseGivesBackSpareBlocks: growth doubles the file and reserves the
// blocks of the whole step, so a file of 2.5 MiB of elements holds 4 MiB of
// blocks while open; Close cuts it to its elements, rounded up to a page,
// and the blocks past them go back to the filesystem. With a follower
// attached it keeps them (the follower's view of elements the writer
// dropped reads on, without a fault), and the next writer's Close, with no
// follower left, cuts them.
func TestCloseGivesBackSpareBlocks(t *testing.T) {
	path := vecPath(t)
	const n = 5 << 19 / 24 // 2.5 MiB of 24-byte points
	w := openVec[point](t, path)
	for i := range n {
		require.NoError(t, w.Push(pt(i)))
	}
	data := int64(roundUp(w.dataOffset+n*24, pageSize))
	disk, size := diskBytes(t, path)
	require.Greater(t, size, data+1<<20, "growth reserved a spare step")
	require.Greater(t, disk, data+1<<20, "growth reserved the step's blocks")
	require.NoError(t, w.Close())

	disk, size = diskBytes(t, path)
	require.Equal(t, data, size, "Close cuts the file to its elements, in whole pages")
	// A filesystem may keep a block or so of its own preallocation.
	require.LessOrEqual(t, disk, data+64<<10, "Close gives the spare blocks back")
	v := openVec[point](t, path, ReadOnly())
	require.Equal(t, n, v.Len())
	for i, x := range v.All() {
		if x != pt(i) {
			require.Equal(t, pt(i), x)
		}
	}
	require.NoError(t, v.Close())

	// A follower keeps the spare blocks: its view reaches past the
	// elements the writer keeps.
	w = openVec[point](t, path)
	require.NoError(t, w.Grow(1<<20)) // 24 MiB more
	for i := range 1000 {
		require.NoError(t, w.Push(pt(n+i)))
	}
	f := follow[point](t, path)
	require.Equal(t, n+1000, f.Len())
	view := f.Slice()
	w.Truncate(10)
	grown := fileSize(t, path)
	require.NoError(t, w.Close())
	_, size = diskBytes(t, path)
	require.Equal(t, grown, size, "Close keeps the file's size while a follower is attached")
	for i := n; i < n+1000; i++ { // would fault if the file had been cut
		require.Equal(t, pt(i), view[i])
	}
	require.NoError(t, f.Close())

	w = openVec[point](t, path)
	require.Equal(t, 10, w.Len())
	require.NoError(t, w.Close())
	disk, size = diskBytes(t, path)
	want := int64(roundUp(w.dataOffset+10*24, pageSize))
	require.Equal(t, want, size, "with no follower left, the next writer's Close cuts the file")
	require.LessOrEqual(t, disk, want+64<<10)
}

// TestCloseKeepsDurableElements: a writer that dropped elements a Sync had
// made durable cuts the file at Close no lower than the header on the disk
// may count, and the file opens with the length the writer left.
func TestCloseKeepsDurableElements(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(seq(10_000)...)...))
	require.NoError(t, w.Sync())
	w.Truncate(3)
	require.NoError(t, w.Close())
	_, size := diskBytes(t, path)
	require.GreaterOrEqual(t, size, int64(w.dataOffset+3*24))
	v := openVec[point](t, path, ReadOnly())
	require.Equal(t, pts(0, 1, 2), v.Slice())
}

// TestCloseCutsNothingAfterFileChanged: a file that another program cut
// under its writer is not cut again, nor grown, by the writer's Close.
func TestCloseCutsNothingAfterFileChanged(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(seq(100_000)...)...))
	require.NoError(t, os.Truncate(path, 4096))
	require.ErrorIs(t, w.Close(), ErrFileChanged)
	require.Equal(t, int64(4096), fileSize(t, path))
}
