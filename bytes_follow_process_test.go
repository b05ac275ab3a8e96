//go:build unix || windows

package memvec

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func init() {
	children["followbytes"] = followBytesChild
	children["pushbytesto"] = pushBytesToChild
}

// followBytesChild follows the Bytes at $MEMVEC_PATH, says the address of
// its wake word, and Waits for records, each Wait with a context of
// $MEMVEC_WAIT (a duration) if set, verifying that each is record(i), in
// order, until it has $MEMVEC_N: it says "got N" after each Wait, then
// "verified N". Any error, ErrRewritten included, ends it.
func followBytesChild() {
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	f, err := OpenBytes(os.Getenv("MEMVEC_PATH"), Follow())
	if err != nil {
		fail(err)
	}
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	limit, _ := time.ParseDuration(os.Getenv("MEMVEC_WAIT"))
	verbose := os.Getenv("MEMVEC_WAIT") != ""
	fmt.Printf("wake %#x\n", bytesWakeAddr(f))
	for seen := f.Len(); seen < n; {
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if limit > 0 {
			ctx, cancel = context.WithTimeout(ctx, limit)
		}
		m, err := f.Wait(ctx, seen)
		cancel()
		if err != nil {
			fail(err)
		}
		for i := seen; i < m; i++ {
			if p := f.At(i); !slices.Equal(p, record(i)) {
				fail(fmt.Errorf("record %d of %d is torn or wrong: %d bytes, want %d", i, m, len(p), len(record(i))))
			}
		}
		seen = m
		if verbose {
			fmt.Println("got", seen)
		}
	}
	fmt.Println("verified", f.Len())
	io.Copy(io.Discard, os.Stdin)
}

// pushBytesToChild opens the Bytes at $MEMVEC_PATH, says "open", waits for
// a line on stdin, pushes record(i) from its length up to $MEMVEC_N,
// mixing Push and Append, and says "pushed".
func pushBytesToChild() {
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	b, err := OpenBytes(os.Getenv("MEMVEC_PATH"))
	if err != nil {
		fail(err)
	}
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	fmt.Println("open")
	bufio.NewScanner(os.Stdin).Scan()
	for i := b.Len(); i < n; {
		if i%5 == 0 && i+3 <= n {
			err = b.Append(record(i), record(i+1), record(i+2))
			i += 3
		} else {
			err = b.Push(record(i))
			i++
		}
		if err != nil {
			fail(err)
		}
	}
	if err := b.Close(); err != nil {
		fail(err)
	}
	fmt.Println("pushed")
}

// TestBytesFollowerProcessStreamsPushes: a writer process pushes 100,000
// records (about 15 MB: both files grow many times under the follower) and
// a follower process Waits for them and checks every one, in order: none
// torn, none missing, none rewritten.
func TestBytesFollowerProcessStreamsPushes(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	path := bytesPath(t)
	w := startChild(t, "pushbytesto", "MEMVEC_PATH="+path, "MEMVEC_N="+strconv.Itoa(n))
	w.expect(t, "open")
	f := startChild(t, "followbytes", "MEMVEC_PATH="+path, "MEMVEC_N="+strconv.Itoa(n))
	require.True(t, f.lines.Scan(), "the follower said nothing")
	_, err := io.WriteString(w.stdin, "go\n")
	require.NoError(t, err)
	w.expect(t, "pushed")
	f.expect(t, "verified "+strconv.Itoa(n))
	f.release(t)
	w.release(t)
}

// TestBytesWaitWokenByPushAcrossProcesses: a follower process asleep in
// Wait, whose context ends only after 30 seconds (and whose sleep the
// tests bound by an hour), is woken by this process's Push, then by its
// Append, and gets the records at once.
func TestBytesWaitWokenByPushAcrossProcesses(t *testing.T) {
	path := bytesPath(t)
	w := openBytes(t, path)
	f := startChild(t, "followbytes", "MEMVEC_PATH="+path, "MEMVEC_N=3", "MEMVEC_WAIT=30s")
	require.True(t, f.lines.Scan(), "the follower said nothing")
	var addr uintptr
	_, err := fmt.Sscanf(f.lines.Text(), "wake %v", &addr)
	require.NoError(t, err, f.lines.Text())
	awaitSleeper(t, f.cmd.Process.Pid, addr)
	require.NoError(t, w.Push(record(0)))
	f.expect(t, "got 1")
	awaitSleeper(t, f.cmd.Process.Pid, addr)
	require.NoError(t, w.Append(record(1), record(2)))
	f.expect(t, "got 3")
	f.expect(t, "verified 3")
	f.release(t)
}
