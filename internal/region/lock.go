package region

import (
	"fmt"
	"time"

	"github.com/memvec/memvec/internal/errs"
)

// LockPolled, when set by a test, is called after every attempt to take a
// lock that another handle holds, before waiting for the next.
var LockPolled func()

// pollLock calls try, which attempts to take a file's lock without waiting
// and reports whether another handle holds it, until the lock is taken or
// timeout has passed, backing off from 1 ms to 100 ms between attempts. It
// then returns an error wrapping errs.ErrLocked. A timeout of zero or less tries
// once. The waiting is here, not in the kernel, so that an open never waits
// longer than asked: no platform's blocking lock call takes a timeout.
func pollLock(timeout time.Duration, try func() (held bool, err error)) error {
	start := time.Now()
	wait := time.Millisecond
	for {
		held, err := try()
		switch {
		case err != nil:
			return err
		case !held:
			return nil
		}
		if LockPolled != nil {
			LockPolled()
		}
		left := timeout - time.Since(start)
		if left <= 0 {
			if timeout > 0 {
				return fmt.Errorf("%w (waited %v)", errs.ErrLocked, timeout)
			}
			return errs.ErrLocked
		}
		time.Sleep(min(wait, left))
		wait = min(2*wait, 100*time.Millisecond)
	}
}
