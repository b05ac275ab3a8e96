package memvec

import (
	"fmt"
	"time"
)

// lockPolled, when set by a test, is called after every attempt to take a
// lock that another handle holds, before waiting for the next.
var lockPolled func()

// pollLock calls try, which attempts to take a file's lock without waiting
// and reports whether another handle holds it, until the lock is taken or
// timeout has passed, backing off from 1 ms to 100 ms between attempts. It
// then returns an error wrapping ErrLocked. A timeout of zero or less tries
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
