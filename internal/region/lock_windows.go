package region

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// lockOffset is where the lock lies: one byte at 2^62, far past the end of
// any vector file. Windows byte-range locks are mandatory: while one handle
// holds a range exclusively, reads and writes of that range through other
// handles fail. Locking the file's bytes themselves would keep every other
// program (a backup, a copy, a reader of FORMAT.md's format) from reading
// the file while a writer has it open. Locking a byte no one reads keeps the
// lock between memvec handles, as flock is on Unix. (Mapped views ignore
// byte-range locks anyway.)
const lockOffset = 1 << 62

// lockFile takes a byte-range lock on osf with LockFileEx: shared for a
// reader, exclusive for a writer. It does not block in the kernel: it polls
// with LOCKFILE_FAIL_IMMEDIATELY (see pollLock) until timeout has passed,
// then returns an error wrapping errs.ErrLocked.
//
// The lock belongs to the handle: a second open of the same file in this
// process conflicts with the first, as another process's would. Close
// unlocks before it closes the handle, because Windows releases the locks of
// a closed handle, or of a process that dies, only "in time": the
// documentation promises no moment.
func lockFile(osf *os.File, shared bool, timeout time.Duration) error {
	return lockByte(osf, lockOffset, !shared, timeout)
}

// unlockFile releases the lock that lockFile took on osf.
func unlockFile(osf *os.File) error { return unlockByte(osf, lockOffset) }

// lockByte takes a byte-range lock on the byte at off through osf, shared
// or exclusive, polling with LOCKFILE_FAIL_IMMEDIATELY (see pollLock) until
// timeout has passed.
func lockByte(osf *os.File, off uint64, exclusive bool, timeout time.Duration) error {
	return pollLock(timeout, func() (bool, error) { return tryLockByte(osf, off, exclusive) })
}

// tryLockByte tries once to take the lock on the byte at off, and reports
// whether another handle holds it. The handle is synchronous (os opens
// files without FILE_FLAG_OVERLAPPED), so the call never reports
// ERROR_IO_PENDING.
func tryLockByte(osf *os.File, off uint64, exclusive bool) (held bool, err error) {
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if exclusive {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	ol := byteOverlapped(off)
	err = windows.LockFileEx(windows.Handle(osf.Fd()), flags, 0, 1, 0, &ol)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION):
		return true, nil
	}
	return false, os.NewSyscallError("LockFileEx", err)
}

// unlockByte releases the lock on the byte at off that osf holds.
func unlockByte(osf *os.File, off uint64) error {
	ol := byteOverlapped(off)
	if err := windows.UnlockFileEx(windows.Handle(osf.Fd()), 0, 1, 0, &ol); err != nil {
		return os.NewSyscallError("UnlockFileEx", err)
	}
	return nil
}

// byteOverlapped returns the OVERLAPPED structure that carries a lock's
// offset to LockFileEx and UnlockFileEx. The handle is synchronous, so the
// calls complete before they return and the structure need not outlive
// them.
func byteOverlapped(off uint64) windows.Overlapped {
	return windows.Overlapped{Offset: uint32(off & 0xFFFFFFFF), OffsetHigh: uint32(off >> 32)}
}
