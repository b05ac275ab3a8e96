//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package region

import (
	"errors"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockFile takes an flock on osf: shared for a reader, exclusive for a
// writer. It does not block in the kernel: it polls with LOCK_NB (see
// pollLock) until timeout has passed, then returns an error wrapping
// errs.ErrLocked.
//
// An flock belongs to the open file description, not to the process: a
// second open of the same file in this process conflicts with the first, as
// another process's would, and the lock goes away when the file is closed,
// also when its holder dies. os.OpenFile sets O_CLOEXEC, so a child process
// never inherits it.
func lockFile(osf *os.File, shared bool, timeout time.Duration) error {
	how := unix.LOCK_EX
	if shared {
		how = unix.LOCK_SH
	}
	return pollLock(timeout, func() (bool, error) {
		for {
			err := unix.Flock(int(osf.Fd()), how|unix.LOCK_NB)
			switch {
			case err == nil:
				return false, nil
			case errors.Is(err, unix.EINTR):
				continue
			case errors.Is(err, unix.EWOULDBLOCK):
				return true, nil
			}
			return false, err
		}
	})
}

// sameFile reports whether path names the file that fi, from the Stat of a
// descriptor, describes: the same device and inode (os.SameFile), following
// symbolic links as open does. A path that names nothing any more names
// another file. A lock on a descriptor keeps others out of that file only
// while the path still leads there (see openLocked).
func sameFile(path string, fi os.FileInfo) (bool, error) {
	named, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	return os.SameFile(fi, named), nil
}
