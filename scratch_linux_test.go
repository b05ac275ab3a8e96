package memvec

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/memvec/memvec/internal/region"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// scratchFilesystems are the filesystems on which the tests watch a
// scratch file's disk space: tmpfs, whose free space is exact at once, and
// ext4 on a loop device, a disk's filesystem.
var scratchFilesystems = []loopFS{
	{"tmpfs", nil, 32 << 20},
	{"ext4", []string{"mkfs.ext4", "-q", "-F", "-m", "0", "-b", "4096"}, 32 << 20},
}

// scratchDir mounts fs and returns a directory of its own in it: ext4
// has lost+found at its root.
func scratchDir(t *testing.T, fs loopFS) string {
	t.Helper()
	dir := filepath.Join(mountLoopFS(t, fs), "scratch")
	require.NoError(t, os.Mkdir(dir, 0o755))
	return dir
}

// scratchLink returns where /proc/self/fd leads for the scratch file of
// mem: "<dir>/#<inode> (deleted)" for an O_TMPFILE, "<dir>/memvec-<hex>
// (deleted)" for a file whose name was removed.
func scratchLink(t *testing.T, mem Memory) string {
	t.Helper()
	link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", mem.(*scratchFile).r.OS().Fd()))
	require.NoError(t, err)
	return link
}

// TestTempDirSpaceFreedAtClose: the disk space a vector and a Bytes made
// with TempDir take comes back to the filesystem at their Close, with
// O_TMPFILE and with a file whose name was removed (the fallback), and the
// directory holds no name meanwhile.
func TestTempDirSpaceFreedAtClose(t *testing.T) {
	for _, fs := range scratchFilesystems {
		for _, tmpfile := range []bool{true, false} {
			t.Run(fmt.Sprintf("fs=%s/tmpfile=%t", fs.name, tmpfile), func(t *testing.T) {
				dir := scratchDir(t, fs)
				defer func(was bool) { region.TryTmpfile = was }(region.TryTmpfile)
				region.TryTmpfile = tmpfile
				free := freeBlocks(t, dir)
				v, err := Make[point](0, TempDir(dir))
				require.NoError(t, err)
				defer v.Close() // unmounting needs it closed, should the test fail
				b, err := MakeBytes(TempDir(dir))
				require.NoError(t, err)
				defer b.Close()
				for _, m := range []Memory{v.Memory(), b.idx, b.dat} {
					link := scratchLink(t, m)
					require.True(t, strings.HasSuffix(link, " (deleted)"), link)
					if tmpfile {
						require.True(t, strings.HasPrefix(link, dir+"/#"), "an O_TMPFILE: %s", link)
					} else {
						require.True(t, strings.HasPrefix(link, dir+"/memvec-"), "a removed name: %s", link)
					}
				}
				const n = 100_000
				rec := make([]byte, 1024)
				for i := range n {
					require.NoError(t, v.Push(pt(i)))
					if i%40 == 0 {
						require.NoError(t, b.Push(rec))
					}
				}
				requireNoName(t, dir, v.Memory(), b.idx, b.dat)
				held := int64(free-freeBlocks(t, dir)) * 4096
				require.GreaterOrEqual(t, held, int64(n*24+n/40*1024), "the pushes take disk space")
				require.NoError(t, v.Close())
				require.NoError(t, b.Close())
				require.Equal(t, free, freeBlocks(t, dir), "Close gives every block back")
				entries, err := os.ReadDir(dir)
				require.NoError(t, err)
				require.Empty(t, entries)
			})
		}
	}
}

// TestTempDirSpaceFreedAtKill: a process killed with SIGKILL while it
// holds a vector and a Bytes made with TempDir leaves no name and no disk
// space taken: the filesystem's free space comes back once it is gone.
func TestTempDirSpaceFreedAtKill(t *testing.T) {
	for _, fs := range scratchFilesystems {
		t.Run("fs="+fs.name, func(t *testing.T) {
			dir := scratchDir(t, fs)
			free := freeBlocks(t, dir)
			const n = 200_000
			c := startChild(t, "tempdirhold", "MEMVEC_PATH="+dir, fmt.Sprintf("MEMVEC_N=%d", n))
			c.expect(t, "pushed")
			held := int64(free-freeBlocks(t, dir)) * 4096
			require.GreaterOrEqual(t, held, int64(n*24+n/42*1024), "the child's pushes take disk space")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, entries, "no name reaches the child's scratch files")
			c.kill(t, nil)
			require.Equal(t, free, freeBlocks(t, dir), "the kill gives every block back")
		})
	}
}

func init() {
	children["tempdirfull"] = tempDirFullChild
}

// tempDirFullChild pushes points into a vector made with
// TempDir($MEMVEC_PATH) until a push fails, closes it, which gives its
// space back, then pushes records of 4 KiB into a Bytes made so, and
// prints, for each, the length and how it failed ("ENOSPC"). A SIGBUS
// kills it.
func tempDirFullChild() {
	dir := os.Getenv("MEMVEC_PATH")
	v, err := Make[point](0, TempDir(dir))
	if err != nil {
		fmt.Println("make:", err)
		return
	}
	for n := 0; err == nil; n++ {
		err = v.Push(pt(n))
	}
	fmt.Println(v.Len())
	fullDiskResult(err)
	if err := v.Close(); err != nil {
		fmt.Println("close:", err)
		return
	}
	b, err := MakeBytes(TempDir(dir))
	if err != nil {
		fmt.Println("make:", err)
		return
	}
	rec := make([]byte, 4096)
	for err == nil {
		err = b.Push(rec)
	}
	fmt.Println(b.Len())
	fullDiskResult(err)
	if err := b.Close(); err != nil {
		fmt.Println("close:", err)
	}
}

// TestTempDirFullDisk fills each filesystem of the full-disk tests with a
// vector and then a Bytes made with TempDir, in a child process: the push
// that finds no room returns ENOSPC, none faults, and the child's files
// leave nothing behind. A Make whose capacity does not fit fails with
// ENOSPC, giving back what it took and leaving no name.
func TestTempDirFullDisk(t *testing.T) {
	for _, fs := range loopFilesystems {
		t.Run(fs.name, func(t *testing.T) {
			if fs.name == "btrfs" && runtime.GOARCH == "386" {
				// A known bug, open: as a 32-bit program on btrfs, the
				// vector's child dies of a SIGBUS when the disk fills
				// (CI's 32-bit step found it; a named file's vector
				// passes there, TestFullDiskOnFilesystems/btrfs). Until
				// it is fixed, README's Limits says so.
				t.Skip("known bug: a TempDir vector on a full btrfs faults as a 32-bit program")
			}
			dir := scratchDir(t, fs)
			fillDisk(t, dir, 3<<20)
			free := freeBlocks(t, dir)
			out := runFullDiskChild(t, "tempdirfull", dir)
			var n, records int
			var how, bytesHow string
			_, err := fmt.Sscan(out, &n, &how, &records, &bytesHow)
			require.NoError(t, err, out)
			require.Equal(t, "ENOSPC", how, out)
			require.Greater(t, n*24, 1<<20, "the pushes must have filled the disk")
			require.Equal(t, "ENOSPC", bytesHow, out)
			require.Greater(t, records*4096, 1<<20, "the Bytes's pushes must have filled the disk")
			require.Equal(t, free, freeBlocks(t, dir), "the child's files took nothing for good")

			_, err = Make[point](1_000_000, TempDir(dir))
			require.ErrorIs(t, err, unix.ENOSPC)
			require.True(t, strings.HasPrefix(err.Error(), "memvec: resize unnamed file in "+dir+": from "), err)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 1, "the failed Make leaves no name")
			require.Equal(t, "filler", entries[0].Name())
			require.Equal(t, free, freeBlocks(t, dir), "the failed Make gives back what it took")
			require.NoError(t, os.Remove(filepath.Join(dir, "filler")))
		})
	}
}
