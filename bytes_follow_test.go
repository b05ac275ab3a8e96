//go:build unix || windows

package memvec

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/require"
)

// followBytes opens path as a Bytes follower, failing the test on error,
// and closes it when the test ends.
func followBytes(t testing.TB, path string, opts ...Option) *Bytes {
	t.Helper()
	return openBytes(t, path, append([]Option{Follow()}, opts...)...)
}

// requireFollowed requires that follower f shows records from to n-1 of
// record(i), each whole, and at least n records.
func requireFollowed(t testing.TB, f *Bytes, from, n int) {
	t.Helper()
	require.GreaterOrEqual(t, f.Len(), n)
	for i := from; i < n; i++ {
		if got := f.At(i); !slices.Equal(got, record(i)) {
			require.Failf(t, "a follower read a record not written whole", "record %d of %d: %d bytes, want %d", i, n, len(got), len(record(i)))
		}
	}
}

// TestBytesFollowerOpensBesideWriter: a follower opens beside a writer,
// sees what it has published and no more until Refresh, is read-only, and
// HasWriter tells whether the writer is there.
func TestBytesFollowerOpensBesideWriter(t *testing.T) {
	path := bytesPath(t)
	_, err := OpenBytes(path, Follow())
	require.ErrorIs(t, err, fs.ErrNotExist, "a follower never creates the Bytes")
	w := openBytes(t, path)
	for i := range 5 {
		require.NoError(t, w.Push(record(i)))
	}
	f := followBytes(t, path)
	requireFollowed(t, f, 0, 5)
	require.NoError(t, w.Push(record(5)))
	require.Equal(t, 5, f.Len(), "a follower's view does not change between Refreshes")
	n, err := f.Refresh()
	require.NoError(t, err)
	require.Equal(t, 6, n)
	requireFollowed(t, f, 0, 6)
	require.ErrorIs(t, f.Push([]byte("x")), ErrReadOnly)
	_, err = OpenBytes(path, Follow(), ReadOnly())
	require.Error(t, err)
	_, err = OpenBytes(path, Follow(), SyncEvery(time.Second))
	require.Error(t, err)
	if followersDetectable {
		has, err := f.HasWriter()
		require.NoError(t, err)
		require.True(t, has)
		require.NoError(t, w.Close())
		has, err = f.HasWriter()
		require.NoError(t, err)
		require.False(t, has, "the writer has closed")
	}
	require.NoError(t, f.Close())
	_, err = f.Refresh()
	require.ErrorIs(t, err, ErrClosed)
	_, err = f.HasWriter()
	require.ErrorIs(t, err, ErrClosed)
}

// TestBytesFollowerOfNewBytes: a follower that opens the directory before
// its writer has written the header is empty, and follows once it has.
func TestBytesFollowerOfNewBytes(t *testing.T) {
	path := bytesPath(t)
	require.NoError(t, os.Mkdir(path, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(path, bytesOffsetsName), nil, 0o644))
	f := followBytes(t, path)
	require.Zero(t, f.Len())
	n, err := f.Refresh()
	require.NoError(t, err)
	require.Zero(t, n)
	w := openBytes(t, path)
	require.NoError(t, w.Append(record(0), record(1)))
	n, err = f.Wait(context.Background(), 0)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	requireFollowed(t, f, 0, 2)
}

// TestBytesFollowerSeesGrowth: the writer grows both files far past what a
// follower mapped at its open (with a small reservation, so that the
// follower maps them anew), and the follower reads every record whole,
// never past its mapping.
func TestBytesFollowerSeesGrowth(t *testing.T) {
	path := bytesPath(t)
	w := openBytes(t, path)
	require.NoError(t, w.Push(record(1)[:0]))
	f := followBytes(t, path, Reserve(1<<16))
	data0 := len(f.data)
	const n = 20_000 // about 3 MB of data, 160 KB of offsets
	for i := 1; i < n; i++ {
		require.NoError(t, w.Push(record(i)))
		if i%5000 == 0 {
			m, err := f.Refresh()
			require.NoError(t, err)
			requireFollowed(t, f, 1, m)
		}
	}
	m, err := f.Refresh()
	require.NoError(t, err)
	require.Equal(t, n, m)
	requireFollowed(t, f, 1, n)
	require.Greater(t, len(f.data), 16*data0, "the data file grew under the follower")
	require.LessOrEqual(t, int64(len(f.data)), must(os.Stat(filepath.Join(path, bytesDataName))).Size())
}

// TestBytesFollowerRewritten: a Truncate below what a follower saw is
// ErrRewritten at its next Refresh (which still refreshes), and records
// pushed since read as the writer wrote them.
func TestBytesFollowerRewritten(t *testing.T) {
	path := bytesPath(t)
	w := openBytes(t, path)
	for i := range 10 {
		require.NoError(t, w.Push(record(i)))
	}
	f := followBytes(t, path)
	require.Equal(t, 10, f.Len())
	w.Truncate(4)
	require.NoError(t, w.Append([]byte("four"), []byte("five")))
	n, err := f.Refresh()
	require.ErrorIs(t, err, ErrRewritten)
	require.Equal(t, 6, n)
	requireFollowed(t, f, 0, 4) // and two more
	require.Equal(t, "four", f.String(4))
	require.Equal(t, "five", f.String(5))
	n, err = f.Refresh()
	require.NoError(t, err, "reported once")
	require.Equal(t, 6, n)
	// Truncate while the follower waits for more.
	done := make(chan error, 1)
	go func() {
		_, err := f.Wait(context.Background(), 6)
		done <- err
	}()
	w.Truncate(2)
	require.NoError(t, w.Append(record(2), record(3), record(4), record(5), record(6)))
	require.ErrorIs(t, awaitDone(t, done), ErrRewritten)
	requireFollowed(t, f, 0, 7)
}

// bytesWakeAddr returns the address of follower f's wake word, to be taken
// before another goroutine waits on f.
func bytesWakeAddr(f *Bytes) uintptr {
	return uintptr(unsafe.Pointer(f.idx.(*File).wakeWord()))
}

// TestBytesWaitWokenByPush: a follower asleep in Wait, with a context that
// ends only long after (and a sleep bounded by an hour in the tests), is
// woken by the writer's Push, and by its Append, with the records.
func TestBytesWaitWokenByPush(t *testing.T) {
	path := bytesPath(t)
	w := openBytes(t, path)
	f := followBytes(t, path)
	addr := bytesWakeAddr(f)
	for i, push := range []func() error{
		func() error { return w.Push(record(0)) },
		func() error { return w.Append(record(1), record(2)) },
		func() error {
			return w.PushFunc(func(buf []byte) ([]byte, error) { return append(buf, record(3)...), nil })
		},
	} {
		n := w.Len()
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := f.Wait(ctx, n)
			done <- err
		}()
		awaitFollowerAsleep(t, addr) // so that the wake-up, not the spin, is tested
		require.NoError(t, push())
		require.NoError(t, awaitDone(t, done), "call %d", i)
		requireFollowed(t, f, 0, w.Len())
		require.Zero(t, w.wake().Load()&1, "the writer cleared the wake bit")
	}
}

// TestBytesWaitOfNonFollowersAndClose: Wait and Refresh of a writer, Wait
// ended by its context, and Close ending a Wait in another goroutine.
func TestBytesWaitOfNonFollowersAndClose(t *testing.T) {
	path := bytesPath(t)
	w := openBytes(t, path)
	require.NoError(t, w.Push(record(0)))
	n, err := w.Refresh()
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = w.Wait(context.Background(), 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = w.Wait(context.Background(), 1)
	require.Error(t, err)
	f := followBytes(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	n, err = f.Wait(ctx, 1)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 1, n)
	done := make(chan error, 1)
	go func() {
		_, err := f.Wait(context.Background(), 1)
		done <- err
	}()
	require.NoError(t, f.Close())
	require.ErrorIs(t, awaitDone(t, done), ErrClosed)
}

// TestBytesFollowerGoroutines: followers in goroutines, each with its own
// handle, stream every record a writer pushes, in order, none torn.
func TestBytesFollowerGoroutines(t *testing.T) {
	path := bytesPath(t)
	w := openBytes(t, path)
	const n, followers = 30_000, 3
	errs := make(chan error, followers)
	for range followers {
		f := followBytes(t, path)
		go func() {
			seen := 0
			for seen < n {
				m, err := f.Wait(context.Background(), seen)
				if err != nil {
					errs <- err
					return
				}
				for i := seen; i < m; i++ {
					if !slices.Equal(f.At(i), record(i)) {
						errs <- errors.New("a torn or wrong record")
						return
					}
				}
				seen = m
			}
			errs <- nil
		}()
	}
	for i := 0; i < n; {
		if i%7 == 0 {
			require.NoError(t, w.Append(record(i), record(i+1)))
			i += 2
			continue
		}
		require.NoError(t, w.Push(record(i)))
		i++
	}
	for range followers {
		require.NoError(t, awaitDone(t, errs))
	}
}

// TestBytesSyncEveryWithoutCalls: with SyncEvery, records pushed and left
// are made durable by the syncer, without a call: the header's base, what
// a finished barrier covered, reaches them.
func TestBytesSyncEveryWithoutCalls(t *testing.T) {
	path := bytesPath(t)
	_, err := OpenBytes(path, SyncEvery(0))
	require.Error(t, err)
	w := openBytes(t, path, SyncEvery(5*time.Millisecond))
	base := format.Word64At(w.idx.Bytes(), format.OffBase)
	for round := range 3 {
		for i := range 100 {
			require.NoError(t, w.Push(record(round*100+i)))
		}
		deadline := time.Now().Add(time.Minute) // a deadlock detector, not a timing
		for base.Load() != uint64(w.Len()) {
			require.True(t, time.Now().Before(deadline), "round %d: the syncer made nothing durable: base %d of %d", round, base.Load(), w.Len())
			time.Sleep(time.Millisecond)
		}
	}
	w.Truncate(50)
	require.NoError(t, w.Push(record(50)))
	require.NoError(t, w.Sync())
	require.NoError(t, w.Close())
	r := openBytes(t, path, ReadOnly())
	requireRecords(t, r, 51)
}
