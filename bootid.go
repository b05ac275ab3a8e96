package memvec

import (
	"encoding/binary"
	"sync"
)

// bootID identifies this boot of the machine: 64 bits (folded from what
// the system gives) that change at every boot and are the same for every
// process until the next, or zero where the system does not say (then memvec cannot tell a reboot, and trusts a
// file's length as after a process crash; see FORMAT.md, "Power loss").
// Tests replace it to simulate a reboot.
var bootID = sync.OnceValue(func() uint64 { return fold(readBootID()) })

// fold folds a 16-byte boot identifier to 64 bits, never zero for one that
// is not all zero.
func fold(id [16]byte) uint64 {
	if id == [16]byte{} {
		return 0
	}
	x := binary.LittleEndian.Uint64(id[:8]) ^ binary.LittleEndian.Uint64(id[8:])
	return max(x, 1)
}
