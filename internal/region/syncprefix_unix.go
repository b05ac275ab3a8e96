//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package region

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// syncPrefix makes the file's first n bytes durable and nothing else, so
// that its cost does not grow with the file: msync of their pages, and on
// macOS the fsync that msync needs there (see msyncReachesDisk). Relabel
// calls it for the header and the layout slots.
func (f *File) syncPrefix(n int) error {
	if err := unix.Msync(unsafe.Slice(f.base, roundUp(min(n, len(f.b)), pageSize)), unix.MS_SYNC); err != nil {
		return err
	}
	if !msyncReachesDisk {
		return f.osFile.Sync()
	}
	return nil
}
