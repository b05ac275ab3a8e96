package region

import (
	"io"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// CanSleep says that a waiting follower can sleep until the writer wakes
// it: here on a futex, which the kernel keys on the file's page and offset,
// so a wake through the writer's mapping reaches a sleeper in any process.
const CanSleep = true

// The futex operations (linux/futex.h). Not FUTEX_PRIVATE_FLAG: the word is
// shared between processes.
const (
	futexWait = 0
	futexWake = 1
)

// SleepWhile sleeps while the word at w holds x, for at most d: until a
// WakeAll, a change of the word before the sleep starts, a signal, or d.
func SleepWhile(w *atomic.Uint32, x uint32, d time.Duration) {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWait, uintptr(x), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// WakeAll wakes every follower sleeping on the word at w and returns how
// many it woke.
func WakeAll(w *atomic.Uint32) int {
	return WakeUpTo(w, 1<<31-1)
}

// WakeUpTo wakes at most n of the followers sleeping on the word at w and
// returns how many it woke.
func WakeUpTo(w *atomic.Uint32, n int) int {
	woken, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWake, uintptr(n), 0, 0, 0)
	if errno != 0 {
		return 0
	}
	return int(woken)
}

// lockFollower takes a shared open-file-description lock on the follower
// byte: one that belongs to this descriptor (not to the process, as a plain
// fcntl lock would), is independent of the writer's flock, and goes away
// when the descriptor is closed or its holder dies. No one ever takes the
// byte exclusively, so it never waits.
func lockFollower(osf *os.File) error {
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart, Start: FollowerLockOffset, Len: 1}
	for {
		err := unix.FcntlFlock(osf.Fd(), unix.F_OFD_SETLK, &lk)
		if err != unix.EINTR {
			return err
		}
	}
}

// markWriter takes an exclusive open-file-description lock on the writer
// byte through a writer's descriptor osf, after the file's lock: what
// writerAttached looks for. Nobody else ever takes that byte (a second
// writer is kept out by the file's lock first), and a follower only tests
// it, so it never waits. It is best-effort: a filesystem that refuses
// byte-range locks costs the followers that test only the answer (no
// writer), not the writer its open.
//
// Shared writers take it shared (shared set), all of them: they are many,
// and an exclusive writer, which takes it exclusively, never has the file
// beside them (the flock keeps the classes apart).
func markWriter(osf *os.File, shared bool) {
	typ := int16(unix.F_WRLCK)
	if shared {
		typ = unix.F_RDLCK
	}
	lk := unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: writerLockOffset, Len: 1}
	for unix.FcntlFlock(osf.Fd(), unix.F_OFD_SETLK, &lk) == unix.EINTR {
	}
}

// writerAttached reports whether a writer holds the file that osf, a
// follower's descriptor, names: whether any descriptor holds the writer
// byte (see markWriter). F_OFD_GETLK only tests: it takes nothing, so a
// writer's open at the same instant is never kept out.
func writerAttached(osf *os.File) (bool, error) {
	held, err := byteLocked(osf, unix.F_WRLCK, writerLockOffset) // any lock: Shared writers hold it shared
	if err != nil {
		return false, os.NewSyscallError("fcntl", err)
	}
	return held, nil
}

// byteLocked reports whether any open file description holds a lock on
// the byte at off of osf's file that a lock of type typ would conflict
// with. F_OFD_GETLK only tests: it takes nothing.
func byteLocked(osf *os.File, typ int16, off int64) (bool, error) {
	lk := unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: off, Len: 1}
	for {
		err := unix.FcntlFlock(osf.Fd(), unix.F_OFD_GETLK, &lk)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return false, err
		}
		return lk.Type != unix.F_UNLCK, nil
	}
}

// followersAttached reports whether any descriptor, in this process or
// another, holds the follower byte: whether the writer would take it away
// from a follower by truncating the file. A follower that takes the byte
// after this looks reads, after taking it, a length no larger than the one
// the writer stored before looking (the kernel's lock operations order the
// two), so it never reads past the file's new end.
func followersAttached(osf *os.File) (bool, error) {
	held, err := byteLocked(osf, unix.F_WRLCK, FollowerLockOffset)
	if err != nil {
		return true, err
	}
	return held, nil
}
