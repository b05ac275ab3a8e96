package memvec

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memvec/memvec/internal/region"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The full-disk tests on real filesystems: each filesystem is made in a
// small image file and mounted over a loop device (tmpfs is mounted as
// itself), filled, and then the vector's writer, in a child process, pushes,
// opens or migrates on it. A SIGBUS kills the child, which fails the test:
// what the filesystems do differently (copy-on-write, small blocks, no
// fallocate) shows up as a fault only on the filesystem itself.

// loopFS is a filesystem the tests mount.
type loopFS struct {
	name string
	mkfs []string // the command that makes it in an image file, which is appended; none for tmpfs
	size int64    // the image's (or the tmpfs's) size
}

// loopFilesystems are the filesystems the tests mount: ext4 with extents
// (and fallocate), ext4 without extents with 1 KiB blocks (as ext2 and
// ext3 are: no fallocate, so blocks are reserved by writing into each),
// XFS with reflink (cp's default since coreutils 9 shares the copy's
// blocks), btrfs (copy-on-write) and tmpfs. The images are as small as
// mkfs allows: XFS refuses less than 300 MiB (xfsprogs 5.19 and later),
// btrfs less than 109 MiB. They are sparse, and the tests fill them with
// fallocate, so that they take little of the real disk and little time.
var loopFilesystems = []loopFS{
	{"ext4", []string{"mkfs.ext4", "-q", "-F", "-m", "0", "-b", "4096"}, 32 << 20},
	{"ext4-noextents-1k", []string{"mkfs.ext4", "-q", "-F", "-m", "0", "-b", "1024", "-O", "^extents,^64bit"}, 32 << 20},
	{"xfs", []string{"mkfs.xfs", "-q", "-f", "-m", "reflink=1"}, 300 << 20},
	{"btrfs", []string{"mkfs.btrfs", "-q", "-f"}, 110 << 20},
	{"tmpfs", nil, 16 << 20},
}

// loopFSUnavailable skips the test, or fails it if $MEMVEC_REQUIRE_LOOPFS
// is 1 (as in CI, which runs as root with loop devices and the mkfs tools).
func loopFSUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("MEMVEC_REQUIRE_LOOPFS") == "1" {
		t.Fatalf("MEMVEC_REQUIRE_LOOPFS=1, but: "+format, args...)
	}
	t.Skipf(format+" (set MEMVEC_REQUIRE_LOOPFS=1 to fail instead)", args...)
}

// mountLoopFS makes the filesystem fs in an image in a temporary directory,
// mounts it, and returns the mount point; it unmounts it (which detaches
// the loop device mount made) when the test ends.
func mountLoopFS(t *testing.T, fs loopFS) string {
	t.Helper()
	if os.Geteuid() != 0 {
		loopFSUnavailable(t, "mounting a filesystem needs root")
	}
	dir := tempDir(t)
	mnt := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mnt, 0o755))
	if fs.mkfs == nil {
		if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, fmt.Sprintf("size=%d", fs.size)); err != nil {
			loopFSUnavailable(t, "cannot mount a tmpfs: %v", err)
		}
	} else {
		if _, err := exec.LookPath(fs.mkfs[0]); err != nil {
			loopFSUnavailable(t, "no %s: %v", fs.mkfs[0], err)
		}
		img := filepath.Join(dir, fs.name+".img")
		f, err := os.Create(img)
		require.NoError(t, err)
		require.NoError(t, f.Truncate(fs.size))
		require.NoError(t, f.Close())
		out, err := exec.Command(fs.mkfs[0], append(fs.mkfs[1:], img)...).CombinedOutput()
		require.NoError(t, err, "%s", out)
		// mount -o loop attaches a free loop device with autoclear: the
		// unmount detaches it.
		if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
			loopFSUnavailable(t, "cannot mount %s over a loop device: %v: %s", fs.name, err, out)
		}
	}
	t.Cleanup(func() { require.NoError(t, unix.Unmount(mnt, 0)) })
	return mnt
}

// freeBytes returns the bytes free in the filesystem at dir (f_bavail),
// after syncing it, so that delayed allocations are counted.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	require.NoError(t, syncFS(dir))
	require.NoError(t, unix.Statfs(dir, &st))
	return int64(st.Bavail) * int64(st.Bsize)
}

// freeBlocks returns the filesystem's free blocks (f_bfree) once every
// block freed so far is counted: after a sync, and a freeze and a thaw,
// which also wait for the frees a filesystem defers (XFS frees a removed
// file's blocks in the background). tmpfs cannot be frozen and needs not.
func freeBlocks(t *testing.T, dir string) uint64 {
	t.Helper()
	require.NoError(t, syncFS(dir))
	d, err := os.Open(dir)
	require.NoError(t, err)
	defer d.Close()
	if err := unix.IoctlSetInt(int(d.Fd()), fiFreeze, 0); err == nil {
		require.NoError(t, unix.IoctlSetInt(int(d.Fd()), fiThaw, 0))
	}
	var st unix.Statfs_t
	require.NoError(t, unix.Fstatfs(int(d.Fd()), &st))
	return st.Bfree
}

// fiFreeze and fiThaw are the ioctls FIFREEZE and FITHAW (_IOWR('X', 119,
// int) and 120), which golang.org/x/sys/unix lacks.
const (
	fiFreeze = 0xc0045877
	fiThaw   = 0xc0045878
)

// syncFS syncs the filesystem at dir (syncfs).
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}

// fillDisk fills the filesystem at dir with a file named filler, leaving
// at most leave bytes free, or, with leave 0, none at all: fallocate in
// halving chunks where the filesystem has it, then writes of zeros in
// halving chunks, down to 512 bytes, synced and tried again until nothing
// more fits (a sync turns reservations made for delayed allocation into
// the blocks used, which may free some).
func fillDisk(t *testing.T, dir string, leave int64) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	require.NoError(t, err)
	defer f.Close()
	var off int64
	for chunk := freeBytes(t, dir) - leave; chunk >= 4096; {
		err := unix.Fallocate(int(f.Fd()), 0, off, chunk)
		if errors.Is(err, unix.EOPNOTSUPP) {
			break
		}
		if err != nil {
			require.ErrorIs(t, err, unix.ENOSPC)
			chunk /= 2
			continue
		}
		off += chunk
		chunk = min(chunk, freeBytes(t, dir)-leave)
	}
	zeros := make([]byte, 1<<20)
	for {
		before := off
		for chunk := int64(len(zeros)); chunk >= 512; {
			if leave > 0 && freeBytes(t, dir)-leave < chunk {
				chunk /= 2
				continue
			}
			n, err := f.WriteAt(zeros[:chunk], off)
			off += int64(n)
			if err != nil {
				require.ErrorIs(t, err, unix.ENOSPC)
				chunk /= 2
			}
		}
		require.NoError(t, f.Truncate(off)) // a short write may leave blocks past off
		require.NoError(t, f.Sync())
		if off == before {
			break
		}
	}
	// XFS keeps a few blocks that no write gets, but copy-on-write can.
	require.LessOrEqual(t, freeBytes(t, dir), max(leave, 64<<10))
}

// emptyDir removes everything in dir.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
}

// runFullDiskChild runs the test binary as role with $MEMVEC_PATH set to
// path, and returns what it printed. A child that dies, as of a SIGBUS,
// fails the test with what it said on stderr.
func runFullDiskChild(t *testing.T, role, path string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, "MEMVEC_PATH="+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		msg := stderr.String()
		if i := strings.Index(msg, "\ngoroutine "); i >= 0 {
			msg = msg[:i] // the fault, not every goroutine's stack
		}
		t.Fatalf("the %s child failed (%v), having printed %q:\n%s", role, err, stdout.String(), msg)
	}
	return strings.TrimSpace(stdout.String())
}

func init() {
	children["fullpush"] = fullPushChild
	children["fullopen"] = fullOpenChild
	children["fullmigrate"] = fullMigrateChild
}

// fullDiskResult prints how a child's operation ended: "ENOSPC" for an
// error that wraps it, else the error, and then exits.
func fullDiskResult(err error) {
	switch {
	case err == nil:
		fmt.Println("ok")
	case errors.Is(err, unix.ENOSPC):
		fmt.Println("ENOSPC")
	default:
		fmt.Println(err)
	}
}

// fullPushChild opens the vector of points at $MEMVEC_PATH and pushes
// pt(i) from its length on until a push fails, syncing every 4096 pushes
// (so that the pages written go back to the disk and the next write to
// them faults again, as the header's page does at every store of the
// length). It prints the length and how the push failed, and closes.
func fullPushChild() {
	v, err := Open[point](os.Getenv("MEMVEC_PATH"))
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	n := v.Len()
	for ; err == nil; n++ {
		if err = v.Push(pt(n)); err == nil && n%4096 == 0 {
			err = v.Sync()
		}
	}
	fmt.Println(v.Len())
	fullDiskResult(err)
	if err := v.Close(); err != nil {
		fmt.Println("close:", err)
	}
}

// fullOpenChild opens the vector of points at $MEMVEC_PATH for writing,
// which claims the header (a write into its page), and closes it.
func fullOpenChild() {
	v, err := Open[point](os.Getenv("MEMVEC_PATH"))
	if err == nil {
		err = v.Close()
	}
	fullDiskResult(err)
}

// fullMigrateChild migrates the vector of points at $MEMVEC_PATH to a
// wider element.
func fullMigrateChild() {
	fullDiskResult(Migrate(os.Getenv("MEMVEC_PATH"), widenToPoint4))
}

type point4 struct{ X, Y, Z, W float64 }

func widenToPoint4(p point) point4 { return point4{p.X, p.Y, p.Z, 1} }

// requirePoints requires the vector of points at path to hold pt(0) to
// pt(n-1), opened ReadOnly (which writes nothing).
func requirePoints(t *testing.T, path string, n int) {
	t.Helper()
	got, err := readVec[point](path)
	require.NoError(t, err)
	require.Len(t, got, n)
	for i, x := range got {
		if x != pt(i) {
			require.Failf(t, "element changed", "element %d is %v", i, x)
		}
	}
}

// cloneFile makes dst a copy of src that shares its blocks (FICLONE, what
// cp does by default since coreutils 9), or reports that the filesystem
// cannot. On btrfs the copy must have the original's no-copy-on-write
// attribute.
func cloneFile(t *testing.T, src, dst string) bool {
	t.Helper()
	s, err := os.Open(src)
	require.NoError(t, err)
	defer s.Close()
	d, err := os.Create(dst)
	require.NoError(t, err)
	defer d.Close()
	if flags, err := unix.IoctlGetUint32(int(s.Fd()), unix.FS_IOC_GETFLAGS); err == nil && flags&region.FSNoCOWFlag != 0 {
		require.NoError(t, unix.IoctlSetPointerInt(int(d.Fd()), unix.FS_IOC_SETFLAGS, int(region.FSNoCOWFlag)))
	}
	if err := unix.IoctlFileClone(int(d.Fd()), int(s.Fd())); err != nil {
		require.NoError(t, os.Remove(dst))
		return false
	}
	return true
}

// TestFullDiskOnFilesystems runs the full-disk cases on each filesystem
// of loopFilesystems: a full disk is an error, never a SIGBUS, and the
// vector is intact after it.
func TestFullDiskOnFilesystems(t *testing.T) {
	for _, fs := range loopFilesystems {
		t.Run(fs.name, func(t *testing.T) {
			dir := mountLoopFS(t, fs)
			path := filepath.Join(dir, "full.vec")

			// Pushing until the disk is full: growth fails with ENOSPC,
			// nothing faults (not the elements' stores into the blocks
			// reserved, not the length's into the header's page, which
			// every Sync writes back), and what was pushed stays.
			t.Run("push", func(t *testing.T) {
				emptyDir(t, dir)
				fillDisk(t, dir, 3<<20)
				out := runFullDiskChild(t, "fullpush", path)
				var n int
				var how string
				_, err := fmt.Sscan(out, &n, &how)
				require.NoError(t, err, out)
				require.Equal(t, "ENOSPC", how, out)
				require.Greater(t, n*int(24), 1<<20, "the pushes must have filled the disk")
				requirePoints(t, path, n)
			})

			// A growth that fails gives back the blocks it got.
			t.Run("grow", func(t *testing.T) {
				emptyDir(t, dir)
				fillDisk(t, dir, 2<<20)
				v := openVec[point](t, path)
				require.NoError(t, v.Append(pts(1, 2, 3)...))
				require.NoError(t, v.Sync())
				free := freeBlocks(t, dir)
				require.ErrorIs(t, v.Grow(1<<20), unix.ENOSPC)
				require.Equal(t, free, freeBlocks(t, dir), "the failed growth must give back what it allocated")
				require.NoError(t, v.Push(pt(4)))
			})

			// Opening an existing vector on a full disk writes into the
			// header's page (the writer claims it): no fault, and the
			// vector as it was. A copy that shares its blocks with
			// another file (XFS's reflink; btrfs cannot be helped, see
			// the README) is an ENOSPC at the open instead, until there
			// is room.
			t.Run("open", func(t *testing.T) {
				emptyDir(t, dir)
				writeVec(t, path, generate(100_000, pt))
				clone := filepath.Join(dir, "clone.vec")
				cloned := false
				if fs.name == "xfs" {
					orig := filepath.Join(dir, "orig.vec")
					writeVec(t, orig, generate(100_000, pt))
					cloned = cloneFile(t, orig, clone)
					require.True(t, cloned, "XFS with reflink clones")
				}
				fillDisk(t, dir, 0)

				require.Equal(t, "ok", runFullDiskChild(t, "fullopen", path))
				requirePoints(t, path, 100_000)
				if cloned {
					require.Equal(t, "ENOSPC", runFullDiskChild(t, "fullopen", clone))
					requirePoints(t, clone, 100_000)
					require.NoError(t, os.Remove(filepath.Join(dir, "filler")))
					require.Equal(t, "ok", runFullDiskChild(t, "fullopen", clone))
					requirePoints(t, clone, 100_000)
				}
			})

			// A Migrate the disk has no room for fails with ENOSPC, and
			// leaves the old vector and the free space as they were:
			// with some room (it fails at the reservation for the new
			// vector) and with none (it claims the old vector's header
			// first, then fails to create the new one).
			for _, leave := range []int64{512 << 10, 0} {
				t.Run(fmt.Sprintf("migrate/free=%dk", leave>>10), func(t *testing.T) {
					emptyDir(t, dir)
					writeVec(t, path, generate(60_000, pt)) // 1.4 MB; migrated, 1.9 MB
					fillDisk(t, dir, leave)
					free := freeBlocks(t, dir)
					require.Equal(t, "ENOSPC", runFullDiskChild(t, "fullmigrate", path))
					requirePoints(t, path, 60_000)
					require.ElementsMatch(t, []string{"full.vec", "filler"}, dirNames(t, dir))
					require.Equal(t, free, freeBlocks(t, dir))
				})
			}

			// A file with a hole and, past its length, room that growth
			// fallocated but nothing wrote, which XFS and ext4 report as
			// holes too: a writer's open needs blocks for the hole only,
			// and must not fail for the rest, which has them.
			t.Run("unwritten", func(t *testing.T) {
				emptyDir(t, dir)
				v := openVec[point](t, path)
				require.NoError(t, v.Append(generate(1000, pt)...))
				require.NoError(t, v.Grow(400_000)) // 9.6 MB, fallocated
				// A follower keeps the room from being cut at Close, as a
				// killed writer would.
				follower := openVec[point](t, path, Follow())
				require.NoError(t, v.Close())
				require.NoError(t, follower.Close())
				f, err := os.OpenFile(path, os.O_RDWR, 0)
				require.NoError(t, err)
				fi, err := f.Stat()
				require.NoError(t, err)
				hole := fi.Size() - 1<<20
				require.NoError(t, unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, hole, 64<<10))
				require.NoError(t, unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)) // no page cache over the rest
				require.NoError(t, f.Close())
				fillDisk(t, dir, 2<<20)
				require.Equal(t, "ok", runFullDiskChild(t, "fullopen", path))
				requirePoints(t, path, 1000)
			})

			// A huge sparse file with a valid header: a writer's open
			// must back its holes, which do not fit, so it fails with
			// ENOSPC and leaves the free space as it was; both the check
			// of the free space before and the giving back after a
			// failed allocation do that, each alone.
			for _, check := range []bool{true, false} {
				t.Run(fmt.Sprintf("sparse/check=%v", check), func(t *testing.T) {
					emptyDir(t, dir)
					writeVec(t, path, generate(10, pt))
					// 64 GiB; on 32-bit platforms 1 GiB, larger than any
					// of these filesystems still: a file past 2 GiB does
					// not fit in the address space, and the open refuses
					// it before it asks for a block.
					size := min(int64(64<<30), int64(math.MaxInt/2+1))
					for {
						err := os.Truncate(path, size)
						if err == nil {
							break
						}
						require.ErrorIs(t, err, unix.EFBIG)
						size /= 2 // ext4 without extents: 16 GiB at most with 1 KiB blocks
					}
					defer func(was bool) { region.CheckFreeSpace = was }(region.CheckFreeSpace)
					region.CheckFreeSpace = check
					free := freeBlocks(t, dir)
					_, err := Open[point](path)
					require.ErrorIs(t, err, unix.ENOSPC)
					if check {
						require.ErrorContains(t, err, "bytes free", "the check must refuse before allocating")
					}
					require.Equal(t, free, freeBlocks(t, dir), "the open must give back the blocks it allocated")
					requirePoints(t, path, 10)
				})
			}
		})
	}
}

// TestFaultOnAWholeFileIsNotAChange: a fault in memvec's own access of a
// file that has all its bytes is the filesystem's failure, not a cut: here
// a write into the header's page, which another program punched out of a
// full tmpfs, so that the page's block cannot be allocated again. Close's
// store of the length faults; it returns an error wrapping EIO that says
// so (not ErrFileChanged, nor "cut to N bytes"), once, and the program
// lives.
func TestFaultOnAWholeFileIsNotAChange(t *testing.T) {
	mnt := mountLoopFS(t, loopFS{name: "tmpfs", size: 4 << 20})
	path := filepath.Join(mnt, "v.vec")
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(seq(10_000)...)...))
	require.NoError(t, w.Sync())
	other, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	require.NoError(t, unix.Fallocate(int(other.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, int64(pageSize)))
	require.NoError(t, other.Close())
	fillDisk(t, mnt, 0)

	err = w.Close()
	require.ErrorIs(t, err, unix.EIO)
	require.NotErrorIs(t, err, ErrFileChanged)
	require.ErrorContains(t, err, "faulted, though the file has all its")
	require.Equal(t, 1, strings.Count(err.Error(), "faulted"), "said once: %v", err)
}
