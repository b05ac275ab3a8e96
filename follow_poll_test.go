//go:build (unix || windows) && !linux

package memvec

import "testing"

// awaitFollowerAsleep returns at once: followers here poll, and there is
// no sleep to wait for.
func awaitFollowerAsleep[T any](t testing.TB, f *MemVec[T]) {}
