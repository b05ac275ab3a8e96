package region

import (
	"crypto/sha256"

	"golang.org/x/sys/unix"
)

// readBootID reads kern.bootsessionuuid, a UUID made anew at every boot, and
// keeps 16 bytes of its hash.
func readBootID() (id [16]byte) {
	s, err := unix.Sysctl("kern.bootsessionuuid")
	if err != nil || s == "" {
		return id
	}
	h := sha256.Sum256([]byte(s))
	copy(id[:], h[:])
	return id
}
