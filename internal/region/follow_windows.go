package region

import (
	"os"
	"time"
)

// A follower on Windows holds a shared LockFileEx lock on the byte at
// FollowerLockOffset for as long as it follows the file. The writer asks
// whether anyone holds it by taking it exclusively, without waiting, and
// giving it back at once: Windows has no call that only tests a byte-range
// lock, as F_OFD_GETLK does on Linux. No other handle ever takes that byte
// exclusively, and the writer's own lock is on another byte (lockOffset),
// so neither kind of lock keeps the other out. A follower's lock, like every
// byte-range lock on Windows, belongs to its handle and goes away with the
// handle or the process, so a follower that dies stops counting (in the
// time Windows takes to release a dead process's locks; see lockFile).

// followerLockWait bounds how long a follower waits for the follower byte:
// only a writer testing for followers (followersAttached) holds it
// exclusively, for the two calls between its lock and its unlock, so a
// follower that finds it held finds it free within milliseconds. Past this
// bound the open fails with errs.ErrLocked rather than wait forever.
const followerLockWait = 5 * time.Second

// lockFollower takes a shared lock on the follower byte through osf,
// polling while a writer's test holds it exclusively.
func lockFollower(osf *os.File) error {
	return lockByte(osf, FollowerLockOffset, false, followerLockWait)
}

// unlockFollower releases the lock that lockFollower took on osf. Close
// releases it before it closes the handle, because Windows releases the
// locks of a closed handle only "in time" (see lockFile): a writer's Clip
// right after a follower's Close then truncates.
func unlockFollower(osf *os.File) error { return unlockByte(osf, FollowerLockOffset) }

// markWriter takes the writer byte exclusively through a writer's handle
// osf, after the file's lock: what writerAttached looks for. A follower's
// test holds it shared for two calls, so it waits for it up to
// followerLockWait. It is best-effort: a handle that cannot take it costs
// the followers that test only the answer (no writer), not the writer its
// open. unlockWriter releases it at Close.
//
// Shared writers take it shared (shared set), all of them: an exclusive
// writer never has the file beside them (the file's lock keeps the classes
// apart).
func markWriter(osf *os.File, shared bool) {
	lockByte(osf, writerLockOffset, !shared, followerLockWait)
}

// unlockWriter releases the writer byte that markWriter took; an error
// (markWriter could not take it) is of no consequence.
func unlockWriter(osf *os.File) { unlockByte(osf, writerLockOffset) }

// writerAttached reports whether a writer holds the file that osf, a
// follower's handle, names: it takes the writer byte exclusively without
// waiting (Shared writers hold it shared, an exclusive writer exclusively);
// if that fails with ERROR_LOCK_VIOLATION, a writer holds it, else nobody
// does and it is given back at once. A writer that opens in that instant
// waits for it (see markWriter), and is not kept out.
func writerAttached(osf *os.File) (bool, error) {
	held, err := tryLockByte(osf, writerLockOffset, true)
	if held || err != nil {
		return held, err
	}
	return false, unlockByte(osf, writerLockOffset)
}

// followersAttached reports whether any handle, in this process or another,
// holds the follower byte: whether the writer would take bytes away from a
// follower by truncating the file. It takes the byte exclusively without
// waiting (LOCKFILE_FAIL_IMMEDIATELY): if that works, nobody holds it, and
// it is given back at once; if it fails with ERROR_LOCK_VIOLATION, a
// follower holds it.
//
// A follower that takes the byte after this looks maps the file after
// taking it. If the writer's truncation comes first, the follower maps the
// shorter file; if the follower's view comes first, Windows refuses the
// truncation (ERROR_USER_MAPPED_FILE) and the writer keeps the file's size
// (see File.resize). Either way the follower never maps bytes the file
// does not have.
func followersAttached(osf *os.File) (bool, error) {
	held, err := tryLockByte(osf, FollowerLockOffset, true)
	if held || err != nil {
		return true, err
	}
	return false, unlockFollower(osf)
}
