//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package region

import (
	"os"
	"syscall"
)

// writeBlocks makes the file at least off+n bytes long and writes a zero
// byte into every block of [off, off+n) that lies past the old end of the
// file (where it can only be zero, so nothing is overwritten), forcing the
// filesystem to allocate them. Bytes before the old end are already backed
// unless the file is sparse; those are rewritten with their own value.
//
// A block is the filesystem's (see writeStep): with 1 KiB blocks (ext2,
// ext3, ext4 without extents), a byte every 4 KiB would leave three blocks
// in four unallocated, and a write into them through the mapping would be
// a SIGBUS on a full disk.
func writeBlocks(osf *os.File, off, n int64) error {
	fi, err := osf.Stat()
	if err != nil {
		return err
	}
	block := writeStep(fi)
	end := off + n
	if end > fi.Size() {
		if err := osf.Truncate(end); err != nil {
			return err
		}
	}
	var b [1]byte
	for at := off; at < end; at = (at/block + 1) * block { // off, then each block boundary
		if at < fi.Size() {
			if _, err := osf.ReadAt(b[:], at); err != nil {
				return err
			}
		} else {
			b[0] = 0
		}
		if _, err := osf.WriteAt(b[:], at); err != nil {
			return err
		}
	}
	return nil
}

// writeStep returns the step at which writeBlocks writes: the file's block
// size (st_blksize, which is the filesystem's block size on local
// filesystems), at least 512 bytes and at most 4 KiB. Network filesystems
// report their transfer size there, far larger than the server's blocks,
// so the step is capped as glibc's posix_fallocate caps its own (which
// writes a byte every f_bsize bytes, at most every 4096): a smaller step
// only writes more often than needed.
func writeStep(fi os.FileInfo) int64 {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 512
	}
	return min(max(int64(st.Blksize), 512), 4096)
}
