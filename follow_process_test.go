//go:build unix || windows

package memvec

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/memvec/memvec/internal/region"
	"github.com/stretchr/testify/require"
)

func init() {
	children["follow"] = followChild
	children["pushto"] = pushToChild
	children["followops"] = followOpsChild
	children["followsleep"] = followSleepChild
}

// follow verifies, as a follower of the vector of crashRec at path, every
// element as it arrives, until it has seen target() elements (target
// returns -1 while it is not known yet) or ctx ends. It returns how many
// it verified and how many Waits returned. A rewrite, a torn or wrong
// element, or any error but the end of ctx fails it: the writers it
// follows only ever push.
func followAndVerify(ctx context.Context, f *MemVec[crashRec], target func() int) (seen, waits int, err error) {
	for i, x := range f.All() {
		if x != makeCrashRec(uint64(i)) {
			return i, 0, fmt.Errorf("element %d is %+v at open", i, x)
		}
	}
	seen = f.Len()
	for t := target(); t < 0 || seen < t; t = target() {
		m, err := f.Wait(ctx, seen)
		if err != nil {
			if ctx.Err() != nil && !errors.Is(err, ErrRewritten) {
				break // the target is known now: look again
			}
			return seen, waits, err
		}
		waits++
		for i, x := range f.Slice()[seen:m] {
			if x != makeCrashRec(uint64(seen+i)) {
				return seen + i, waits, fmt.Errorf("element %d of %d is %+v", seen+i, m, x)
			}
		}
		seen = m
	}
	return seen, waits, nil
}

// followTarget is how a follower learns when to stop: a target that is
// unknown (-1) until set, and a context that ends when it is set, to end
// the Wait that is under way.
type followTarget struct {
	mu     sync.Mutex
	n      int
	ctx    context.Context
	cancel context.CancelFunc
}

func newFollowTarget(n int) *followTarget {
	ctx, cancel := context.WithCancel(context.Background())
	return &followTarget{n: n, ctx: ctx, cancel: cancel}
}

func (ft *followTarget) get() int {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.n
}

func (ft *followTarget) set(n int) {
	ft.mu.Lock()
	ft.n = n
	ft.mu.Unlock()
	ft.cancel()
}

// followChild follows the vector of crashRec at $MEMVEC_PATH, verifying
// every element, says "following" once open, and, when a number arrives
// on its stdin, finishes at that many elements and says "verified N".
func followChild() {
	f, err := Open[crashRec](os.Getenv("MEMVEC_PATH"), Follow())
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("following")
	ft := newFollowTarget(-1)
	go func() {
		in := bufio.NewScanner(os.Stdin)
		if in.Scan() {
			n, _ := strconv.Atoi(in.Text())
			ft.set(n)
		}
	}()
	for {
		seen, _, err := followAndVerify(ft.ctx, f, ft.get)
		if err != nil {
			fmt.Println(err)
			os.Exit(childFailed)
		}
		if t := ft.get(); t >= 0 && seen >= t {
			fmt.Println("verified", seen)
			return
		}
		ft.ctx = context.Background() // the target came: wait for it without end
	}
}

// pushToChild opens the vector of crashRec at $MEMVEC_PATH, says "open",
// waits for a line on stdin, pushes makeCrashRec(i) from its length up to
// $MEMVEC_N, mixing Push and Append, and says "pushed".
func pushToChild() {
	v, err := Open[crashRec](os.Getenv("MEMVEC_PATH"))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	fmt.Println("open")
	bufio.NewScanner(os.Stdin).Scan()
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), 3))
	var batch []crashRec
	for i := v.Len(); i < n; {
		if r.IntN(10) == 0 {
			batch = batch[:0]
			for k := range min(1+r.IntN(maxCrashBatch), n-i) {
				batch = append(batch, makeCrashRec(uint64(i+k)))
			}
			err = v.Append(batch...)
			i += len(batch)
		} else {
			err = v.Push(makeCrashRec(uint64(i)))
			i++
		}
		if err != nil {
			fmt.Println(err)
			os.Exit(childFailed)
		}
	}
	fmt.Println("pushed")
}

// startFollowers starts k follower processes and g follower goroutines
// (each with its own handle) on the vector of crashRec at path, all open
// before it returns. finish tells them all to stop at n elements and
// requires that each verified exactly n.
func startFollowers(t *testing.T, path string, k, g int) (finish func(n int)) {
	t.Helper()
	var procs []*child
	for range k {
		c := startChild(t, "follow", "MEMVEC_PATH="+path)
		c.expect(t, "following")
		procs = append(procs, c)
	}
	type result struct {
		seen, waits int
		err         error
	}
	results := make(chan result, g)
	var targets []*followTarget
	for range g {
		f := follow[crashRec](t, path)
		ft := newFollowTarget(-1)
		targets = append(targets, ft)
		go func() {
			var r result
			for {
				var w int
				r.seen, w, r.err = followAndVerify(ft.ctx, f, ft.get)
				r.waits += w
				if r.err != nil || r.seen >= ft.get() && ft.get() >= 0 {
					break
				}
				ft.ctx = context.Background()
			}
			results <- r
		}()
	}
	return func(n int) {
		t.Helper()
		for _, c := range procs {
			fmt.Fprintln(c.stdin, n)
			c.expect(t, fmt.Sprint("verified ", n))
			c.release(t)
		}
		for _, ft := range targets {
			ft.set(n)
		}
		for range g {
			r := <-results
			require.NoError(t, r.err)
			require.Equal(t, n, r.seen)
			t.Logf("a follower goroutine verified %d elements in %d waits", r.seen, r.waits)
		}
	}
}

// TestFollowersVerifyTenMillionPushes: a writer process pushes 10,000,000
// elements (2,500,000 on 32-bit platforms) while follower processes and
// follower goroutines verify every one, in order, as it arrives.
func TestFollowersVerifyTenMillionPushes(t *testing.T) {
	n := 10_000_000
	if strconv.IntSize == 32 {
		// 10,000,000 elements fill a file of 1 GiB, which each of the two
		// follower goroutines maps whole, in one range: two such ranges do
		// not fit beside the Go runtime's in the 4 GiB of a 32-bit
		// process. 2,500,000 fill 256 MiB.
		n = 2_500_000
	}
	if testing.Short() {
		n = 500_000
	}
	path := vecPath(t)
	w := startChild(t, "pushto", "MEMVEC_PATH="+path, "MEMVEC_N="+strconv.Itoa(n))
	w.expect(t, "open") // the file exists: followers may open it
	finish := startFollowers(t, path, 2, 2)
	fmt.Fprintln(w.stdin, "go")
	w.expect(t, "pushed")
	w.release(t)
	finish(n)
}

// TestFollowersSurviveWriterKillNine kills a pushing writer at random
// moments, trial after trial, each trial's writer continuing where the
// killed one stopped, while follower processes and goroutines verify every
// element throughout: they never see a torn element, a rewrite or an
// error, and at the end they have seen every element of the file.
func TestFollowersSurviveWriterKillNine(t *testing.T) {
	trials := 20
	if testing.Short() {
		trials = 5
	}
	path := vecPath(t)
	v := openVec[crashRec](t, path) // the file must exist for the followers
	require.NoError(t, v.Close())
	finish := startFollowers(t, path, 2, 2)
	r := rand.New(rand.NewPCG(rand.Uint64(), 4))
	for range trials {
		c := startChild(t, "push", "MEMVEC_PATH="+path)
		target := 1 << r.IntN(15) // reports before the kill, log-uniform
		reached, drained := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(drained)
			i := 0
			for c.lines.Scan() {
				if i++; i == target {
					close(reached)
				}
			}
			if i < target { // the child ended early: its failure shows below
				close(reached)
			}
		}()
		<-reached
		c.kill(t, drained)
	}
	w, err := Open[crashRec](path, LockTimeout(killedLockWait))
	require.NoError(t, err, "a killed writer leaves no lock that keeps the next out")
	n := w.Len()
	require.NoError(t, w.Close())
	t.Logf("%d trials, %d elements", trials, n)
	finish(n)
}

// followOpsChild follows the vector of points at $MEMVEC_PATH and obeys
// its stdin: "touch" reads every element of the view it has (a fault, if
// the file had been truncated under it, kills it), "refresh" refreshes
// and says "N R H": the length, 1 if the writer rewrote, and a hash of
// the elements.
func followOpsChild() {
	f, err := Open[point](os.Getenv("MEMVEC_PATH"), Follow())
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("following")
	view := f.Slice()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "touch":
			var sum float64
			for _, p := range view {
				sum += p.X
			}
			fmt.Println("touched", len(view), sum)
		case "refresh":
			n, err := f.Refresh()
			rewritten := errors.Is(err, ErrRewritten)
			if err != nil && !rewritten {
				fmt.Println(err)
				os.Exit(childFailed)
			}
			view = f.Slice()
			fmt.Println(n, map[bool]int{false: 0, true: 1}[rewritten], pointsHash(view))
		}
	}
}

// pointsHash hashes the bytes of ps.
func pointsHash(ps []point) string {
	h := fnv.New64a()
	h.Write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(ps))), len(ps)*int(unsafe.Sizeof(point{}))))
	return strconv.FormatUint(h.Sum64(), 16)
}

// TestFollowerProcessSeesWriterOps: every operation of the writer, with a
// follower in another process: the follower first reads every element of
// the view it had (which would fault if the writer had truncated the file
// under it), then refreshes to the writer's contents, told of a rewrite
// exactly when elements it could see changed or went.
func TestFollowerProcessSeesWriterOps(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	c := startChild(t, "followops", "MEMVEC_PATH="+path)
	c.expect(t, "following")
	refresh := func(rewritten bool) {
		t.Helper()
		fmt.Fprintln(c.stdin, "refresh")
		c.expect(t, fmt.Sprintf("%d %d %s", w.Len(), map[bool]int{false: 0, true: 1}[rewritten], pointsHash(w.Slice())))
	}
	for _, tt := range writerOps {
		w.Clear()
		require.NoError(t, w.Append(pts(seq(opsLen)...)...))
		fmt.Fprintln(c.stdin, "refresh")
		require.True(t, c.lines.Scan())
		tt.op(t, w)
		fmt.Fprintln(c.stdin, "touch")
		require.True(t, c.lines.Scan(), "the follower died reading its view: %v", c.lines.Err())
		require.True(t, strings.HasPrefix(c.lines.Text(), fmt.Sprint("touched ", opsLen, " ")), c.lines.Text())
		refresh(tt.rewritten)
		refresh(false)
	}
	c.release(t)
}

// followSleepChild follows the vector of points at $MEMVEC_PATH, says the
// address of its wake word (0 where followers poll), and waits for more
// elements than it has, forever.
func followSleepChild() {
	f, err := Open[point](os.Getenv("MEMVEC_PATH"), Follow())
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Printf("%#x\n", uintptr(unsafe.Pointer(f.mem.(*File).wakeWord())))
	_, err = f.Wait(context.Background(), f.Len())
	fmt.Println(err)
	os.Exit(childFailed)
}

// TestKilledFollowerCostsWriterNothing kills a follower that sleeps in
// Wait. It leaves the wake word's bit set: the writer's next Push pays for
// one wake-up and clears it, and the Pushes after it find it clear. It
// leaves no lock: the writer's Clip truncates the file again (where a
// writer can see followers).
func TestKilledFollowerCostsWriterNothing(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(seq(1000)...)...))
	c := startChild(t, "followsleep", "MEMVEC_PATH="+path)
	require.True(t, c.lines.Scan())
	addr, err := strconv.ParseUint(strings.TrimPrefix(c.lines.Text(), "0x"), 16, 64)
	require.NoError(t, err, c.lines.Text())
	if region.CanSleep {
		awaitSleeper(t, c.cmd.Process.Pid, uintptr(addr))
		require.Equal(t, uint32(1), w.wake().Load()&1, "the sleeping follower set the wake bit")
	}
	c.kill(t, nil)

	before := w.wake().Load()
	require.NoError(t, w.Push(pt(1000)))
	after := w.wake().Load()
	require.Zero(t, after&1)
	if region.CanSleep {
		require.Equal(t, before+1, after, "one wake-up, for the dead follower")
	}
	for i := 1001; i < 2000; i++ {
		require.NoError(t, w.Push(pt(i)))
	}
	require.Equal(t, after, w.wake().Load(), "no wake-up after that")

	w.Truncate(10)
	if followersDetectable {
		requireClipTruncates(t, w, path)
	}
}

// requireClipTruncates requires that w's Clip truncates its file at path
// to the elements it holds: that no follower is attached any more. A
// killed follower's lock goes at once on Unix, and within killedLockWait
// on Windows.
func requireClipTruncates(t *testing.T, w *MemVec[point], path string) {
	t.Helper()
	want := int64(ptOff + w.Len()*int(unsafe.Sizeof(point{})))
	deadline := time.Now().Add(killedLockWait)
	for {
		if err := w.Clip(); err != nil {
			require.ErrorIs(t, err, ErrFollowed) // the follower's lock, not yet gone
		}
		if fileSize(t, path) == want || !time.Now().Before(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.Equal(t, want, fileSize(t, path), "a dead follower still keeps the file from being truncated")
}
