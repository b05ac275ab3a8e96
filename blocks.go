//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package memvec

import "os"

// writeBlocks makes the file at least off+n bytes long and writes a zero
// byte into every block of [off, off+n) that lies past the old end of the
// file (where it can only be zero, so nothing is overwritten), forcing the
// filesystem to allocate them. Bytes before the old end are already backed
// unless the file is sparse; those are rewritten with their own value.
func writeBlocks(osf *os.File, off, n int64) error {
	const block = 4096
	fi, err := osf.Stat()
	if err != nil {
		return err
	}
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
