//go:build dragonfly || freebsd || netbsd || openbsd || solaris

package memvec

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

// backHoles would allocate blocks for holes in the first size bytes of osf.
// Without fallocate that means writing every block, which would make opening
// cost a pass over the file, so here it does nothing: a file with holes (one
// copied sparse) can still fault on a full disk on these platforms.
func backHoles(osf *os.File, size int64) error {
	return nil
}
