package region

import (
	"os"
	"time"
)

// The class, entry and slot bytes of Shared writers (shared.go) are
// LockFileEx locks here, which belong to the handle and go away with it or
// its process (in time: see lockFile). Windows has no call that only tests
// a lock: a test takes it, without waiting, and gives it back.

// entryWait bounds how long an entrant waits for the entry byte, which
// another entrant holds for the few calls of its entry: past it the open
// fails with errs.ErrLocked rather than wait forever.
const entryWait = 5 * time.Second

// lockEntry takes the entry byte exclusively, for a ReadOnly entrant too
// (a handle open for reading may): its test of the other class's byte
// takes that byte for an instant, and two such tests at once would each
// find the byte held.
func lockEntry(osf *os.File, readOnly bool) error { return lockByte(osf, entryByte, true, entryWait) }

func unlockEntry(osf *os.File) { unlockByte(osf, entryByte) }

// shareByte takes the byte at off shared. Class bytes are taken
// exclusively only by a test (byteInUse), for two calls under the entry
// byte, so it waits for them up to entryWait.
func shareByte(osf *os.File, off int64) error { return lockByte(osf, uint64(off), false, entryWait) }

func releaseByte(osf *os.File, off int64) { unlockByte(osf, uint64(off)) }

// byteInUse reports whether another handle holds a lock on the byte at
// off: it takes it exclusively without waiting, and gives it back.
func byteInUse(osf *os.File, off int64) (bool, error) {
	held, err := tryLockByte(osf, uint64(off), true)
	if held || err != nil {
		return held, err
	}
	return false, unlockByte(osf, uint64(off))
}

// tryExclusiveByte takes the byte at off exclusively without waiting, and
// reports whether another handle holds it.
func tryExclusiveByte(osf *os.File, off int64) (bool, error) {
	return tryLockByte(osf, uint64(off), true)
}

// slotHeld reports whether a handle holds the slot byte of the Shared
// writer id: whether it lives.
func slotHeld(osf *os.File, id int) (bool, error) { return byteInUse(osf, slotByte(id)) }

// SharedSupported says that this system has the locks Shared writers need.
const SharedSupported = true

// releaseClass gives back what lockClass took, before the handle is
// closed: Windows releases a closed handle's locks only in time.
func releaseClass(osf fileHandle, readOnly bool, id int) {
	switch {
	case id != 0:
		releaseByte(osf, slotByte(id))
		releaseByte(osf, sharedByte)
	case readOnly:
		releaseByte(osf, readOnlyByte)
	}
}

// creationWait bounds how long a Shared writer waits for another to create
// the vector in a new file (a header and its sync).
const creationWait = time.Minute

// lockCreation takes the creation byte exclusively, waiting for it.
func lockCreation(osf *os.File) error { return lockByte(osf, createByte, true, creationWait) }
