package memvec

import (
	"bytes"
	"runtime"
	"slices"
	"sync"
	"testing"
	"unsafe"

	"github.com/memvec/memvec/internal/region"
	"github.com/stretchr/testify/require"
)

// faultLog records the chunks a pretoucher faults in, as offsets into
// region, and can hold the helper in its first chunk past the caller's
// window.
type faultLog struct {
	region []byte
	window int // the end of the caller's window: only the helper claims past it

	hold chan struct{} // if set, the first chunk past window waits for it to close
	held chan struct{} // closed when that chunk is entered

	mu      sync.Mutex
	chunks  [][2]int
	waiting bool // a chunk waited on hold
}

func (l *faultLog) populate(b []byte) {
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(l.region))))
	l.mu.Lock()
	l.chunks = append(l.chunks, [2]int{off, off + len(b)})
	wait := off >= l.window && l.hold != nil && !l.waiting
	l.waiting = l.waiting || wait
	l.mu.Unlock()
	if wait {
		close(l.held)
		<-l.hold
	}
}

// faulted returns the chunks faulted in so far, sorted.
func (l *faultLog) faulted() [][2]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := slices.Clone(l.chunks)
	slices.SortFunc(c, func(a, b [2]int) int { return a[0] - b[0] })
	return c
}

// TestPretoucherSharesTheWindow: by the time stop returns, every page of
// the windows prefault was asked for is faulted in, each chunk once, and
// the helper went no further than region.PrefaultWindow past the last window.
func TestPretoucherSharesTheWindow(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	mapped := make([]byte, 64<<20)
	l := &faultLog{region: mapped, window: len(mapped)}
	p := &region.Pretoucher{Populate: l.populate}
	const windows = 5
	for w := range windows {
		p.Prefault(mapped, w*region.PrefaultWindow, region.PrefaultWindow)
	}
	p.Stop()
	require.False(t, p.HelperRuns(), "the helper returned before stop")
	c := l.faulted()
	require.NotEmpty(t, c)
	require.Zero(t, c[0][0], "from the first page")
	for i := 1; i < len(c); i++ {
		require.Equal(t, c[i-1][1], c[i][0], "chunks %v: one after the other, none twice", c)
	}
	last := c[len(c)-1][1]
	require.GreaterOrEqual(t, last, windows*region.PrefaultWindow, "every window faulted in")
	require.LessOrEqual(t, last, windows*region.PrefaultWindow+region.PrefaultWindow, "no further than region.PrefaultWindow past the last")
	for _, ch := range c {
		require.LessOrEqual(t, ch[1]-ch[0], region.PretouchChunk)
	}

	// After stop, prefault starts a new cursor: the region may have been
	// resized or moved, so nothing claimed before counts.
	l.chunks = nil
	p.Prefault(mapped, 0, pageSize)
	p.Stop()
	require.Zero(t, l.faulted()[0][0], "a new cursor, from the window asked for")
}

// TestPretoucherAloneWithOneProc: when the program runs one goroutine at a
// time, prefault faults its window in itself, in one call, and starts no
// helper, which could only wait for the caller's CPU.
func TestPretoucherAloneWithOneProc(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	mapped := make([]byte, 8<<20)
	l := &faultLog{region: mapped, window: len(mapped)}
	p := &region.Pretoucher{Populate: l.populate}
	p.Prefault(mapped, region.PrefaultWindow, region.PrefaultWindow)
	require.False(t, p.HelperRuns(), "a helper was started")
	p.Stop()
	require.Equal(t, [][2]int{{region.PrefaultWindow, 2 * region.PrefaultWindow}}, l.faulted())
}

// TestPretoucherIsStoppedBeforeTheRegionChanges: whatever changes a
// region's mapping (a resize, a hint that drops pages, Close) first waits
// for the helper to finish the chunk it is faulting in, and the helper
// has returned: no page is faulted in behind the change, where the region
// may be smaller, or unmapped and mapped again by something else, and no
// goroutine is left.
func TestPretoucherIsStoppedBeforeTheRegionChanges(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	type subject struct {
		touch  *region.Pretoucher
		region []byte
		change func() error
	}
	anon := func(change func(a *Anon) error) func(t *testing.T) subject {
		return func(t *testing.T) subject {
			a, err := NewAnon(16 << 20)
			require.NoError(t, err)
			t.Cleanup(func() { a.Close() })
			return subject{&a.touch, unsafe.Slice(a.r.Base(), a.r.Mapped()), func() error { return change(a) }}
		}
	}
	file := func(change func(f *File) error) func(t *testing.T) subject {
		return func(t *testing.T) subject {
			f, err := OpenFile(vecPath(t))
			require.NoError(t, err)
			t.Cleanup(func() { f.Close() })
			require.NoError(t, f.Resize(16<<20))
			return subject{&f.touch, f.Bytes(), func() error { return change(f) }}
		}
	}
	dontNeed := func(h hinter, b []byte) error {
		return h.hint(region.HintDontNeed, b[:pageSize])
	}
	for _, c := range []struct {
		name string
		open func(t *testing.T) subject
	}{
		{"Anon.Resize", anon(func(a *Anon) error { return a.Resize(pageSize) })},
		{"Anon.DontNeed", anon(func(a *Anon) error { return dontNeed(a, a.Bytes()) })},
		{"Anon.Close", anon(func(a *Anon) error { return a.Close() })},
		{"File.Resize", file(func(f *File) error { return f.Resize(pageSize) })},
		{"File.DontNeed", file(func(f *File) error { return dontNeed(f, f.Bytes()) })},
		{"File.Close", file(func(f *File) error { return f.Close() })},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.open(t)
			l := &faultLog{region: s.region, window: region.PrefaultWindow, hold: make(chan struct{}), held: make(chan struct{})}
			s.touch.Populate = l.populate
			release := sync.OnceFunc(func() { close(l.hold) })
			defer release() // also if the test fails, so that the cleanup's Close returns
			s.touch.Prefault(s.region, 0, region.PrefaultWindow)
			<-l.held // the helper is in its first chunk past the window

			changed := make(chan error, 1)
			go func() { changed <- s.change() }()
			for !stopWaits() {
				select {
				case err := <-changed:
					require.NoError(t, err)
					t.Fatal("the region changed while the helper was faulting its pages in")
				default:
					runtime.Gosched()
				}
			}
			before := len(l.faulted())
			release()
			require.NoError(t, <-changed)
			require.False(t, s.touch.HelperRuns(), "the helper returned before the change")
			require.Len(t, l.faulted(), before, "a chunk faulted in after the change")
		})
	}
}

// stopWaits reports whether a goroutine is blocked in Pretoucher.Stop,
// waiting for the helper to finish its chunk and return.
func stopWaits() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("[sync.WaitGroup.Wait")) && bytes.Contains(g, []byte("(*Pretoucher).Stop(")) {
			return true
		}
	}
	return false
}
