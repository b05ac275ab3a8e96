//go:build unix || windows

package memvec

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/require"
)

// errDisk is what failingFile's barriers fail with: a disk that refuses
// write-back (ENOSPC, EIO; on Windows, what FlushViewOfFile or
// FlushFileBuffers returns).
var errDisk = errors.New("the disk refused the write-back")

// failingFile is a File whose barriers (Sync, and syncHeader, the header's
// alone) fail with errDisk while fail is set, as those of a disk that
// refuses write-back do, on every system. Nothing is lost here (the page
// cache keeps the bytes); TestFailedSyncIsSticky loses them, on crashfs.
type failingFile struct {
	*File
	fail          bool
	headerSyncs   int // syncHeader calls that succeeded
	barriersTried int
}

func (f *failingFile) Sync() error {
	f.barriersTried++
	if f.fail {
		return fmt.Errorf("memvec: sync %s: %w", f.Name(), errDisk)
	}
	return f.File.Sync()
}

func (f *failingFile) syncHeader() error {
	f.barriersTried++
	if f.fail {
		return fmt.Errorf("memvec: sync %s: %w", f.Name(), errDisk)
	}
	f.headerSyncs++
	return f.File.syncHeader()
}

// openFailing opens the vector at path on a failingFile, closed when the
// test ends.
func openFailing(t *testing.T, path string) (*MemVec[point], *failingFile) {
	t.Helper()
	f, err := OpenFile(path)
	require.NoError(t, err)
	ff := &failingFile{File: f}
	v, err := New[point](ff)
	require.NoError(t, err)
	t.Cleanup(func() { v.Close() })
	return v, ff
}

// requireFailed requires that err is the failure of a barrier: it wraps
// ErrSyncFailed and the disk's error.
func requireFailed(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	require.ErrorIs(t, err, ErrSyncFailed, msgAndArgs...)
	require.ErrorIs(t, err, errDisk, msgAndArgs...)
}

// TestFailedBarrierIsSticky: wherever a barrier fails (a Sync; the one a
// rewrite below the durable length makes, with an error result or
// without; the one a Push after a drop makes; Close's after a drop), the
// vector is failed from then on: it counts what the last Sync that
// succeeded covered (less, if it dropped elements since), and so does the
// header, which it makes durable once the disk takes it; every later Sync
// and Close fails with ErrSyncFailed and the disk's error, also after the
// disk recovers; a new handle counts the same and works as usual.
func TestFailedBarrierIsSticky(t *testing.T) {
	cases := []struct {
		name string
		// setup runs before the disk fails, on a vector holding pt(0..99),
		// all synced; op runs after and returns the error it got, if any.
		setup func(t *testing.T, v *MemVec[point])
		op    func(t *testing.T, v *MemVec[point]) error
		kept  int // what the vector and the header count after op
	}{
		{"Sync", func(t *testing.T, v *MemVec[point]) {
			require.NoError(t, v.Append(pts(seq(150)[100:]...)...))
		}, func(t *testing.T, v *MemVec[point]) error { return v.Sync() }, 100},
		{"Set below the durable length", nil, func(t *testing.T, v *MemVec[point]) error {
			v.Set(50, pt(-1))
			require.Equal(t, pt(50), v.Index(50), "a Set whose barrier failed writes nothing")
			return nil
		}, 100},
		{"Insert after a Close without Sync", func(t *testing.T, v *MemVec[point]) {
			require.NoError(t, v.Append(pts(seq(150)[100:]...)...))
			require.NoError(t, v.Close()) // the record counts 150, the base 100: the next open makes the 150 durable
		}, func(t *testing.T, v *MemVec[point]) error { return v.Insert(120, pt(-1)) }, 150},
		{"Push after Truncate", func(t *testing.T, v *MemVec[point]) { v.Truncate(60) },
			func(t *testing.T, v *MemVec[point]) error { return v.Push(pt(-1)) }, 60},
		{"Close after Truncate", func(t *testing.T, v *MemVec[point]) { v.Truncate(40) },
			func(t *testing.T, v *MemVec[point]) error { return v.Close() }, 40},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			path := vecPath(t)
			v, ff := openFailing(t, path)
			require.NoError(t, v.Append(pts(seq(100)...)...))
			require.NoError(t, v.Sync())
			if tt.setup != nil {
				tt.setup(t, v)
			}
			if v.closed {
				v, ff = openFailing(t, path)
			}
			f := follow[point](t, path)
			ff.fail = true
			if err := tt.op(t, v); err != nil {
				requireFailed(t, err, "the failing call")
			}
			want := pts(seq(tt.kept)...)
			if !v.closed {
				require.Equal(t, want, v.Slice(), "the vector counts what the last successful Sync covered")
				refreshed(t, f, true)
				require.Equal(t, want, f.Slice(), "so does a follower")
				requireFailed(t, v.Sync(), "a Sync while the disk fails")
			}
			require.Equal(t, tt.kept, int(headerWord(t, path, format.OffLength)), "the header counts what the vector kept")
			for _, off := range []int{format.OffBase, format.OffChecked1, format.OffChecked2} {
				require.Equal(t, tt.kept, int(headerWord(t, path, off)), "the durable record counts what the vector kept, at %d", off)
			}

			ff.fail = false // the disk recovers
			if !v.closed {
				synced := ff.headerSyncs
				requireFailed(t, v.Sync(), "a Sync after the disk recovered")
				require.Equal(t, synced+1, ff.headerSyncs, "the lowered header was made durable once the disk took it")
				requireFailed(t, v.Sync(), "and every Sync after")
				require.Equal(t, synced+1, ff.headerSyncs, "once")
				requireFailed(t, v.Close(), "Close")
			}
			require.NoError(t, v.Close(), "a second Close")
			require.ErrorIs(t, v.Sync(), ErrClosed)

			w := openVec[point](t, path)
			require.Equal(t, want, w.Slice(), "a new handle counts what the failed one kept")
			require.NoError(t, w.Push(pt(7)))
			require.NoError(t, w.Sync())
			require.NoError(t, w.Close())
			reboot(t)
			r := openVec[point](t, path, ReadOnly())
			require.Equal(t, append(want, pt(7)), r.Slice(), "and after a reboot")
		})
	}
}

// TestFailedVectorWritesNothing: once a barrier failed, every mutator that
// returns an error returns the failure, and changes nothing; Set, Remove
// and SwapRemove, which return none, change nothing; Pop, Truncate and
// Clear, which write no element, drop elements as usual.
func TestFailedVectorWritesNothing(t *testing.T) {
	path := vecPath(t)
	v, ff := openFailing(t, path)
	require.NoError(t, v.Append(pts(seq(100)...)...))
	require.NoError(t, v.Sync())
	require.NoError(t, v.Append(pts(seq(150)[100:]...)...))
	ff.fail = true
	requireFailed(t, v.Sync())
	ff.fail = false
	want := pts(seq(100)...)
	tried := ff.barriersTried

	refused := map[string]func() error{
		"Push":          func() error { return v.Push(pt(-1)) },
		"Append":        func() error { return v.Append(pt(-1)) },
		"Append none":   func() error { return v.Append() },
		"Insert":        func() error { return v.Insert(10, pt(-1)) },
		"Insert at end": func() error { return v.Insert(v.Len(), pt(-1)) },
		"Grow":          func() error { return v.Grow(1000) },
		"Clip":          func() error { return v.Clip() },
		"Delete":        func() error { return v.Delete(10, 20) },
		"DeleteFunc":    func() error { return v.DeleteFunc(func(point) bool { return true }) },
		"CompactFunc":   func() error { return v.CompactFunc(func(a, b point) bool { return true }) },
		"Replace":       func() error { return v.Replace(10, 20, pt(-1)) },
		"Resize down":   func() error { return v.Resize(10) },
		"Resize up":     func() error { return v.Resize(200) },
		"AppendSeq":     func() error { return v.AppendSeq(slices.Values(pts(-1))) },
		"AppendInPlace": func() error {
			return v.AppendInPlace(1, func(s []point) int { s[0] = pt(-1); return 1 })
		},
	}
	for name, op := range refused {
		requireFailed(t, op(), name)
		require.Equal(t, want, v.Slice(), "%s changed the vector", name)
	}
	v.Set(3, pt(-1))
	require.Equal(t, want, v.Slice(), "Set changed the vector")
	require.Equal(t, pt(4), v.Remove(4))
	require.Equal(t, want, v.Slice(), "Remove changed the vector")
	require.Equal(t, pt(5), v.SwapRemove(5))
	require.Equal(t, want, v.Slice(), "SwapRemove changed the vector")
	require.Equal(t, tried, ff.barriersTried, "a mutator tried a barrier")

	x, ok := v.Pop()
	require.True(t, ok)
	require.Equal(t, pt(99), x)
	v.Truncate(90)
	require.Equal(t, want[:90], v.Slice())
	require.Equal(t, 90, int(headerWord(t, path, format.OffLength)), "a drop lowers the header's length")
	requireFailed(t, v.Push(pt(-1)), "a Push after a drop")
	v.Clear()
	require.Zero(t, v.Len())
	requireFailed(t, v.Close())
	w := openVec[point](t, path)
	require.Zero(t, w.Len(), "the new handle sees the drops")
}
