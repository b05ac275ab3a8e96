//go:build dragonfly || freebsd || netbsd || openbsd

package region

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// readBootID reads kern.boottime, the time the system booted, which stays
// the same until the next boot.
func readBootID() (id [16]byte) {
	tv, err := unix.SysctlTimeval("kern.boottime")
	if err != nil {
		return id
	}
	binary.LittleEndian.PutUint64(id[0:], uint64(tv.Sec))
	binary.LittleEndian.PutUint64(id[8:], uint64(tv.Usec))
	id[15] |= 0x80 // never all zero
	return id
}
