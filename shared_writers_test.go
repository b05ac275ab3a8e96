//go:build linux || windows

package memvec

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func init() {
	children["sharedpush"] = sharedPushChild
	children["sharedcount"] = sharedCountChild
}

// sharedRec is the element Shared writers push in the tests: 24 bytes,
// the writer, its sequence number, the element's place in its Append, and
// a check of the three, so that a torn or mixed element shows.
type sharedRec struct {
	W, Seq uint32
	Pos    uint32 // the element's index in its Append
	Len    uint32 // the Append's length
	Check  uint64
}

func makeSharedRec(w, seq, pos, n uint32) sharedRec {
	r := sharedRec{W: w, Seq: seq, Pos: pos, Len: n}
	r.Check = uint64(w)*0x9E3779B97F4A7C15 ^ uint64(seq)*0xC2B2AE3D27D4EB4F ^ uint64(pos)<<40 ^ uint64(n)<<52
	return r
}

// sharedPushChild opens $MEMVEC_PATH Shared and pushes $MEMVEC_N elements
// as writer $MEMVEC_W: single Pushes and Appends of 2 to 8 elements, in
// its own order. After each, it checks that it sees its elements at once,
// at the end of the vector. It prints "ready", waits for a byte on its
// stdin, pushes, prints "done" and closes.
func sharedPushChild() {
	path := os.Getenv("MEMVEC_PATH")
	w64, _ := strconv.ParseUint(os.Getenv("MEMVEC_W"), 10, 32)
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	w := uint32(w64)
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(childFailed)
	}
	if os.Getenv("MEMVEC_BIG") != "" {
		// Long inside each push, its elements written and not yet
		// counted: a kill is likely to find it there, holding the lock.
		sharedPushing = func() { time.Sleep(time.Millisecond) }
	}
	v, err := Open[sharedRec](path, Shared(), LockTimeout(time.Minute))
	if err != nil {
		fail("%v", err)
	}
	fmt.Println("ready")
	var b [1]byte
	os.Stdin.Read(b[:])
	rng := rand.New(rand.NewPCG(uint64(w), 1))
	batch := make([]sharedRec, 0, 4000)
	for seq := 0; seq < n; {
		k := 1
		switch {
		case os.Getenv("MEMVEC_BIG") != "":
			// Long Appends: a kill is likely to find it inside one.
			k = min(1+rng.IntN(4000), n-seq)
		case rng.IntN(4) == 0:
			k = min(2+rng.IntN(7), n-seq)
		}
		batch = batch[:0]
		for i := range k {
			batch = append(batch, makeSharedRec(w, uint32(seq+i), uint32(i), uint32(k)))
		}
		if k == 1 {
			err = v.Push(batch[0])
		} else {
			err = v.Append(batch...)
		}
		if err != nil {
			fail("push %d: %v", seq, err)
		}
		if got := v.Index(v.Len() - 1); got != batch[k-1] {
			fail("after push %d, the last element is %+v, not this writer's", seq, got)
		}
		seq += k
		if seq%1000 < k {
			fmt.Println("progress", seq)
		}
	}
	fmt.Println("done")
	io.Copy(io.Discard, os.Stdin)
	if err := v.Close(); err != nil {
		fail("%v", err)
	}
}

// checkSharedRecs checks the elements of Shared writers: each whole, each
// Append's elements together and in order, each writer's sequence numbers
// in order with none twice. It returns how many each writer has.
func checkSharedRecs(t *testing.T, recs []sharedRec) map[uint32]int {
	t.Helper()
	next := map[uint32]uint32{}
	for i, r := range recs {
		require.Equal(t, makeSharedRec(r.W, r.Seq, r.Pos, r.Len), r, "element %d is not whole", i)
		require.Equal(t, next[r.W], r.Seq, "element %d: writer %d's elements out of order, or one lost or twice", i, r.W)
		if r.Pos > 0 {
			require.Equal(t, makeSharedRec(r.W, r.Seq-1, r.Pos-1, r.Len), recs[i-1], "element %d: its Append is not contiguous", i)
		}
		next[r.W] = r.Seq + 1
	}
	counts := map[uint32]int{}
	for w, n := range next {
		counts[w] = int(n)
	}
	return counts
}

// TestSharedWritersAppend has 4 processes push 200,000 elements each to
// one file at once, Shared: every element lands once and whole, each
// writer's in its order, each Append contiguous; a follower beside them
// sees a prefix of the same at every Refresh.
func TestSharedWritersAppend(t *testing.T) {
	const writers, each = 4, 200_000
	path := filepath.Join(tempDir(t), "s.vec")
	var kids []*child
	for w := range writers {
		c := startChild(t, "sharedpush", "MEMVEC_PATH="+path, "MEMVEC_W="+strconv.Itoa(w+1), "MEMVEC_N="+strconv.Itoa(each))
		c.expect(t, "ready")
		kids = append(kids, c)
	}
	f, err := Open[sharedRec](path, Follow())
	require.NoError(t, err)
	defer f.Close()
	for _, c := range kids {
		_, err := c.stdin.Write([]byte("g"))
		require.NoError(t, err)
	}
	done := make(chan struct{})
	var followed atomic.Int64
	go func() {
		defer close(done)
		for range 200 {
			n, err := f.Refresh()
			if err != nil {
				t.Error(err)
				return
			}
			for i, r := range f.Slice()[:n] {
				if r != makeSharedRec(r.W, r.Seq, r.Pos, r.Len) {
					t.Errorf("the follower sees element %d torn: %+v", i, r)
					return
				}
			}
			followed.Store(int64(n))
			time.Sleep(time.Millisecond)
		}
	}()
	for _, c := range kids {
		for c.lines.Scan() && c.lines.Text() != "done" {
			require.Regexp(t, `^progress \d+$`, c.lines.Text())
		}
		require.Equal(t, "done", c.lines.Text())
	}
	<-done
	for _, c := range kids {
		c.release(t)
	}
	v, err := Open[sharedRec](path, ReadOnly())
	require.NoError(t, err)
	defer v.Close()
	require.Equal(t, writers*each, v.Len())
	counts := checkSharedRecs(t, v.Slice())
	for w := range writers {
		require.Equal(t, each, counts[uint32(w+1)], "writer %d", w+1)
	}
	t.Logf("the follower saw up to %d elements", followed.Load())
}

// sharedCountChild opens $MEMVEC_PATH Shared and adds 1 to element 0, an
// atomic.Uint64, $MEMVEC_N times.
func sharedCountChild() {
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	v, err := Open[atomic.Uint64](os.Getenv("MEMVEC_PATH"), Shared(), LockTimeout(time.Minute))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("ready")
	var b [1]byte
	os.Stdin.Read(b[:])
	c := &v.Slice()[0]
	for range n {
		c.Add(1)
	}
	fmt.Println("done")
	if err := v.Close(); err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
}

// TestSharedCounters: processes that open one file Shared count exactly
// with Add on an atomic.Uint64 element, with no other lock.
func TestSharedCounters(t *testing.T) {
	const procs, each = 4, 1_000_000
	path := filepath.Join(tempDir(t), "c.vec")
	v, err := Open[atomic.Uint64](path, Shared())
	require.NoError(t, err)
	require.NoError(t, v.Append(atomic.Uint64{}))
	var kids []*child
	for range procs {
		c := startChild(t, "sharedcount", "MEMVEC_PATH="+path, "MEMVEC_N="+strconv.Itoa(each))
		c.expect(t, "ready")
		kids = append(kids, c)
	}
	for _, c := range kids {
		_, err := c.stdin.Write([]byte("g"))
		require.NoError(t, err)
	}
	for _, c := range kids {
		c.expect(t, "done")
		c.release(t)
	}
	require.Equal(t, uint64(procs*each), v.Slice()[0].Load())
	require.NoError(t, v.Close())
}

// sharedStallMax bounds, in the kill test, how long a surviving writer may
// make no progress: a dead holder is seen at once on Linux (its slot byte
// is released with the process), so what is left is the machine's load;
// Windows releases a dead process's locks "in time".
var sharedStallMax = 2*time.Second + killedLockWait

// TestSharedWriterKilled kills a Shared writer at a random moment, often
// inside a long Append while it holds the append lock (its elements
// written, not yet counted), while three others
// push: the survivors finish, none stalls for longer than sharedStallMax,
// and the file holds every survivor's elements once and in order, and of
// the killed writer's a prefix of its sequence, whole.
func TestSharedWriterKilled(t *testing.T) {
	const survivors, each = 3, 20_000
	for trial := range 6 {
		path := filepath.Join(tempDir(t), fmt.Sprintf("k%d.vec", trial))
		victim := startChild(t, "sharedpush", "MEMVEC_PATH="+path, "MEMVEC_W=9", "MEMVEC_N=100000000", "MEMVEC_BIG=1")
		victim.expect(t, "ready")
		var kids []*child
		for w := range survivors {
			c := startChild(t, "sharedpush", "MEMVEC_PATH="+path, "MEMVEC_W="+strconv.Itoa(w+1), "MEMVEC_N="+strconv.Itoa(each))
			c.expect(t, "ready")
			kids = append(kids, c)
		}
		_, err := victim.stdin.Write([]byte("g"))
		require.NoError(t, err)
		require.True(t, victim.lines.Scan()) // its first progress: it pushes
		require.Regexp(t, `^progress \d+$`, victim.lines.Text())
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			for victim.lines.Scan() {
			}
		}()
		for _, c := range kids {
			_, err := c.stdin.Write([]byte("g"))
			require.NoError(t, err)
		}
		time.Sleep(time.Duration(rand.IntN(20_000)) * time.Microsecond) // a random moment
		victim.kill(t, drained)
		killed := time.Now()
		for w, c := range kids {
			last := killed
			for c.lines.Scan() && c.lines.Text() != "done" {
				now := time.Now()
				require.Less(t, now.Sub(last), sharedStallMax, "trial %d: writer %d stalled", trial, w+1)
				last = now
			}
			require.Equal(t, "done", c.lines.Text())
		}
		for _, c := range kids {
			c.release(t)
		}
		v, err := Open[sharedRec](path, ReadOnly())
		require.NoError(t, err)
		counts := checkSharedRecs(t, v.Slice())
		for w := range survivors {
			require.Equal(t, each, counts[uint32(w+1)], "trial %d: writer %d", trial, w+1)
		}
		t.Logf("trial %d: the killed writer left %d elements", trial, counts[9])
		require.NoError(t, v.Close())
	}
}

// TestSharedOpenBesideGrowth opens a Shared writer while another pushes and
// grows the file between the opener's mapping of it and its look at the
// header: the open counts every element, inside the append lock, rather
// than calling the file corrupt for counting more than its first mapping
// holds (which it did, often under Wine, where the growth is slower).
func TestSharedOpenBesideGrowth(t *testing.T) {
	if runtime.GOOS == "windows" {
		// Open, not yet understood: under Wine the second handle's open
		// faults reading its first mapping after the first handle (in
		// the same process) grew the file a thousandfold. Writers in
		// separate processes pass there (TestSharedWritersAppend,
		// examples/sharedlog), and so does a follower in this process
		// (TestFollowOpenBesideGrowth).
		t.Skip("known failure under Wine, under investigation: a same-process Shared open after a 1000x growth faults")
	}
	path := filepath.Join(tempDir(t), "g.vec")
	a, err := Open[sharedRec](path, Shared())
	require.NoError(t, err)
	defer a.Close()
	const n = 100_000 // 2.4 MB: far past the first mapping of a new file
	openingHook = func() {
		openingHook = nil
		for i := range n {
			require.NoError(t, a.Push(sharedRec{W: 1, Seq: uint32(i)}))
		}
	}
	defer func() { openingHook = nil }()
	b, err := Open[sharedRec](path, Shared())
	require.NoError(t, err)
	require.Equal(t, n, b.Len())
	require.Equal(t, sharedRec{W: 1, Seq: n - 1}, b.Slice()[n-1])
	require.NoError(t, b.Push(sharedRec{W: 2}))
	require.NoError(t, b.Close())
	got, err := a.Refresh()
	require.NoError(t, err)
	require.Equal(t, n+1, got)
}

// TestFollowOpenBesideGrowth: the same for a follower, whose writer pushes
// and grows the file between the follower's mapping of it and its look at
// the header.
func TestFollowOpenBesideGrowth(t *testing.T) {
	path := filepath.Join(tempDir(t), "g.vec")
	w, err := Open[sharedRec](path)
	require.NoError(t, err)
	defer w.Close()
	const n = 100_000
	openingHook = func() {
		openingHook = nil
		for i := range n {
			require.NoError(t, w.Push(sharedRec{W: 1, Seq: uint32(i)}))
		}
	}
	defer func() { openingHook = nil }()
	f, err := Open[sharedRec](path, Follow())
	require.NoError(t, err)
	require.Equal(t, n, f.Len())
	require.Equal(t, sharedRec{W: 1, Seq: n - 1}, f.Slice()[n-1])
	require.NoError(t, f.Close())
}
