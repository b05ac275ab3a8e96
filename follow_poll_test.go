//go:build (unix || windows) && !linux

package memvec

import "testing"

// awaitFollowerAsleep returns at once: followers here poll, and there is
// no sleep to wait for.
func awaitFollowerAsleep(t testing.TB, addr uintptr) {}

// awaitSleeper returns at once: followers here poll, and never sleep on
// the wake word.
func awaitSleeper(t testing.TB, pid int, addr uintptr) {}
