package region

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// The class, entry and slot bytes of Shared writers (shared.go) are
// open-file-description locks here: they belong to the descriptor, not to
// the process (a second descriptor in the same process conflicts), and go
// away when it is closed or its process dies. flock and these never meet,
// so they add to the file's flock without touching it.

// ofdLock sets a lock of type typ (F_RDLCK, F_WRLCK, F_UNLCK) on the byte
// at off of osf's file, waiting for it if wait is set, and reports whether
// another descriptor holds it.
func ofdLock(osf *os.File, typ int16, off int64, wait bool) (held bool, err error) {
	lk := unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: off, Len: 1}
	cmd := unix.F_OFD_SETLK
	if wait {
		cmd = unix.F_OFD_SETLKW
	}
	for {
		err := unix.FcntlFlock(osf.Fd(), cmd, &lk)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN || err == unix.EACCES:
			return true, nil
		case err != nil:
			return false, os.NewSyscallError("fcntl", err)
		}
		return false, nil
	}
}

// lockEntry takes the entry byte, waiting in the kernel: its holder keeps
// it for the few calls of one entry (enterClass), and the kernel releases
// it if that holder dies. A ReadOnly entrant (readOnly set), whose
// descriptor is open for reading and may take no exclusive lock, takes it
// shared: ReadOnly entrants test the Shared writers' class byte, which
// only a Shared entrant, under the entry byte exclusively, takes.
func lockEntry(osf *os.File, readOnly bool) error {
	typ := int16(unix.F_WRLCK)
	if readOnly {
		typ = unix.F_RDLCK
	}
	_, err := ofdLock(osf, typ, entryByte, true)
	return err
}

func unlockEntry(osf *os.File) { ofdLock(osf, unix.F_UNLCK, entryByte, false) }

// shareByte takes the byte at off shared. Class bytes are never taken
// exclusively, so it never finds one held.
func shareByte(osf *os.File, off int64) error {
	_, err := ofdLock(osf, unix.F_RDLCK, off, false)
	return err
}

func releaseByte(osf *os.File, off int64) { ofdLock(osf, unix.F_UNLCK, off, false) }

// byteInUse reports whether another descriptor holds any lock on the byte
// at off: F_OFD_GETLK tests, taking nothing.
func byteInUse(osf *os.File, off int64) (bool, error) {
	held, err := byteLocked(osf, unix.F_WRLCK, off)
	if err != nil {
		return false, os.NewSyscallError("fcntl", err)
	}
	return held, nil
}

// tryExclusiveByte takes the byte at off exclusively without waiting, and
// reports whether another descriptor holds it.
func tryExclusiveByte(osf *os.File, off int64) (bool, error) {
	return ofdLock(osf, unix.F_WRLCK, off, false)
}

// slotHeld reports whether a descriptor holds the slot byte of the Shared
// writer id: whether it lives.
func slotHeld(osf *os.File, id int) (bool, error) { return byteInUse(osf, slotByte(id)) }

// SharedSupported says that this system has the locks Shared writers need.
const SharedSupported = true

// lockCreation takes the creation byte exclusively, waiting in the kernel.
func lockCreation(osf *os.File) error {
	_, err := ofdLock(osf, unix.F_WRLCK, createByte, true)
	return err
}
