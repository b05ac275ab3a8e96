package memvec

import (
	"os"
	"path/filepath"
	"strings"
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
	require.True(t, strings.HasPrefix(err.Error(), "memvec: resize "+path+": from "), err)
	require.Equal(t, 1, strings.Count(err.Error(), "memvec:"), "the message says where once: %v", err)
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

// TestOpenBacksHolesOfSparseFile: a vector file copied sparse (its zero
// elements made holes) gets its blocks back when opened for writing, so
// that writing those elements on a full disk is not a SIGBUS; a file with
// all its blocks is left alone.
func TestOpenBacksHolesOfSparseFile(t *testing.T) {
	path := vecPath(t)
	v := openVec[point](t, path)
	require.NoError(t, v.Append(make([]point, 100_000)...)) // 2.4 MB of zeros
	require.NoError(t, v.Push(pt(1)))
	require.NoError(t, v.Clip())
	require.NoError(t, v.Close())
	data, err := os.ReadFile(path)
	require.NoError(t, err)

	sparse := filepath.Join(tempDir(t), "sparse.vec")
	f, err := os.Create(sparse)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(int64(len(data))))
	_, err = f.WriteAt(data[:4096], 0)
	require.NoError(t, err)
	_, err = f.WriteAt(data[len(data)-4096:], int64(len(data)-4096))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	blocks := func() int64 {
		var st unix.Stat_t
		require.NoError(t, unix.Stat(sparse, &st))
		return st.Blocks * 512
	}
	require.Less(t, blocks(), int64(len(data)/2), "the copy is sparse")

	w := openVec[point](t, sparse)
	require.GreaterOrEqual(t, blocks(), int64(len(data)), "opening for writing backs the holes")
	require.Equal(t, pt(1), w.Index(100_000))
	require.Equal(t, point{}, w.Index(50_000))
}

// TestMigrateFullDisk: a Migrate that the disk has no room for fails with
// ENOSPC before converting anything, leaves the old vector intact and
// nothing beside it; one to a smaller type still fits.
func TestMigrateFullDisk(t *testing.T) {
	dir := smallDisk(t, "1m")
	path := filepath.Join(dir, "full.vec")
	old := generate(70_000, func(i int) int64 { return int64(i) * 7 })
	writeVec(t, path, old) // 560 KB: a second copy does not fit
	converted := 0
	err := Migrate(path, func(x int64) int64 { converted++; return x })
	require.ErrorIs(t, err, unix.ENOSPC)
	require.Zero(t, converted, "the room is reserved before converting")
	got, err := readVec[int64](path)
	require.NoError(t, err)
	require.Equal(t, old, got)
	require.Equal(t, []string{"full.vec"}, dirNames(t, dir))

	require.NoError(t, Migrate(path, func(x int64) int16 { return int16(x) }))
	got16, err := readVec[int16](path)
	require.NoError(t, err)
	require.Equal(t, len(old), len(got16))
	require.Equal(t, int16(old[len(old)-1]), got16[len(got16)-1])
}

// TestSharedFullDisk: two Shared writers push in turns (of 1,000 pushes:
// a switch waits for the holder's idleness, 200 µs) until a 4 MiB
// filesystem is full. The push that finds no room returns ENOSPC to the
// writer that made it (no SIGBUS), then to the other, each time; every
// element pushed before reads back intact in both, and after reopening.
func TestSharedFullDisk(t *testing.T) {
	path := filepath.Join(smallDisk(t, "4m"), "full.vec")
	a, err := Open[point](path, Shared())
	require.NoError(t, err)
	b, err := Open[point](path, Shared())
	require.NoError(t, err)
	ws := []*MemVec[point]{a, b}
	n := 0
	for ; n < 1_000_000; n++ {
		if err = ws[n/1000%2].Push(pt(n)); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, unix.ENOSPC)
	require.Greater(t, n*24, 3<<20, "growth must fall back to small steps and fill the disk")
	require.ErrorIs(t, ws[(n/1000+1)%2].Push(pt(n)), unix.ENOSPC, "the other writer finds the disk full too")
	require.ErrorIs(t, ws[n/1000%2].Append(pt(n), pt(n+1)), unix.ENOSPC)
	for _, w := range ws {
		got, err := w.Refresh()
		require.NoError(t, err)
		require.Equal(t, n, got, "a failed push must count nothing")
		for i, x := range w.All() {
			require.Equal(t, pt(i), x)
		}
	}
	require.NoError(t, a.Sync())
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
	v := openVec[point](t, path)
	require.Equal(t, n, v.Len())
	for i, x := range v.All() {
		require.Equal(t, pt(i), x)
	}
}
