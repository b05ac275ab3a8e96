package memvec

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

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

func init() {
	children["followcount"] = followCountChild
	children["followone"] = followOneChild
}

// followCountChild follows the vector of crashRec at $MEMVEC_PATH as
// follower number $MEMVEC_K, says the address of its wake word, and Waits
// for elements until it has $MEMVEC_N, verifying each in order and storing
// how many it has seen in its slot of the progress file at
// $MEMVEC_PROGRESS (see progressSlots). Then it says "verified N" and
// waits for its stdin to close, so that a kill just after the last push
// finds it alive.
func followCountChild() {
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	k, err := strconv.Atoi(os.Getenv("MEMVEC_K"))
	if err != nil {
		fail(err)
	}
	n, err := strconv.Atoi(os.Getenv("MEMVEC_N"))
	if err != nil {
		fail(err)
	}
	followers, err := strconv.Atoi(os.Getenv("MEMVEC_FOLLOWERS"))
	if err != nil {
		fail(err)
	}
	progress, err := progressSlots(os.Getenv("MEMVEC_PROGRESS"), followers)
	if err != nil {
		fail(err)
	}
	f, err := Open[crashRec](os.Getenv("MEMVEC_PATH"), Follow())
	if err != nil {
		fail(err)
	}
	fmt.Printf("%#x\n", uintptr(unsafe.Pointer(f.mem.(*File).wakeWord())))
	ctx := context.Background()
	for seen := f.Len(); seen < n; {
		m, err := f.Wait(ctx, seen)
		if err != nil {
			fail(err)
		}
		for i, x := range f.Slice()[seen:m] {
			if x != makeCrashRec(uint64(seen+i)) {
				fail(fmt.Errorf("element %d of %d is %+v", seen+i, m, x))
			}
		}
		seen = m
		progress(k).Store(uint64(seen))
	}
	fmt.Println("verified", n)
	io.Copy(io.Discard, os.Stdin)
}

// progressSlots maps the file at path, shared, with a slot for each of the
// followers, in which follower k stores how many elements it has seen
// (each on its own cache line), and returns the slot of follower k.
func progressSlots(path string, followers int) (func(k int) *atomic.Uint64, error) {
	b, err := mapShared(path, roundUp(followers*64, pageSize))
	if err != nil {
		return nil, err
	}
	return func(k int) *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(&b[k*64])) }, nil
}

// TestManySleepingFollowersSeeEveryPush: 50 follower processes sleep in
// Wait on one writer, which pushes an element only once every live follower
// has seen the last one and sleeps again, so that each Push wakes them all
// from their sleep: the first two on the writer's thread, the rest from a
// goroutine (see wakeFollowers). Every follower must see every element, in
// order, within a minute of its push, also while 10 of them are killed at
// random moments, some of them just after a push that woke them. With
// GOMAXPROCS 1 the writer wakes them all itself: 20 followers, 4 killed.
// In short mode (CI's race and 32-bit steps, where each child process
// costs seconds) a third of each, still more than the writer's thread
// wakes.
func TestManySleepingFollowersSeeEveryPush(t *testing.T) {
	scale := func(n int) int { return n }
	if testing.Short() {
		scale = func(n int) int { return n / 3 }
	}
	for _, procs := range []int{2, 1} {
		t.Run(fmt.Sprintf("gomaxprocs=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			if procs == 1 {
				manySleepingFollowers(t, scale(20), scale(30), scale(4))
			} else {
				manySleepingFollowers(t, scale(50), scale(60), scale(10))
			}
		})
	}
}

// manySleepingFollowers runs TestManySleepingFollowersSeeEveryPush with
// the given number of followers, of pushes and of followers killed.
func manySleepingFollowers(t *testing.T, followers, pushes, killed int) {
	path, progressPath := vecPath(t), filepath.Join(tempDir(t), "progress")
	progress, err := progressSlots(progressPath, followers)
	require.NoError(t, err)
	w := openVec[crashRec](t, path)
	type follower struct {
		c    *child
		addr uintptr
		dead bool
	}
	fs := make([]*follower, followers)
	for k := range fs {
		c := startChild(t, "followcount", "MEMVEC_PATH="+path, "MEMVEC_PROGRESS="+progressPath,
			"MEMVEC_K="+strconv.Itoa(k), "MEMVEC_N="+strconv.Itoa(pushes), "MEMVEC_FOLLOWERS="+strconv.Itoa(followers))
		require.True(t, c.lines.Scan(), "follower %d ended: %v", k, c.lines.Err())
		addr, err := strconv.ParseUint(strings.TrimPrefix(c.lines.Text(), "0x"), 16, 64)
		require.NoError(t, err, c.lines.Text())
		fs[k] = &follower{c: c, addr: uintptr(addr)}
	}
	r := rand.New(rand.NewPCG(rand.Uint64(), 17))
	killAt := map[int][]int{} // push -> the followers killed right after it
	for _, k := range r.Perm(followers)[:killed] {
		i := r.IntN(pushes)
		killAt[i] = append(killAt[i], k)
	}
	for i := range pushes {
		// Every live follower has seen the i elements pushed so far...
		deadline := time.Now().Add(time.Minute)
		for {
			var behind []int
			for k, f := range fs {
				if !f.dead && progress(k).Load() < uint64(i) {
					behind = append(behind, k)
				}
			}
			if len(behind) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("followers %v have not seen element %d a minute after its Push: it did not wake them", behind, i-1)
			}
			time.Sleep(100 * time.Microsecond)
		}
		// ... and sleeps in Wait for more.
		for _, f := range fs {
			if !f.dead {
				awaitSleeper(t, f.c.cmd.Process.Pid, f.addr)
			}
		}
		require.NoError(t, w.Push(makeCrashRec(uint64(i))))
		for _, k := range killAt[i] {
			fs[k].c.kill(t, nil)
			fs[k].dead = true
		}
	}
	for k, f := range fs {
		if !f.dead {
			done := make(chan error, 1)
			go func() {
				if !f.c.lines.Scan() {
					done <- fmt.Errorf("follower %d ended: %v", k, f.c.lines.Err())
					return
				}
				if got := f.c.lines.Text(); got != fmt.Sprint("verified ", pushes) {
					done <- fmt.Errorf("follower %d says %q", k, got)
					return
				}
				done <- nil
			}()
			require.NoError(t, awaitDone(t, done))
			f.c.release(t)
		}
	}
}

// followOneChild follows the vector of points at $MEMVEC_PATH, says the
// address of its wake word, Waits for more elements than it has and says
// how many it then has.
func followOneChild() {
	f, err := Open[point](os.Getenv("MEMVEC_PATH"), Follow())
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Printf("%#x\n", uintptr(unsafe.Pointer(f.mem.(*File).wakeWord())))
	n, err := f.Wait(context.Background(), f.Len())
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println(n)
}

// TestWriterOpenWakesStrandedFollowers: a writer that dies after it stored
// a length and cleared the wake word's bit, but before it (or its
// goroutine, see wakeFollowers) woke the followers asleep, leaves them
// asleep with an element to read. The next writer to open the file wakes
// them. The dying writer is played by this process, through the vector's
// insides: it does what Push does up to its wake-up, and then closes
// without one.
func TestWriterOpenWakesStrandedFollowers(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(seq(1000)...)...))
	require.NoError(t, w.Grow(1))
	c := startChild(t, "followone", "MEMVEC_PATH="+path)
	require.True(t, c.lines.Scan(), c.lines.Err())
	addr, err := strconv.ParseUint(strings.TrimPrefix(c.lines.Text(), "0x"), 16, 64)
	require.NoError(t, err, c.lines.Text())
	awaitSleeper(t, c.cmd.Process.Pid, uintptr(addr))

	n := w.Len()
	require.Greater(t, cap(w.s), n)
	w.s = w.s[:n+1]
	w.s[n] = pt(n)
	w.length.Store(uint64(n + 1))
	wk := w.wake()
	x := wk.Load()
	require.Equal(t, uint32(1), x&1, "the sleeping follower set the wake bit")
	require.True(t, wk.CompareAndSwap(x, (x+2)&^1))
	require.NoError(t, w.Close())
	awaitSleeper(t, c.cmd.Process.Pid, uintptr(addr)) // still asleep

	openVec[point](t, path)
	done := make(chan error, 1)
	go func() {
		if !c.lines.Scan() {
			done <- fmt.Errorf("the follower ended: %v", c.lines.Err())
			return
		}
		if got := c.lines.Text(); got != strconv.Itoa(n+1) {
			done <- fmt.Errorf("the follower says %q, want %d", got, n+1)
			return
		}
		done <- nil
	}()
	require.NoError(t, awaitDone(t, done), "the new writer's open did not wake the follower")
	c.release(t)
}
