//go:build !linux

package region

import (
	"sync/atomic"
	"time"
)

// CanSleep says that a waiting follower cannot sleep until the writer wakes
// it: there is no futex here that works across processes on a shared file
// mapping, so Wait polls (see MemVec.Wait).
const CanSleep = false

func SleepWhile(w *atomic.Uint32, x uint32, d time.Duration) {}

func WakeAll(w *atomic.Uint32) int { return 0 }

func WakeUpTo(w *atomic.Uint32, n int) int { return 0 }
