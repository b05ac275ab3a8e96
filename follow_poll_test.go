//go:build (unix || windows) && !linux

package memvec

import "testing"

// awaitFollowerAsleep returns at once: followers here poll, and there is
// no sleep to wait for.
func awaitFollowerAsleep[T any](t testing.TB, f *MemVec[T]) {}

// awaitSleeper is never called here (canSleep is false: followers poll);
// it exists so that the tests that call it where followers sleep build.
func awaitSleeper(t testing.TB, pid int, addr uintptr) {
	t.Helper()
	t.Fatal("awaitSleeper: followers do not sleep on this system")
}
