package memvec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// smallDisk mounts a tmpfs of size bytes on a temporary directory and
// unmounts it when the test ends. It skips the test unless it runs as root
// (or may mount for another reason).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := tempDir(t)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { require.NoError(t, unix.Unmount(dir, 0)) })
	return dir
}

// TestFullDiskIsAnErrorNotSIGBUS fills a 4 MiB filesystem by pushing: the
// push that finds no room returns ENOSPC (the process gets no SIGBUS), every
// element pushed before reads back intact, now and after reopening, and the
// vector keeps working within the room it has.
func TestFullDiskIsAnErrorNotSIGBUS(t *testing.T) {
	path := filepath.Join(smallDisk(t, "4m"), "full.vec")
	v := openVec[point](t, path)
	var err error
	n := 0
	for ; n < 1_000_000; n++ {
		if err = v.Push(pt(n)); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, unix.ENOSPC)
	require.ErrorContains(t, err, path)
	require.Equal(t, n, v.Len(), "a failed push must leave the vector unchanged")
	require.Greater(t, n*24, 3<<20, "growth must fall back to small steps and fill the disk")
	require.ErrorIs(t, v.Push(pt(n)), unix.ENOSPC, "the disk is still full")
	require.ErrorIs(t, v.Grow(1000), unix.ENOSPC)

	for i := range n {
		require.Equal(t, pt(i), v.Index(i))
	}
	x, ok := v.Pop() // the room it has still works
	require.True(t, ok)
	require.Equal(t, pt(n-1), x)
	require.NoError(t, v.Push(x))
	require.NoError(t, v.Sync())
	require.NoError(t, v.Close())

	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.LessOrEqual(t, fi.Size(), int64(4<<20))
	v = openVec[point](t, path)
	require.Equal(t, n, v.Len())
	for i, x := range v.All() {
		require.Equal(t, pt(i), x)
	}
}

// TestFullDiskOnCreate: a new vector on a full disk is an error, and the
// empty file it leaves opens later as a new vector.
func TestFullDiskOnCreate(t *testing.T) {
	dir := smallDisk(t, "64k")
	filler, err := os.Create(filepath.Join(dir, "filler"))
	require.NoError(t, err)
	for {
		if _, err = filler.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, unix.ENOSPC)
	path := filepath.Join(dir, "new.vec")
	_, err = Open[point](path)
	require.ErrorIs(t, err, unix.ENOSPC)

	require.NoError(t, filler.Truncate(0))
	require.NoError(t, filler.Close())
	v := openVec[point](t, path)
	require.Zero(t, v.Len())
	require.NoError(t, v.Push(pt(1)))
}
