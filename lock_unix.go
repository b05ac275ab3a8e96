//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package memvec

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockPolled, when set by a test, is called after every attempt to take a
// lock that another handle holds, before waiting for the next.
var lockPolled func()

// lockFile takes an flock on osf: shared for a reader, exclusive for a
// writer. It does not block in the kernel: it polls with LOCK_NB, backing
// off from 1 ms to 100 ms, until timeout has passed, then returns an error
// wrapping ErrLocked. A timeout of zero or less tries once.
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
	start := time.Now()
	wait := time.Millisecond
	for {
		err := unix.Flock(int(osf.Fd()), how|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case !errors.Is(err, unix.EWOULDBLOCK):
			return err
		}
		if lockPolled != nil {
			lockPolled()
		}
		left := timeout - time.Since(start)
		if left <= 0 {
			if timeout > 0 {
				return fmt.Errorf("%w (waited %v)", ErrLocked, timeout)
			}
			return ErrLocked
		}
		time.Sleep(min(wait, left))
		wait = min(2*wait, 100*time.Millisecond)
	}
}
