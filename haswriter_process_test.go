//go:build unix || windows

package memvec

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFollowerTellsWhetherAWriterHoldsTheFile: a follower's HasWriter is
// false before any writer, true while a writer process holds the file,
// false again once it has closed it or been killed; a ReadOnly holder is no
// writer. The follower's test takes nothing a writer waits on: a writer's
// open (without a LockTimeout) beside followers that test all the time
// succeeds. Where the system gives a follower no way to tell (macOS, the
// BSDs), HasWriter says so with errors.ErrUnsupported.
func TestFollowerTellsWhetherAWriterHoldsTheFile(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	has, err := w.HasWriter()
	require.NoError(t, err)
	require.True(t, has, "a writer holds its own file")
	require.NoError(t, w.Close())
	f := follow[point](t, path)
	if !followersDetectable {
		_, err := f.HasWriter()
		require.ErrorIs(t, err, errors.ErrUnsupported)
		return
	}
	requireHasWriter := func(want bool, msg string) {
		t.Helper()
		// A killed writer's lock goes at once on Linux, soon after on
		// Windows (see killedLockWait).
		deadline := time.Now().Add(killedLockWait)
		for {
			has, err := f.HasWriter()
			require.NoError(t, err)
			if has == want || !want && time.Now().After(deadline) {
				require.Equal(t, want, has, msg)
				return
			}
			require.False(t, want, msg) // a writer that holds the file is seen at once
			time.Sleep(10 * time.Millisecond)
		}
	}
	requireHasWriter(false, "no writer yet")

	c := startChild(t, "hold", "MEMVEC_PATH="+path)
	c.expect(t, "locked")
	requireHasWriter(true, "a writer process holds the file")
	c.release(t)
	requireHasWriter(false, "the writer closed the file")

	c = startChild(t, "hold", "MEMVEC_PATH="+path)
	c.expect(t, "locked")
	requireHasWriter(true, "a writer process holds the file")
	c.kill(t, nil)
	requireHasWriter(false, "the writer was killed")

	c = startChild(t, "hold", "MEMVEC_PATH="+path, "MEMVEC_RO=1")
	c.expect(t, "locked")
	requireHasWriter(false, "a ReadOnly holder is no writer")
	c.release(t)

	// Followers testing without pause never keep a writer out.
	stop := make(chan struct{})
	done := make(chan error)
	for range 2 {
		go func() {
			g, err := Open[point](path, Follow())
			if err == nil {
				for err == nil {
					select {
					case <-stop:
						done <- g.Close()
						return
					default:
					}
					_, err = g.HasWriter()
				}
				g.Close()
			}
			done <- err
		}()
	}
	opens := 200
	if runtime.GOOS == "windows" {
		opens = 20 // an open costs tens of milliseconds under Wine
	}
	for range opens {
		w, err := Open[point](path)
		require.NoError(t, err, "a writer's open beside followers that test for a writer")
		require.NoError(t, w.Close())
	}
	close(stop)
	require.NoError(t, <-done)
	require.NoError(t, <-done)

	require.NoError(t, f.Close())
	_, err = f.HasWriter()
	require.ErrorIs(t, err, ErrClosed)
}
