package region

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reserveBlocks allocates the disk blocks of bytes [off, off+n) of osf,
// extending the file if they lie past its end, so that writing them through
// the mapping can never fail for want of space: a full disk is ENOSPC here,
// not a SIGBUS later. Linux does it with fallocate, which allocates without
// writing. Filesystems without fallocate get a zero byte written into every
// block instead.
//
// A fallocate that fails part of the way keeps what it allocated. Past the
// end of the file (growth) the caller's truncation back to the old size
// gives it back; within the file, backHoles does.
func reserveBlocks(osf *os.File, off, n int64) error {
	for {
		err := unix.Fallocate(int(osf.Fd()), 0, off, n)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOSYS):
			return writeBlocks(osf, off, n)
		}
		return err
	}
}

// ownBlocks readies the file of a writer's open, before it is mapped, so
// that no write through the mapping, all of which overwrite the file in
// place, needs a disk block the file does not have: on a full disk such a
// write is a SIGBUS. Three ways a file can lack them:
//
//   - It has holes (a sparse copy): backHoles allocates them.
//   - It shares its blocks with another file (a reflinked copy, as cp makes
//     by default since coreutils 9 on XFS and btrfs): a write must copy the
//     shared block first, into a new one. unshareBlocks gives the file its
//     own blocks, on XFS.
//   - Its filesystem copies on every write: btrfs writes each change to a
//     new block, unless the file has the no-copy-on-write attribute, which
//     only an empty file takes. A new (empty) file gets it here, as
//     systemd-journald's files do. A file that has data and not the
//     attribute stays copy-on-write; nothing can change that in place.
//
// A file with no room for its blocks is an error wrapping ENOSPC, and keeps
// the blocks it had.
func ownBlocks(osf *os.File, size int64) error {
	if size == 0 {
		disableCopyOnWrite(osf)
		return nil
	}
	if err := backHoles(osf, size); err != nil {
		return err
	}
	return unshareBlocks(osf, size)
}

// FSNoCOWFlag is FS_NOCOW_FL, the file attribute (FS_IOC_GETFLAGS) that
// makes btrfs overwrite a file's blocks in place (chattr +C).
const FSNoCOWFlag = 0x00800000

// disableCopyOnWrite gives an empty file on btrfs the no-copy-on-write
// attribute, so that btrfs writes into the blocks fallocate reserved, and
// overwrites them, in place. Without it every write needs a new block, one
// into reserved blocks too, and on a full disk a write through the mapping
// is a SIGBUS. btrfs then keeps no checksums of the file's data and does
// not compress it (the README says so).
//
// Failure is not an error: the attribute is set only by the file's owner
// (or a process with CAP_FOWNER), and a file without it is what any file
// that was not empty when opened is, copy-on-write, with the limits the
// README gives. Other filesystems than btrfs are left alone (ext4 has no
// such attribute; XFS, tmpfs and the rest overwrite in place).
func disableCopyOnWrite(osf *os.File) {
	fd := int(osf.Fd())
	var fs unix.Statfs_t
	if unix.Fstatfs(fd, &fs) != nil || uint32(fs.Type) != unix.BTRFS_SUPER_MAGIC {
		return
	}
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err == nil && flags&FSNoCOWFlag == 0 {
		unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags|FSNoCOWFlag))
	}
}

// unshareBlocks gives the first size bytes of osf blocks of their own where
// it shares them with another file: a reflinked copy on XFS (cp's default
// since coreutils 9), whose every first write into a shared block needs a
// new one. FALLOC_FL_UNSHARE_RANGE copies each shared block into a new one,
// once: the file then owns its blocks, and later opens find nothing to
// copy. A filesystem that cannot unshare (ext4, tmpfs, btrfs) refuses the
// call at once, and XFS returns at once for a file that never shared a
// block (about 2 us either way, for a file of 256 MiB).
//
// XFS's unshare also allocates over the whole range, which on a full disk
// (or at a quota) fails even when there is nothing to allocate or unshare:
// so a failure counts only if FIEMAP finds a shared extent. A disk without
// room for the file's own blocks is then an error wrapping ENOSPC, and the
// blocks unshared before it stay the file's, with the same data.
func unshareBlocks(osf *os.File, size int64) error {
	fd := int(osf.Fd())
	for {
		err := unix.Fallocate(fd, unix.FALLOC_FL_UNSHARE_RANGE, 0, size)
		switch {
		case err == nil, errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOSYS):
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		}
		shared, ferr := sharesBlocks(fd, size)
		switch {
		case ferr != nil:
			return fmt.Errorf("unshare the blocks the file may share with another: %w", err)
		case !shared:
			return nil
		}
		return fmt.Errorf("the file shares disk blocks with another (a reflinked copy), and a write into them needs new ones: unshare them: %w", err)
	}
}

// fiemap is the argument of the FS_IOC_FIEMAP ioctl (linux/fiemap.h),
// which golang.org/x/sys/unix lacks: a header and room for the extents.
type fiemap struct {
	start, length                  uint64
	flags, mapped, count, reserved uint32
	extents                        [32]fiemapExtent
}

type fiemapExtent struct {
	logical, physical, length uint64
	reserved64                [2]uint64
	flags                     uint32
	reserved                  [3]uint32
}

const (
	fsIOCFiemap        = 0xc020660b // _IOWR('f', 11, struct fiemap): the same on every architecture
	fiemapExtentLast   = 0x1
	fiemapExtentShared = 0x2000
)

// sharesBlocks reports whether any of the first size bytes of the file fd
// lie in an extent it shares with another file.
func sharesBlocks(fd int, size int64) (bool, error) {
	shared := false
	err := walkExtents(fd, size, func(e *fiemapExtent) bool {
		shared = e.flags&fiemapExtentShared != 0
		return !shared
	})
	return shared, err
}

// walkExtents calls visit with each extent (FIEMAP: the ranges of the file
// that have blocks, delayed allocations and fallocated ranges included)
// that overlaps the first size bytes of the file fd, in order, 32 a call,
// until visit returns false.
func walkExtents(fd int, size int64, visit func(*fiemapExtent) bool) error {
	var m fiemap
	for off := uint64(0); off < uint64(size); {
		m.start, m.length, m.count = off, uint64(size)-off, uint32(len(m.extents))
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), fsIOCFiemap, uintptr(unsafe.Pointer(&m))); errno != 0 {
			return os.NewSyscallError("ioctl FS_IOC_FIEMAP", errno)
		}
		if m.mapped == 0 {
			return nil
		}
		for i := range m.extents[:m.mapped] {
			e := &m.extents[i]
			if !visit(e) || e.flags&fiemapExtentLast != 0 {
				return nil
			}
			off = e.logical + e.length
		}
	}
	return nil
}

// CheckFreeSpace is whether backHoles compares what the file's holes need
// with the filesystem's free space before it allocates any: a variable, so
// that a test can try the giving back alone.
var CheckFreeSpace = true

// backHoles allocates blocks for any holes in the first size bytes of osf.
// A file written by memvec has all its blocks, but one copied sparse or made
// by another tool may have holes, and a write into a hole on a full disk is
// a SIGBUS. When the blocks the file has (st_blocks, which counts
// fallocated and delayed-allocation blocks too) cover its size, it has no
// holes to speak of and nothing is done (about 1 us, for the fstat). A
// file with holes and as many blocks past its end could slip through;
// memvec never makes one.
//
// A file whose holes do not fit on the disk (a huge sparse file) must fail
// with ENOSPC and leave the free space as it was: a fallocate that fails
// keeps what it allocated, and over a 64 GiB hole on a small disk that is
// all of its free space. So backHoles finds the holes (see findHoles),
// fails at once if they need more than the free space, and otherwise
// allocates them one by one; a filesystem's free space is not exact, so if
// one fails, it punches again every hole it allocated into. A hole reads
// as zeros, and so does what fallocate made of it, so punching it changes
// no byte of the file.
func backHoles(osf *os.File, size int64) error {
	fd := int(osf.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	lacking := size - st.Blocks*512
	if lacking <= 0 {
		return nil
	}
	holes, err := findHoles(fd, size)
	if err != nil || len(holes) == 0 {
		// A filesystem that cannot tell where its holes are (lseek's
		// default calls the whole file data), or a file with fewer
		// blocks than bytes for another reason (compressed): fallocate
		// over the whole file leaves allocated blocks alone. What it
		// allocates before failing cannot be told from what was there.
		return reserveBlocks(osf, 0, size)
	}
	if CheckFreeSpace {
		if err := holesFit(fd, holes, lacking); err != nil {
			return err
		}
	}
	for i, h := range holes {
		if err := reserveBlocks(osf, h.off, h.n); err != nil {
			return errors.Join(err, punchHoles(fd, holes[:i+1]))
		}
	}
	return nil
}

// holesFit returns an error wrapping ENOSPC if the holes of the file fd
// need more disk than its filesystem has free. What they need is at most
// the bytes in them, and at most the bytes the file lacks blocks for
// (lacking): the first counts ranges fallocated but never written where
// lseek found the holes (tmpfs), and the second the bytes a compressed
// file saves.
func holesFit(fd int, holes []fileRange, lacking int64) error {
	var inHoles int64
	for _, h := range holes {
		inHoles += h.n
	}
	need := uint64(min(inHoles, lacking))
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return os.NewSyscallError("fstatfs", err)
	}
	// Root may use the blocks that ext4 keeps for it (f_bfree); anyone
	// else only those past them (f_bavail). A filesystem that reports no
	// blocks at all (some FUSE ones) is not checked.
	free := fs.Bavail
	if os.Geteuid() == 0 {
		free = fs.Bfree
	}
	free *= uint64(fs.Bsize)
	if fs.Blocks > 0 && need > free {
		return fmt.Errorf("the file's holes need %d bytes of disk blocks, the filesystem has %d bytes free: %w", need, free, unix.ENOSPC)
	}
	return nil
}

// fileRange is a range of bytes of a file.
type fileRange struct{ off, n int64 }

// findHoles returns the holes in the first size bytes of the file fd, in
// order: the ranges between its extents, as FIEMAP reports them. A range
// fallocated but never written is an extent there, not a hole, as it is to
// lseek's SEEK_HOLE on XFS and ext4, which matters twice: fallocate over
// such a range on a nearly full XFS fails (it reserves room for the whole
// range before it looks), and the giving back must punch only what had no
// blocks. A filesystem without FIEMAP (tmpfs) has its holes found by lseek.
func findHoles(fd int, size int64) ([]fileRange, error) {
	var holes []fileRange
	end := int64(0) // where the extents seen so far end
	err := walkExtents(fd, size, func(e *fiemapExtent) bool {
		if start := int64(e.logical); start > end {
			holes = append(holes, fileRange{end, min(start, size) - end})
		}
		end = max(end, int64(e.logical+e.length))
		return end < size
	})
	if err != nil {
		return seekHoles(fd, size)
	}
	if end < size {
		holes = append(holes, fileRange{end, size - end})
	}
	return holes, nil
}

// seekHoles returns the holes in the first size bytes of the file fd, as
// lseek reports them (SEEK_HOLE, SEEK_DATA), in order. It moves the file's
// offset, which memvec does not use (it reads and writes at offsets).
func seekHoles(fd int, size int64) ([]fileRange, error) {
	var holes []fileRange
	for off := int64(0); off < size; {
		hole, err := unix.Seek(fd, off, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		if hole >= size {
			break
		}
		data, err := unix.Seek(fd, hole, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) { // a hole to the end of the file
			data = size
		} else if err != nil {
			return nil, err
		}
		data = min(data, size)
		holes = append(holes, fileRange{hole, data - hole})
		off = data
	}
	return holes, nil
}

// punchHoles gives back the blocks of the ranges holes of the file fd
// (FALLOC_FL_PUNCH_HOLE), which must have been holes: what backHoles
// allocated into them before it failed.
func punchHoles(fd int, holes []fileRange) error {
	for _, h := range holes {
		for {
			err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, h.off, h.n)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return fmt.Errorf("give back the blocks allocated into the holes: %w", err)
			}
			break
		}
	}
	return nil
}
