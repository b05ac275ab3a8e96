package region

import (
	"encoding/binary"
	"sync/atomic"
)

// BootID identifies this boot of the machine: 64 bits (folded from what
// the system gives) that change at every boot and are the same for every
// process until the next, or zero where the system does not say (then
// memvec cannot tell a reboot, and trusts a file's length as after a
// process crash; see FORMAT.md, "Power loss"). Tests replace it to
// simulate a reboot.
var BootID = thisBoot.get

// thisBoot holds this boot's identifier once the system has given it.
var thisBoot = bootCache{read: readBootID}

// bootCache keeps a boot identifier once read. A read that fails (no
// descriptor left, /proc not mounted yet) is not kept: kept, it would make
// every later open of the process store zero, "unknown", in its files, and
// a reader after a reboot would then trust their lengths as after a process
// crash. The next call reads again.
type bootCache struct {
	read func() [16]byte
	id   atomic.Uint64
}

// get returns the boot identifier, reading it until a read succeeds.
func (c *bootCache) get() uint64 {
	if id := c.id.Load(); id != 0 {
		return id
	}
	id := fold(c.read())
	c.id.Store(id)
	return id
}

// fold folds a 16-byte boot identifier to 64 bits, never zero for one that
// is not all zero.
func fold(id [16]byte) uint64 {
	if id == [16]byte{} {
		return 0
	}
	x := binary.LittleEndian.Uint64(id[:8]) ^ binary.LittleEndian.Uint64(id[8:])
	return max(x, 1)
}
