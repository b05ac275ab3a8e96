//go:build unix

package memvec

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// makePoll makes a follower's Wait poll, as one whose descriptor is
// read-only does (see TestFollowerThatCannotWritePolls).
func makePoll(f *File) { f.r.PollOnly() }

// TestFollowerThatCannotWritePolls: a follower whose descriptor is
// read-only (a file it may not write) cannot set the wake word, so its
// Wait polls, and the writer is never asked to wake it.
func TestFollowerThatCannotWritePolls(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Push(pt(1)))
	f := follow[point](t, path)
	// What opening a file of mode 0444 gives anyone but root.
	f.mem.(*File).r.PollOnly()
	require.Nil(t, f.mem.(*File).wakeWord())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := f.Wait(ctx, 1)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Zero(t, w.wake().Load()&1)
	done := make(chan error, 1)
	go func() {
		_, err := f.Wait(context.Background(), 1)
		done <- err
	}()
	require.NoError(t, w.Push(pt(2)))
	require.NoError(t, <-done)
	require.Equal(t, pts(1, 2), f.Slice())
}
