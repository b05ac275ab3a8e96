package memvec

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestCreateOnFullDiskLeavesNothing: on a full disk, an open that creates
// a vector file fails to reserve the blocks of its header (ENOSPC), and
// removes the file it created: nothing is left at the path, and an open
// with CreateNew succeeds once there is room.
func TestCreateOnFullDiskLeavesNothing(t *testing.T) {
	dir := smallDisk(t, "64k")
	fill := filepath.Join(dir, "fill")
	f, err := os.Create(fill)
	require.NoError(t, err)
	_, err = f.Write(make([]byte, 1<<20))
	require.ErrorIs(t, err, unix.ENOSPC)
	require.NoError(t, f.Close())

	for _, opts := range [][]Option{{CreateNew()}, nil} {
		path := filepath.Join(dir, "new.vec")
		_, err := Open[point](path, opts...)
		require.ErrorIs(t, err, unix.ENOSPC)
		require.NoFileExists(t, path)
	}
	require.NoError(t, os.Remove(fill))
	openVec[point](t, filepath.Join(dir, "new.vec"), CreateNew())
}

// TestColdOpenReadsOnlyTheHeader: Open and a read of element 0 of a vector
// file that is not in the page cache read a few pages from the disk, not
// the disk's read-ahead window around the header (a fault on a page of a
// file mapping that is not cached reads all of it: 8 MiB here). The file is
// on a loop-mounted ext4 whose read_ahead_kb is raised to 8192, as many
// disks have it; the bytes are this thread's read_bytes (/proc/thread-self/io),
// which count what it made the disk read. A fault in the middle of the
// file, after, must read megabytes: the measure sees the read-around.
func TestColdOpenReadsOnlyTheHeader(t *testing.T) {
	mnt := mountLoopFS(t, loopFilesystems[0])
	var st unix.Stat_t
	require.NoError(t, unix.Stat(mnt, &st))
	ra := fmt.Sprintf("/sys/dev/block/%d:%d/queue/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	old, err := os.ReadFile(ra)
	if err != nil {
		loopFSUnavailable(t, "cannot read the loop device's read-ahead: %v", err)
	}
	require.NoError(t, os.WriteFile(ra, []byte("8192"), 0))
	t.Cleanup(func() { os.WriteFile(ra, old, 0) })

	path := filepath.Join(mnt, "cold.vec")
	const n = 8 << 20 / 24
	v := openVec[point](t, path)
	for i := range n {
		v.Push(point{float64(i), 1, 2})
	}
	require.NoError(t, v.Close())
	// Written back, so that evicting drops every page (it skips dirty ones).
	f, err := os.Open(path)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if threadReadBytes() < 0 {
		loopFSUnavailable(t, "no per-thread I/O accounting (/proc/thread-self/io)")
	}
	for _, opts := range [][]Option{{ReadOnly()}, nil} {
		require.NoError(t, evictFile(path))
		before := threadReadBytes()
		v, err := Open[point](path, opts...)
		require.NoError(t, err)
		// Closed before the unmount, also when an assertion fails.
		t.Cleanup(func() { v.Close() })
		require.Equal(t, point{0, 1, 2}, v.Index(0))
		read := threadReadBytes() - before
		require.Less(t, read, int64(1<<20), "Open (%d options) and Index(0) read %d bytes", len(opts), read)

		before = threadReadBytes()
		require.Equal(t, point{n / 2, 1, 2}, v.Index(n/2))
		read = threadReadBytes() - before
		require.Greater(t, read, int64(1<<20), "a fault in the middle read only %d bytes: no read-around to see", read)
		require.NoError(t, v.Close())
	}
}
