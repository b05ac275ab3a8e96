//go:build !linux

package memvec

import (
	"sync/atomic"
	"time"
)

// canSleep says that a waiting follower cannot sleep until the writer wakes
// it: there is no futex here that works across processes on a shared file
// mapping, so Wait polls (see MemVec.Wait).
const canSleep = false

func sleepWhile(w *atomic.Uint32, x uint32, d time.Duration) {}

func wakeAll(w *atomic.Uint32) int { return 0 }

func wakeUpTo(w *atomic.Uint32, n int) int { return 0 }
