package memvec

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// awaitSleeper returns once a thread of process pid sleeps in the futex
// system call on the follower wake word at addr: what /proc/PID/task/*/
// syscall shows, the system call's number and its first argument. A test
// that then pushes tests the wake-up, not the spin before it.
func awaitSleeper(t testing.TB, pid int, addr uintptr) {
	t.Helper()
	want := fmt.Sprintf("%d %#x ", unix.SYS_FUTEX, addr)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
		for _, task := range tasks {
			if b, err := os.ReadFile(task); err == nil && strings.HasPrefix(string(b), want) {
				return
			}
		}
		runtime.Gosched()
	}
	t.Fatalf("no thread of process %d sleeps on the wake word at %#x", pid, addr)
}

// awaitFollowerAsleep returns once a follower of this process sleeps in
// Wait on the wake word at addr (see wakeAddr).
func awaitFollowerAsleep(t testing.TB, addr uintptr) {
	t.Helper()
	awaitSleeper(t, os.Getpid(), addr)
}
