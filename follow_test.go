//go:build unix || windows

package memvec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/require"
)

// followersDetectable says whether a writer here can see that followers
// are attached (an OFD lock on Linux, LockFileEx on Windows), and so
// truncates a file in Clip once none is: elsewhere it never truncates.
const followersDetectable = runtime.GOOS == "linux" || runtime.GOOS == "windows"

func init() {
	sleepMax = time.Hour // a lost wake-up hangs a Wait, and its test fails
}

// follow opens path as a follower, failing the test on error, and closes it
// when the test ends.
func follow[T any](t testing.TB, path string) *MemVec[T] {
	t.Helper()
	return openVec[T](t, path, Follow())
}

// wakeAddr returns the address of follower f's wake word, to be taken
// before another goroutine waits on f: the handle is not safe for
// concurrent use.
func wakeAddr[T any](f *MemVec[T]) uintptr {
	return uintptr(unsafe.Pointer(f.mem.(*File).wakeWord()))
}

// awaitDone returns what done delivers, or fails the test if nothing comes
// within a minute: a deadlock detector (a lost wake-up), not a timing.
func awaitDone(t testing.TB, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("a Wait was not woken: lost wake-up")
		return nil
	}
}

// refreshed refreshes f and requires the outcome: rewritten or not.
func refreshed[T any](t testing.TB, f *MemVec[T], rewritten bool) int {
	t.Helper()
	n, err := f.Refresh()
	if rewritten {
		require.ErrorIs(t, err, ErrRewritten)
	} else {
		require.NoError(t, err)
	}
	require.Equal(t, n, f.Len())
	return n
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

// TestFollowOpensBesideWriter: a follower opens whether a writer holds the
// file or not, before or after it, and a writer opens while followers
// follow; ReadOnly keeps excluding writers.
func TestFollowOpensBesideWriter(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(1, 2)...))
	f1 := follow[point](t, path) // after the writer
	require.Equal(t, pts(1, 2), f1.Slice())
	require.NoError(t, w.Close())

	f2 := follow[point](t, path) // with no writer
	require.Equal(t, pts(1, 2), f2.Slice())
	w = openVec[point](t, path) // a writer while two follow
	require.NoError(t, w.Push(pt(3)))
	for _, f := range []*MemVec[point]{f1, f2} {
		refreshed(t, f, false)
		require.Equal(t, pts(1, 2, 3), f.Slice())
	}
	_, err := Open[point](path, ReadOnly())
	require.ErrorIs(t, err, ErrLocked, "ReadOnly still excludes a writer")
	_, err = Open[point](path)
	require.ErrorIs(t, err, ErrLocked, "one writer at a time")
	require.NoError(t, w.Close())
	r := openVec[point](t, path, ReadOnly()) // and a ReadOnly reader beside followers
	require.Equal(t, pts(1, 2, 3), r.Slice())
}

func TestFollowRefusesWhatCannotApply(t *testing.T) {
	path := vecPath(t)
	openVec[point](t, path)
	for name, opts := range map[string][]Option{
		"ReadOnly":    {Follow(), ReadOnly()},
		"LockTimeout": {LockTimeout(time.Second), Follow()},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Open[point](path, opts...)
			require.ErrorContains(t, err, name)
			require.ErrorContains(t, err, path)
		})
	}
}

// TestFollowMissingFile: a follower never creates the file.
func TestFollowMissingFile(t *testing.T) {
	path := vecPath(t)
	_, err := Open[point](path, Follow())
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, path)
	_, err = os.Stat(path)
	require.ErrorIs(t, err, fs.ErrNotExist, "the follower created the file")
}

// TestFollowerStableBetweenRefreshes: what a follower shows changes only at
// Refresh and Wait.
func TestFollowerStableBetweenRefreshes(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(0, 1, 2)...))
	f := follow[point](t, path)
	view := f.Slice()
	for i := 3; i < 2000; i++ { // through several growths of the file
		require.NoError(t, w.Push(pt(i)))
	}
	require.Equal(t, 3, f.Len())
	require.Equal(t, pts(0, 1, 2), f.Slice())
	require.Equal(t, pts(0, 1, 2), view)
	require.Equal(t, pt(2), f.Index(2))
	require.Panics(t, func() { f.Index(3) })
	var seen []point
	for _, x := range f.All() {
		seen = append(seen, x)
	}
	require.Equal(t, pts(0, 1, 2), seen)

	require.Equal(t, 2000, refreshed(t, f, false))
	require.Equal(t, w.Slice(), f.Slice())
	if runtime.GOOS != "windows" {
		// On Windows a Refresh that finds the file grown maps it anew and
		// unmaps the old view (see File, TestFollowerViewMovesOnGrowth):
		// reading view now would fault.
		require.Equal(t, pts(0, 1, 2), view, "a view taken before a Refresh stays valid")
	}
	require.GreaterOrEqual(t, f.Cap(), f.Len())
}

// TestFollowerIsReadOnly: a follower's mutators behave as a ReadOnly
// vector's, and it writes nothing but the wake word.
func TestFollowerIsReadOnly(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(1, 2)...))
	f := follow[point](t, path)
	require.ErrorIs(t, f.Push(pt(3)), ErrReadOnly)
	require.ErrorIs(t, f.Append(pt(3)), ErrReadOnly)
	require.ErrorIs(t, f.Insert(0, pt(3)), ErrReadOnly)
	require.ErrorIs(t, f.Grow(10), ErrReadOnly)
	require.ErrorIs(t, f.Clip(), ErrReadOnly)
	require.NoError(t, f.Sync())
	for _, m := range []struct {
		op   string // what the panic's message names
		call func()
	}{
		{"pop", func() { f.Pop() }}, {"set", func() { f.Set(0, pt(9)) }}, {"remove", func() { f.Remove(0) }},
		{"remove", func() { f.SwapRemove(0) }}, {"truncate", func() { f.Truncate(0) }}, {"clear", func() { f.Clear() }},
	} {
		require.PanicsWithValue(t, "memvec: "+m.op+" "+path+": read-only", m.call, m.op)
	}
	require.Equal(t, pts(1, 2), w.Slice())
	require.Equal(t, pts(1, 2), f.Slice())
}

// TestFollowerOfEmptyFile: a follower opened on a file that has no header
// yet is empty until its writer writes one; a header for another element
// type is refused at the Refresh that finds it.
func TestFollowerOfEmptyFile(t *testing.T) {
	for _, size := range []int{0, pageSize} { // before the writer sized it, and before its header
		path := vecPath(t)
		require.NoError(t, os.WriteFile(path, make([]byte, size), 0o644))
		f := follow[point](t, path)
		require.Equal(t, 0, f.Len())
		require.Equal(t, 0, refreshed(t, f, false))

		w := openVec[point](t, path)
		require.NoError(t, w.Append(pts(1, 2, 3)...))
		require.Equal(t, 0, f.Len())
		require.Equal(t, 3, refreshed(t, f, false))
		require.Equal(t, pts(1, 2, 3), f.Slice())
	}

	path := vecPath(t)
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	f := follow[point](t, path)
	w := openVec[[2]float64](t, path)
	require.NoError(t, w.Push([2]float64{1, 2}))
	_, err := f.Refresh()
	require.ErrorIs(t, err, ErrTypeMismatch)
	require.Equal(t, 0, f.Len())
}

// TestFollowerOfCorruptFile: a follower validates the header as any open
// does, and a length past the file's end is an error from Refresh, which
// then keeps the view it had.
func TestFollowerOfCorruptFile(t *testing.T) {
	path := writeVecFile(t, []byte("this is not a vector file, and it is long enough to hold a header......................................................................"))
	_, err := Open[point](path, Follow())
	require.ErrorIs(t, err, ErrCorrupt)

	path = vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(1, 2)...))
	f := follow[point](t, path)
	w.length.Store(1 << 40) // what no writer publishes: far past the end of the file
	_, err = f.Refresh()
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, path)
	require.Equal(t, pts(1, 2), f.Slice())
	w.length.Store(2)
	refreshed(t, f, false)
}

// writerOps are the writer's operations, each with whether a follower that
// saw the vector before must be told of a rewrite. Each starts from
// pt(0) ... pt(opsLen-1): several pages, so that a view of them reaches
// pages that a truncation would take away.
const opsLen = 1000

// clipFollowed clips w, whose file followers may map: the capacity comes
// down to the length, and Clip says with ErrFollowed that the file kept
// its size, unless there was nothing past the elements to cut.
func clipFollowed(t testing.TB, w *MemVec[point]) {
	t.Helper()
	f := w.Memory().(*File)
	spare := f.FileSize() > int64(w.dataOffset+w.Len()*int(w.layout.size))
	if err := w.Clip(); spare {
		require.ErrorIs(t, err, ErrFollowed)
	} else {
		require.NoError(t, err)
	}
	require.Equal(t, w.Len(), w.Cap())
}

var writerOps = []struct {
	name      string
	rewritten bool
	op        func(t testing.TB, w *MemVec[point])
}{
	{"Push", false, func(t testing.TB, w *MemVec[point]) { require.NoError(t, w.Push(pt(10))) }},
	{"Append", false, func(t testing.TB, w *MemVec[point]) { require.NoError(t, w.Append(pts(10, 11)...)) }},
	{"Insert at the end", false, func(t testing.TB, w *MemVec[point]) { require.NoError(t, w.Insert(w.Len(), pt(10))) }},
	{"Grow", false, func(t testing.TB, w *MemVec[point]) { require.NoError(t, w.Grow(100000)) }},
	{"Clip", false, func(t testing.TB, w *MemVec[point]) { clipFollowed(t, w) }},
	{"Truncate to the length", false, func(t testing.TB, w *MemVec[point]) { w.Truncate(w.Len()) }},
	{"Set", true, func(t testing.TB, w *MemVec[point]) { w.Set(3, pt(99)) }},
	{"Insert", true, func(t testing.TB, w *MemVec[point]) { require.NoError(t, w.Insert(2, pts(98, 99)...)) }},
	{"Remove", true, func(t testing.TB, w *MemVec[point]) { w.Remove(2) }},
	{"SwapRemove", true, func(t testing.TB, w *MemVec[point]) { w.SwapRemove(2) }},
	{"Pop", true, func(t testing.TB, w *MemVec[point]) { w.Pop() }},
	{"Truncate", true, func(t testing.TB, w *MemVec[point]) { w.Truncate(4) }},
	{"Clear", true, func(t testing.TB, w *MemVec[point]) { w.Clear() }},
	{"Truncate and Clip", true, func(t testing.TB, w *MemVec[point]) { w.Truncate(1); clipFollowed(t, w) }},
	{"Clear, Clip and Push", true, func(t testing.TB, w *MemVec[point]) {
		w.Clear()
		clipFollowed(t, w)
		require.NoError(t, w.Push(pt(7)))
	}},
	{"Delete", true, func(t testing.TB, w *MemVec[point]) { require.NoError(t, w.Delete(3, 7)) }},
	{"Delete nothing", false, func(t testing.TB, w *MemVec[point]) { require.NoError(t, w.Delete(3, 3)) }},
	{"DeleteFunc", true, func(t testing.TB, w *MemVec[point]) {
		require.NoError(t, w.DeleteFunc(func(p point) bool { return int(p.X)%3 == 0 }))
	}},
	{"CompactFunc", true, func(t testing.TB, w *MemVec[point]) {
		require.NoError(t, w.CompactFunc(func(a, b point) bool { return int(a.X)/10 == int(b.X)/10 }))
	}},
	{"CompactFunc of nothing equal", false, func(t testing.TB, w *MemVec[point]) {
		require.NoError(t, w.CompactFunc(func(a, b point) bool { return false }))
	}},
	{"Replace", true, func(t testing.TB, w *MemVec[point]) { require.NoError(t, w.Replace(2, 4, pts(97, 98, 99)...)) }},
	{"Replace at the end", false, func(t testing.TB, w *MemVec[point]) { require.NoError(t, w.Replace(w.Len(), w.Len(), pt(99))) }},
	{"Resize down", true, func(t testing.TB, w *MemVec[point]) { require.NoError(t, w.Resize(5)) }},
	{"Resize up", false, func(t testing.TB, w *MemVec[point]) { require.NoError(t, w.Resize(w.Len()+5)) }},
	{"AppendSeq", false, func(t testing.TB, w *MemVec[point]) { require.NoError(t, w.AppendSeq(slices.Values(pts(1, 2, 3)))) }},
	{"AppendInPlace", false, func(t testing.TB, w *MemVec[point]) {
		require.NoError(t, w.AppendInPlace(2, func(s []point) int { s[0] = pt(5); return 1 }))
	}},
	{"Truncate and Push back", true, func(t testing.TB, w *MemVec[point]) {
		w.Truncate(5)
		require.NoError(t, w.Append(pts(95, 96, 97, 98, 99)...))
	}},
}

// TestFollowerSeesWriterOps: after each operation of the writer, a follower
// refreshes to the writer's contents, and is told of a rewrite exactly when
// elements it could see changed or went; reading what it saw before the
// Refresh never faults, even after a Clip.
func TestFollowerSeesWriterOps(t *testing.T) {
	for _, tt := range writerOps {
		t.Run(tt.name, func(t *testing.T) {
			path := vecPath(t)
			w := openVec[point](t, path)
			require.NoError(t, w.Append(pts(seq(opsLen)...)...))
			f := follow[point](t, path)
			before := f.Slice()
			tt.op(t, w)
			var sum float64 // the pages under the old view are still there
			for _, p := range before {
				sum += p.X // rewritten or not: what matters is the read
			}
			require.False(t, math.IsNaN(sum))
			refreshed(t, f, tt.rewritten)
			require.Equal(t, w.Slice(), f.Slice())
			refreshed(t, f, false) // reported once
		})
	}
}

// TestClipKeepsFileWhileFollowed: a writer does not truncate the file
// while a follower is attached, since the follower may still read the
// bytes; once none is, Clip truncates (where the writer can tell).
func TestClipKeepsFileWhileFollowed(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(seq(1000)...)...))
	size := fileSize(t, path)
	f := follow[point](t, path)
	view := f.Slice()

	w.Truncate(10)
	err := w.Clip()
	require.ErrorIs(t, err, ErrFollowed, "Clip says that it could not cut the file")
	require.ErrorContains(t, err, fmt.Sprintf("memvec: clip %s: the capacity is down to 10 elements, but the file keeps its %d bytes", path, size))
	require.Equal(t, 10, w.Cap(), "the writer's capacity is clipped all the same")
	require.Equal(t, size, fileSize(t, path), "the file was truncated under a follower")
	for i, x := range view { // would fault if the file had been truncated
		require.Equal(t, pt(i), x)
	}
	require.NoError(t, w.Push(pt(10)), "growing back into the bytes kept")
	require.Equal(t, size, fileSize(t, path))

	require.NoError(t, f.Close())
	w.Truncate(5)
	err = w.Clip()
	if followersDetectable {
		require.NoError(t, err, "no follower is left: Clip truncates")
		require.Equal(t, int64(ptOff+5*24), fileSize(t, path), "no follower is left: Clip truncates")
	} else {
		require.ErrorIs(t, err, ErrFollowed, "the writer cannot see followers here: it never truncates, and says so")
		require.Equal(t, size, fileSize(t, path), "the writer cannot see followers here: it never truncates")
	}
	require.NoError(t, w.Close())
	v := openVec[point](t, path)
	require.Equal(t, pts(0, 1, 2, 3, 4), v.Slice())
}

// TestGenerationLeftOddByDeadWriter: a writer that died in the middle of a
// rewrite leaves the generation odd; followers are told of a rewrite at
// every Refresh until a new writer opens, which makes it even again.
func TestGenerationLeftOddByDeadWriter(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(1, 2)...))
	f := follow[point](t, path)
	w.beginRewrite() // and no end: what a kill in the middle of Set leaves
	require.NoError(t, w.Close())
	refreshed(t, f, true)
	refreshed(t, f, true)
	w = openVec[point](t, path)
	require.Zero(t, w.word64(format.OffGeneration).Load()&1)
	refreshed(t, f, true)
	refreshed(t, f, false)
	require.Equal(t, pts(1, 2), f.Slice())
}

// TestWaitReturnsWhenPublished: Wait returns at once when the writer has
// published more than n, and otherwise when it does.
func TestWaitReturnsWhenPublished(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(0, 1, 2)...))
	f := follow[point](t, path)
	n, err := f.Wait(context.Background(), 2)
	require.NoError(t, err)
	require.Equal(t, 3, n)

	addr := wakeAddr(f)
	done := make(chan error, 1)
	go func() {
		_, err := f.Wait(context.Background(), 3)
		done <- err
	}()
	awaitFollowerAsleep(t, addr) // so that the wake-up, not the spin, is tested
	require.NoError(t, w.Push(pt(3)))
	require.NoError(t, awaitDone(t, done))
	require.Equal(t, pts(0, 1, 2, 3), f.Slice())
	require.Zero(t, w.wake().Load()&1, "the Push cleared the wake bit")
}

// TestWaitReportsRewriteWhileWaiting: a rewrite during a Wait is reported
// by the Wait that returns after it.
func TestWaitReportsRewriteWhileWaiting(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(0, 1, 2)...))
	f := follow[point](t, path)
	w.Truncate(1)
	_, err := f.Refresh() // sees the truncation...
	require.ErrorIs(t, err, ErrRewritten)
	w.Set(0, pt(9)) // ... and a Set while it waits for more than 1
	require.NoError(t, w.Push(pt(1)))
	n, err := f.Wait(context.Background(), 1)
	require.ErrorIs(t, err, ErrRewritten)
	require.Equal(t, 2, n)
	require.Equal(t, pts(9, 1), f.Slice())
}

// TestWaitEndsWithContext: a cancelled or expired context ends a Wait with
// its error, with or without a writer.
func TestWaitEndsWithContext(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Push(pt(0)))
	f := follow[point](t, path)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := f.Wait(ctx, 1)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, path)
	require.Equal(t, 1, n)

	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = f.Wait(ctx, 1)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// A cancel while the follower sleeps wakes it.
	ctx, cancel = context.WithCancel(context.Background())
	addr := wakeAddr(f)
	done := make(chan error, 1)
	go func() {
		_, err := f.Wait(ctx, 1)
		done <- err
	}()
	awaitFollowerAsleep(t, addr)
	cancel()
	require.ErrorIs(t, awaitDone(t, done), context.Canceled)

	require.NoError(t, w.Close()) // no writer at all
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = f.Wait(ctx, 1)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	n, err = f.Wait(context.Background(), 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// TestRefreshAndWaitOfNonFollowers: a writer or a ReadOnly reader refreshes
// to its own length; Wait cannot wait for what no one else adds.
func TestRefreshAndWaitOfNonFollowers(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			v := filled(t, b.open, 3)
			n, err := v.Refresh()
			require.NoError(t, err)
			require.Equal(t, 3, n)
			n, err = v.Wait(context.Background(), 2)
			require.NoError(t, err)
			require.Equal(t, 3, n)
			n, err = v.Wait(context.Background(), 3)
			require.ErrorContains(t, err, "not a follower")
			require.Equal(t, 3, n)
			require.NoError(t, v.Close())
			_, err = v.Refresh()
			require.ErrorIs(t, err, ErrClosed)
			_, err = v.Wait(context.Background(), 0)
			require.ErrorIs(t, err, ErrClosed)
		})
	}
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Push(pt(1)))
	require.NoError(t, w.Close())
	r := openVec[point](t, path, ReadOnly())
	n, err := r.Refresh()
	require.NoError(t, err)
	require.Equal(t, 1, n)
	f := follow[point](t, path)
	require.NoError(t, f.Close())
	_, err = f.Refresh()
	require.ErrorIs(t, err, ErrClosed)
	_, err = f.Wait(context.Background(), 5)
	require.ErrorIs(t, err, ErrClosed)
}

// TestFollowerGoroutines: a writer goroutine and follower goroutines, each
// with its own handle, need no locks: run under -race, the detector stays
// quiet, and every follower sees every element in order.
func TestFollowerGoroutines(t *testing.T) {
	const n = 200_000
	path := vecPath(t)
	w := openVec[crashRec](t, path)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 3 {
		f := follow[crashRec](t, path)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- verifyFollowing(f, n)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range uint64(n) {
			if err := w.Push(makeCrashRec(i)); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// verifyFollowing follows f until it has seen n elements, checking each
// one as it arrives; a rewrite, a torn element or an error fails it.
func verifyFollowing(f *MemVec[crashRec], n int) error {
	seen := f.Len()
	for i := range seen {
		if x := f.Index(i); x != makeCrashRec(uint64(i)) {
			return errors.New("torn element at open")
		}
	}
	for seen < n {
		m, err := f.Wait(context.Background(), seen)
		if err != nil {
			return err
		}
		for i, x := range f.Slice()[seen:m] {
			if x != makeCrashRec(uint64(seen+i)) {
				return errors.New("torn or wrong element " + filepath.Base(f.mem.(*File).Name()))
			}
		}
		seen = m
	}
	return nil
}

// TestCloseEndsWait: a Close from another goroutine ends a Wait under way,
// sleeping or polling, with ErrClosed, and unmaps nothing before the Wait
// is done with it: a Wait that touched the unmapped region or wake word
// would fault, killing the test binary (the race detector also checks the
// hand-over). A Wait after Close returns ErrClosed too.
func TestCloseEndsWait(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Push(pt(0)))
	for _, sleeps := range []bool{true, false} {
		f, err := Open[point](path, Follow())
		require.NoError(t, err)
		var addr uintptr
		if sleeps {
			addr = wakeAddr(f)
		} else {
			makePoll(f.mem.(*File))
		}
		done := make(chan error, 1)
		go func() {
			_, err := f.Wait(context.Background(), 1)
			done <- err
		}()
		if sleeps {
			awaitFollowerAsleep(t, addr)
		}
		require.NoError(t, f.Close())
		err = awaitDone(t, done)
		require.ErrorIs(t, err, ErrClosed)
		require.ErrorContains(t, err, path)
		_, err = f.Wait(context.Background(), 1)
		require.ErrorIs(t, err, ErrClosed)
	}
	// Many times, the Close landing at any point of the Wait.
	for range 500 {
		f, err := Open[point](path, Follow())
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() {
			_, err := f.Wait(context.Background(), 1)
			done <- err
		}()
		runtime.Gosched()
		require.NoError(t, f.Close())
		require.ErrorIs(t, <-done, ErrClosed)
	}
}

// TestCancelledWaitThenClose: a Wait whose context ends and a Close right
// after it, many times: the wake-up that the context's end starts must be
// over before Wait returns, or it writes the wake word after Close has
// unmapped it, a fault.
func TestCancelledWaitThenClose(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Push(pt(0)))
	for range 2000 {
		f, err := Open[point](path, Follow())
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := f.Wait(ctx, 1)
			done <- err
		}()
		runtime.Gosched()
		cancel()
		require.ErrorIs(t, awaitDone(t, done), context.Canceled)
		require.NoError(t, f.Close())
	}
}

// TestFollowerWakerIsStoppedBeforeTheRegionChanges: whatever may move or
// unmap a writer's region (a growth, a Clip, Close) first waits for the
// goroutine that wakes the followers Push left asleep (followerWaker) to
// finish its wake-up, which goes through an address in the region, and
// the goroutine has returned: no wake-up lands on whatever is mapped there
// next, and no goroutine is left.
func TestFollowerWakerIsStoppedBeforeTheRegionChanges(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(v *MemVec[point]) error
	}{
		{"Grow", func(v *MemVec[point]) error { return v.Grow(1 << 20) }},
		{"Clip", func(v *MemVec[point]) error { return v.Clip() }},
		{"Close", func(v *MemVec[point]) error { return v.Close() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := openVec[point](t, vecPath(t))
			require.NoError(t, v.Append(pts(seq(10)...)...))
			hold, held := make(chan struct{}), make(chan struct{})
			var woken atomic.Int32
			v.waker.wakeAll = func(w *atomic.Uint32) int {
				close(held)
				<-hold
				woken.Add(1)
				return 0
			}
			release := sync.OnceFunc(func() { close(hold) })
			defer release() // also if the test fails, so that the cleanup's Close returns
			v.waker.wakeRest(v.wake(), 0)
			<-held // the goroutine is in its wake-up

			changed := make(chan error, 1)
			go func() { changed <- c.change(v) }()
			for !wakerStopWaits() {
				select {
				case err := <-changed:
					require.NoError(t, err)
					t.Fatal("the region changed while a goroutine woke followers through it")
				default:
					runtime.Gosched()
				}
			}
			release()
			require.NoError(t, <-changed)
			require.Equal(t, int32(1), woken.Load())
			require.False(t, v.waker.started.Load())
		})
	}
}

// wakerStopWaits reports whether a goroutine is blocked in
// followerWaker.stop, waiting for a wake-up to end.
func wakerStopWaits() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("[sync.WaitGroup.Wait")) && bytes.Contains(g, []byte("(*followerWaker).stop(")) {
			return true
		}
	}
	return false
}
