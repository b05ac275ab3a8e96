//go:build linux || windows

package memvec

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func init() {
	children["sharedwait"] = sharedWaitChild
}

// sharedWaitChild opens $MEMVEC_PATH Shared as writer 2 and plays
// $MEMVEC_N rounds of ping-pong with writer 1: it says "waiting <n>
// <address of its wake word>", Waits for more than the n elements it has,
// requires the new last element to be writer 1's of this round, pushes its
// own (which it sees at once), and goes on.
func sharedWaitChild() {
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(childFailed)
	}
	rounds, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	v, err := Open[sharedRec](os.Getenv("MEMVEC_PATH"), Shared())
	if err != nil {
		fail("%v", err)
	}
	for i := range rounds {
		n := v.Len()
		fmt.Printf("waiting %d %#x\n", n, uintptr(unsafe.Pointer(v.wake())))
		m, err := v.Wait(context.Background(), n)
		if err != nil {
			fail("wait %d: %v", i, err)
		}
		if m != n+1 || v.Len() != m {
			fail("round %d: Wait returned %d with Len %d, not %d", i, m, v.Len(), n+1)
		}
		if got := v.Index(m - 1); got != makeSharedRec(1, uint32(i), 0, 1) {
			fail("round %d: the element Wait found is %+v, not writer 1's", i, got)
		}
		if err := v.Push(makeSharedRec(2, uint32(i), 0, 1)); err != nil {
			fail("push %d: %v", i, err)
		}
		if v.Len() != m+1 {
			fail("round %d: the writer does not see its own element at once", i)
		}
	}
	fmt.Println("done")
	io.Copy(io.Discard, os.Stdin)
	if err := v.Close(); err != nil {
		fail("%v", err)
	}
}

// TestSharedWriterWaits: two Shared writers in two processes play
// ping-pong, each Waiting for the other's element before it pushes its
// own. Before each of its pushes, this process waits until the other
// sleeps in Wait on its wake word (on Linux, where a Wait sleeps; in
// these tests a lost wake-up sleeps for an hour, see sleepMax): its push
// must wake it. This process's own Waits are woken by the other's pushes.
func TestSharedWriterWaits(t *testing.T) {
	const rounds = 100
	path := filepath.Join(tempDir(t), "w.vec")
	v := openVec[sharedRec](t, path, Shared())
	c := startChild(t, "sharedwait", "MEMVEC_PATH="+path, "MEMVEC_N="+strconv.Itoa(rounds))
	for i := range rounds {
		require.True(t, c.lines.Scan(), "the other writer ended: %v", c.lines.Err())
		var n int
		var addr uintptr
		_, err := fmt.Sscanf(c.lines.Text(), "waiting %d %v", &n, &addr)
		require.NoError(t, err, c.lines.Text())
		require.Equal(t, 2*i, n)
		awaitSleeper(t, c.cmd.Process.Pid, addr)
		require.NoError(t, v.Push(makeSharedRec(1, uint32(i), 0, 1)))
		m, err := v.Wait(context.Background(), 2*i+1)
		require.NoError(t, err)
		require.Equal(t, 2*i+2, m)
		require.Equal(t, makeSharedRec(2, uint32(i), 0, 1), v.Index(m-1))
	}
	c.expect(t, "done")
	c.release(t)
	require.Equal(t, 2*rounds, v.Len())
	checkSharedRecs(t, v.Slice())
}

// TestSharedWaitClose: a Close from another goroutine ends a Shared
// writer's Wait, which returns ErrClosed, as a follower's does.
func TestSharedWaitClose(t *testing.T) {
	path := filepath.Join(tempDir(t), "w.vec")
	v, err := Open[sharedRec](path, Shared())
	require.NoError(t, err)
	addr := uintptr(unsafe.Pointer(v.wake()))
	done := make(chan error, 1)
	go func() {
		_, err := v.Wait(context.Background(), 0)
		done <- err
	}()
	awaitFollowerAsleep(t, addr)
	require.NoError(t, v.Close())
	err = <-done
	require.ErrorIs(t, err, ErrClosed)
	require.True(t, strings.HasPrefix(err.Error(), "memvec: wait "), err.Error())
}
