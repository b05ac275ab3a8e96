//go:build darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package memvec

import "os"

// reserveBlocks allocates the disk blocks of bytes [off, off+n) of osf,
// extending the file if they lie past its end, so that writing them through
// the mapping can never fail for want of space. Here it writes a zero byte
// into every block of the range.
func reserveBlocks(osf *os.File, off, n int64) error {
	return writeBlocks(osf, off, n)
}
