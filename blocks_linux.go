package memvec

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// reserveBlocks allocates the disk blocks of bytes [off, off+n) of osf,
// extending the file if they lie past its end, so that writing them through
// the mapping can never fail for want of space: a full disk is ENOSPC here,
// not a SIGBUS later. Linux does it with fallocate, which allocates without
// writing. Filesystems without fallocate get a zero byte written into every
// block instead.
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

// backHoles allocates blocks for any holes in the first size bytes of osf.
// A file written by memvec has all its blocks, but one copied sparse or made
// by another tool may have holes, and a write into a hole on a full disk is
// a SIGBUS. When the blocks the file has (st_blocks, which counts
// fallocated and delayed-allocation blocks too) cover its size, it has no
// holes to speak of and nothing is done; otherwise fallocate over the file
// backs them (over allocated blocks it only walks the extent map: about
// 6 us for 240 MB here, against about 1 us for the fstat). A file with
// holes and as many blocks past its end could slip through; memvec never
// makes one.
func backHoles(osf *os.File, size int64) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(osf.Fd()), &st); err == nil && st.Blocks*512 >= size {
		return nil
	}
	return reserveBlocks(osf, 0, size)
}
