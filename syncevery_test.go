//go:build unix || windows

package memvec

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/require"
)

// TestSyncEveryOptions: SyncEvery's period must be positive, and the
// option is refused where it cannot apply, before anything is opened.
func TestSyncEveryOptions(t *testing.T) {
	path := vecPath(t)
	for _, c := range []struct {
		opts []Option
		msg  string
	}{
		{[]Option{SyncEvery(0)}, "SyncEvery(0s): the period must be more than zero"},
		{[]Option{SyncEvery(-time.Second)}, "SyncEvery(-1s): the period must be more than zero"},
		{[]Option{SyncEvery(time.Second), ReadOnly()}, "SyncEvery and ReadOnly exclude each other"},
		{[]Option{Follow(), SyncEvery(time.Second)}, "SyncEvery and Follow exclude each other"},
	} {
		v, err := Open[point](path, c.opts...)
		require.Nil(t, v)
		require.ErrorContains(t, err, "memvec: open "+path+": "+c.msg)
		_, err = os.Lstat(path)
		require.ErrorIs(t, err, os.ErrNotExist, "a refused open created the file")
	}
	_, err := OpenRaw(path, SyncEvery(time.Second))
	require.ErrorContains(t, err, "SyncEvery and ReadOnly exclude each other")
	err = Migrate(path, func(p point) point { return p }, SyncEvery(time.Second))
	require.ErrorContains(t, err, "option SyncEvery does not apply to Migrate")
}

// TestSyncEveryWithoutCalls: a writer with SyncEvery that pushes and then
// calls nothing has its elements made durable by the syncer, within the
// period: the header's base, what a reader after a reboot starts from,
// comes to count them, and a copy of the file opened as after a reboot
// holds them.
func TestSyncEveryWithoutCalls(t *testing.T) {
	path := vecPath(t)
	v := openVec[point](t, path, SyncEvery(10*time.Millisecond))
	for i := range 100 {
		require.NoError(t, v.Push(pt(i)))
	}
	deadline := time.Now().Add(20 * time.Second)
	for headerWord(t, path, format.OffBase) != 100 {
		require.True(t, time.Now().Before(deadline), "the syncer did not make the 100 elements durable within 20 s")
		time.Sleep(time.Millisecond)
	}
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	reboot(t)
	copyPath := filepath.Join(tempDir(t), "copy.vec")
	require.NoError(t, os.WriteFile(copyPath, data, 0o644))
	r := openVec[point](t, copyPath, ReadOnly())
	require.Equal(t, pts(seq(100)...), r.Slice(), "after a reboot")
}

// TestSyncEveryBesideTheOwner: the syncer runs beside every mutator of the
// owner, on a vector whose small reservation makes growth move the region,
// with a period short enough that it runs all the time: run it with -race.
// The vector ends as the model says, and after Close, whose last Sync
// makes everything durable, a reader after a reboot counts all of it.
func TestSyncEveryBesideTheOwner(t *testing.T) {
	path := vecPath(t)
	v, err := Open[point](path, SyncEvery(50*time.Microsecond), Reserve(64<<10))
	require.NoError(t, err)
	var model []point
	r := rand.New(rand.NewPCG(rand.Uint64(), 5))
	for op := range 6000 {
		switch k := r.IntN(13); {
		case k < 4:
			x := pt(op)
			require.NoError(t, v.Push(x))
			model = append(model, x)
		case k == 4:
			xs := pts(seq(r.IntN(200))...)
			require.NoError(t, v.Append(xs...))
			model = append(model, xs...)
		case k == 5 && len(model) > 0:
			i := r.IntN(len(model))
			v.Set(i, pt(-op))
			model[i] = pt(-op)
		case k == 6:
			i := r.IntN(len(model) + 1)
			require.NoError(t, v.Insert(i, pt(op)))
			model = slices.Insert(model, i, pt(op))
		case k == 7:
			n := r.IntN(len(model) + 1)
			v.Truncate(n)
			model = model[:n]
		case k == 8:
			require.NoError(t, v.Clip())
		case k == 9:
			require.NoError(t, v.Sync())
		case k == 10:
			xs := pts(seq(r.IntN(50))...)
			require.NoError(t, v.AppendSeq(slices.Values(xs)))
			model = append(model, xs...)
		case k == 11:
			require.NoError(t, v.AppendInPlace(10, func(s []point) int { copy(s, pts(seq(10)...)); return 10 }))
			model = append(model, pts(seq(10)...)...)
		case k == 12 && len(model) > 0:
			x, ok := v.Pop()
			require.True(t, ok)
			require.Equal(t, model[len(model)-1], x)
			model = model[:len(model)-1]
		}
		if op%500 == 0 {
			time.Sleep(time.Millisecond) // let the syncer in between calls too
		}
	}
	require.Equal(t, model, v.Slice())
	require.NoError(t, v.Close())
	reboot(t)
	got := openVec[point](t, path, ReadOnly())
	require.Equal(t, model, got.Slice(), "after Close and a reboot")
}
