//go:build dragonfly || freebsd || netbsd || openbsd || solaris

package region

import "os"

// reserveBlocks allocates the disk blocks of bytes [off, off+n) of osf,
// extending the file if they lie past its end, so that writing them through
// the mapping can never fail for want of space. Here it writes a zero byte
// into every block of the range.
//
// FreeBSD has posix_fallocate, but golang.org/x/sys/unix does not wrap it,
// and ZFS, FreeBSD's usual filesystem, refuses it (EINVAL: a copy-on-write
// filesystem cannot set blocks aside), so the write is what works there
// too. The other systems here have no preallocation call.
func reserveBlocks(osf *os.File, off, n int64) error {
	return writeBlocks(osf, off, n)
}

// ownBlocks would ready the file of a writer's open so that no write
// through the mapping needs a disk block the file does not have (see the
// Linux version). Without fallocate, backing a file's holes means writing
// every block, which would make opening cost a pass over the file, so here
// it does nothing: a file with holes (one copied sparse) can still fault
// on a full disk on these platforms. On ZFS every write goes to a new
// block, so no reservation holds there (see the README).
func ownBlocks(osf *os.File, size int64) error {
	return nil
}
