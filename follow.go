package memvec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
)

// Followers: one writer, any number of live readers.
//
// A follower is a vector opened with Follow. It maps the file read-only
// and takes no lock that a writer waits on; the writer's handle does not
// change to let it in. What it sees is what the writer has published in
// three words of the header (FORMAT.md, "Following a writer"):
//
//   - the length, stored atomically after the elements it counts, so a
//     follower that loads it and then reads the elements sees them whole;
//   - the generation, which the writer increments before and after every
//     operation that changes or drops elements a follower may see (a
//     seqlock: odd while such an operation is under way), so a follower
//     knows at its next Refresh that what it read may have changed;
//   - the wake word, whose bit 0 a follower sets before it sleeps in Wait:
//     the writer's Push loads it after the length, and only when the bit
//     is set does it clear it and wake the sleepers (a futex on Linux), so
//     a Push that no follower waits for costs one load more than before.
//
// Between two calls of Refresh or Wait a follower's view does not change:
// its Len, Index, Slice and iterators read a length the follower keeps in
// its own handle, so the follower's code needs no locks.
//
// A follower must never fault, whatever the writer does. The writer's
// elements only ever grow into space the file already has (growth reserves
// the blocks and extends the file before the length counts them), so the
// one danger is a writer that shrinks the file (Clip) under a follower that
// still reads elements past the new end. The writer therefore does not
// truncate the file while a follower is attached: each follower holds a
// shared byte-range lock (an open-file-description lock on Linux, LockFileEx
// on Windows) on one byte at FollowerLockOffset (region layer), which the writer tests
// before it truncates, and which the kernel drops when the follower closes
// or dies. A shrink with followers attached shrinks the region and keeps
// the file's bytes. Where the kernel has no such per-descriptor lock
// (macOS, the BSDs, Solaris: their fcntl locks belong to the process and
// interact with flock), the writer cannot see followers and never truncates
// the file. See File.Resize.

// Follow opens the file as a follower: read-only, beside a writer. A
// follower takes no lock that a writer waits on, and waits on none: the
// open succeeds whether or not a writer holds the file, and a writer opens
// while followers follow it. The file must exist (a missing one is an
// error wrapping fs.ErrNotExist); it may still be empty, or hold no header
// yet, if its writer is creating it: the follower is then empty until a
// Refresh finds the header.
//
// A follower sees the elements the writer had published when the follower
// opened, or when it last called Refresh or Wait; its Len, Index, Slice and
// iterators do not change in between. Every element it sees is whole: the
// writer stores the length after the elements it counts. Refresh and Wait
// return an error wrapping ErrRewritten when the writer has changed or
// dropped elements the follower could see (Set, Insert, Remove, SwapRemove,
// Pop, Truncate, Clear and the like); an element read while the writer
// rewrote it may have been torn, so re-read what matters. Writes through
// Slice are invisible to this: a writer that changes elements through a
// view must tell its followers some other way.
//
// Its mutators behave as those of a ReadOnly vector, and writing through
// its views faults. A follower writes nothing to the file but one word of
// the header, the wake word, when it sleeps in Wait (and then only if the
// file is writable for it; otherwise Wait polls).
//
// Follow cannot be combined with ReadOnly or LockTimeout: OpenFile returns
// an error. On Unix, Reserve applies: a follower's view grows in place up to
// it, like a writer's (see the package documentation on views). On Windows a
// view cannot grow: a Refresh or Wait that finds the file grown past the
// follower's view maps it anew and unmaps the old one, so views taken
// before it are invalid after it; and a follower's open may wait a few
// milliseconds while a writer checks for followers (File.Resize).
func Follow() Option {
	return func(o *options) { o.follow = true }
}

// follower is the state a vector opened with Follow keeps in its handle.
type follower struct {
	// gen is the generation read at the last Refresh: a Refresh that
	// finds another reports ErrRewritten.
	gen uint64
	// pending is set while the file has no header yet: its writer has not
	// written it. Every Refresh looks again.
	pending bool
	// fence is a word of the follower's own, for the read-modify-write
	// that orders the reads of elements before the read of the
	// generation (see snapshot).
	fence atomic.Uint32

	// A Close from another goroutine ends the Waits under way before it
	// unmaps anything (see Wait): closed ends when Close begins, which
	// wakes a sleeping Wait, and Close then waits, under mu, until
	// waiting is 0 again.
	mu      sync.Mutex
	idle    sync.Cond // signalled when waiting drops
	waiting int       // Waits under way
	closing bool      // Close has begun: no Wait may start
	closed  context.Context
	close   context.CancelFunc

	// opts are the options of a follower of a container of more than
	// one file (a Bytes), for the files it opens once the first has a
	// header.
	opts options
}

// newFollower returns the follower state of a vector whose region has a
// header, or has none yet (pending).
func newFollower(pending bool) *follower {
	f := &follower{pending: pending}
	f.idle.L = &f.mu
	f.closed, f.close = context.WithCancel(context.Background())
	return f
}

// enterWait counts a Wait in, or reports false if Close has begun.
func (f *follower) enterWait() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing {
		return false
	}
	f.waiting++
	return true
}

// leaveWait counts a Wait out.
func (f *follower) leaveWait() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waiting--
	f.idle.Broadcast()
}

// endWaits keeps any Wait from starting, wakes those under way, and
// returns once they have returned: Close may then unmap the region and the
// wake word they used.
func (f *follower) endWaits() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closing = true
	f.close()
	for f.waiting > 0 {
		f.idle.Wait()
	}
}

// followedMemory is implemented by a Memory that can be opened with Follow
// (a *File).
type followedMemory interface {
	// following reports whether it was opened with Follow.
	following() bool
	// followTo makes Bytes cover at least size bytes, if the file has
	// them, and returns an error wrapping ErrCorrupt if it does not.
	followTo(size int) error
	// wakeWord returns the header's wake word, writable, or nil when the
	// follower cannot write it: Wait then polls. The header must exist.
	wakeWord() *atomic.Uint32
}

// following returns mem as a followedMemory if it was opened with Follow.
func following(mem Memory) (followedMemory, bool) {
	fm, ok := mem.(followedMemory)
	return fm, ok && fm.following()
}

// Refresh catches up with the writer: the vector's length becomes the one
// the writer has published, and Len, Index, Slice and the iterators show
// the elements up to it from then on. It returns the new length. It is
// O(1): nothing is read but three words of the header (and, when the file
// grew past what the follower maps, its size).
//
// If the writer has, since the follower's previous Refresh or Wait (or its
// open), changed or dropped elements the follower could see, or is doing
// so now, Refresh still refreshes and returns an error wrapping
// ErrRewritten: what was read in between may have changed. It returns
// ErrTypeMismatch or ErrCorrupt if the header the writer has written since
// the follower opened an empty file does not fit T, and an error wrapping
// ErrCorrupt, without refreshing, if the header counts more elements than
// the file holds.
//
// If another program has cut the file below the header, Refresh returns
// an error wrapping ErrFileChanged, without refreshing: its loads of the
// header fault, and the fault is an error here, not the end of the program
// (see ErrFileChanged).
//
// On a vector that is not a follower, Refresh returns (Len(), nil); after
// Close, (0, ErrClosed).
func (v *MemVec[T]) Refresh() (n int, err error) {
	if v.closed {
		return 0, v.wrap("refresh", ErrClosed)
	}
	if v.shared != nil {
		return v.refreshShared()
	}
	n = len(v.s)
	if v.follow == nil {
		return n, nil
	}
	defer catchFault(v.mem.(*File), "refresh", debug.SetPanicOnFault(true), &err)
	return v.refresh()
}

// HasWriter reports whether a writer holds the vector's file now: for a
// follower, which opens and follows whether or not one does, the way to
// tell a live file from one whose writer has gone (to stop waiting, or to
// say so). See File.HasWriter for how it is known, how soon a dead
// writer stops counting, and the systems where a follower cannot tell
// (an error wrapping errors.ErrUnsupported). For a writer it is true, for
// a ReadOnly vector false (its lock keeps writers out); for memory other
// than a File, whether the vector itself may write. After Close it returns
// an error wrapping ErrClosed. The memvec command's info shows it.
func (v *MemVec[T]) HasWriter() (bool, error) {
	if v.closed {
		return false, v.wrap("lock", ErrClosed)
	}
	if f, ok := v.mem.(*File); ok {
		return f.HasWriter()
	}
	return !v.readOnly, nil
}

// refresh is Refresh for a follower, whose caller catches the faults of a
// file cut under it.
func (v *MemVec[T]) refresh() (int, error) {
	f := v.follow
	if f.pending {
		if err := v.adopt(); err != nil || f.pending {
			return 0, err
		}
	}
	gen, n, steady := v.snapshot()
	need, err := regionSize(v.dataOffset, n, v.layout.size)
	if err != nil {
		return len(v.s), v.wrap("refresh", corrupt("header counts %d elements: %v", n, err))
	}
	fm, _ := following(v.mem)
	if err := fm.followTo(need); err != nil {
		return len(v.s), v.wrap("refresh", err)
	}
	v.attach(v.mem.Bytes(), n)
	rewritten := !steady || gen != f.gen
	f.gen = gen
	if rewritten {
		return n, v.wrap("refresh", ErrRewritten)
	}
	return n, nil
}

// snapshot reads the generation and the length as one consistent pair: a
// seqlock read, retried while the writer is in the middle of a rewrite. If
// the rewrite goes on (a long Insert, or a writer that died in one), it
// gives up and reports the pair as not steady.
//
// The read-modify-write on the follower's own fence word comes first: it
// orders every read of elements the follower's code made before this call
// ahead of the read of the generation (amd64 keeps loads in order anyway;
// arm64 needs the barrier), so that an element read while the writer
// rewrote it always shows as a changed generation here.
func (v *MemVec[T]) snapshot() (gen uint64, n int, steady bool) {
	return v.follow.snapshot(v.word64(format.OffGeneration), v.length, func() (uint64, bool) {
		b := v.mem.Bytes()
		if !format.Rebooted(b, region.BootID()) {
			return 0, false
		}
		n, _ := format.TrustedLength(b, v.dataOffset, v.layout.size, region.BootID())
		return uint64(n), true
	})
}

// snapshot is the seqlock read of MemVec.snapshot for a follower of any
// container: gen and length are the header's words, and survived returns
// the count that survived a reboot, if the machine went down with no
// writer since (then the length word may count what a power loss took).
func (f *follower) snapshot(gen, length *atomic.Uint64, survived func() (uint64, bool)) (g uint64, n int, steady bool) {
	f.fence.Add(1)
	for try := 0; ; try++ {
		g1 := gen.Load()
		l := length.Load()
		if k, rebooted := survived(); rebooted {
			l = k
		}
		g2 := gen.Load()
		if l > math.MaxInt {
			l = math.MaxInt // the caller's size check refuses it
		}
		if g1 == g2 && g1&1 == 0 || try == snapshotTries {
			return g2, int(l), g1 == g2 && g1&1 == 0
		}
		runtime.Gosched()
	}
}

// snapshotTries bounds the retries of snapshot: about as long as a rewrite
// of a few thousand elements takes.
const snapshotTries = 100

// adopt looks again at a follower's region that had no header: if the
// writer has written one since, it is validated and the follower starts
// following it.
func (v *MemVec[T]) adopt() error {
	fm, _ := following(v.mem)
	if err := fm.followTo(0); err != nil {
		return v.wrap("refresh", err)
	}
	b := v.mem.Bytes()
	if headerPending(b) {
		return nil
	}
	if err := v.open(b); err != nil {
		return err
	}
	v.follow.pending = false
	return nil
}

// headerPending reports whether a follower's region b has no header yet
// because its writer is still creating it: the file is empty, or at most
// format.NewRegionMax bytes whose magic (written last) is still zero. Anything else is a header
// to validate.
func headerPending(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	return len(b) <= format.NewRegionMax && len(b) >= 8 && (*atomic.Uint64)(unsafe.Pointer(&b[format.OffMagic])).Load() == 0
}

// Wait blocks until the writer has published more than n elements, then
// refreshes (see Refresh) and returns the new length. It returns at once if
// the writer already has. Like Refresh, it reports ErrRewritten (with a
// length above n) if the writer changed or dropped elements the follower
// could see, also while it waited.
//
// On Linux a waiting follower spins for 20 µs, then sleeps on a futex in
// the file's header that the writer's Push wakes, which takes a few
// microseconds (when several followers sleep, the Push leaves their
// wake-ups to a goroutine of the writer's, which wakes them when the Go
// scheduler runs it); elsewhere, and for a follower that cannot write the
// file, it polls the length with back-off, from 20 µs up to 1 ms between
// looks, which bounds the latency to about a millisecond. A Wait
// that sleeps holds an operating-system thread, as a blocking read does.
//
// If ctx ends first, Wait returns the length it has and an error wrapping
// ctx.Err(). If another program cuts the file below the header, Wait
// returns the length it has and an error wrapping ErrFileChanged, as
// Refresh does; a follower asleep then, whom no Push wakes, finds it when
// its sleep ends (after a second at most).
//
// A Shared writer (see Shared) waits as a follower does, for the elements
// of all the writers, its own and the others' (and first gives up the
// append lock if it holds it, so that the others push at once); its Wait
// reports no ErrRewritten. On any other vector, whose length nobody else
// changes, Wait returns (Len(), nil) if Len() > n and an error otherwise;
// after Close, (0, ErrClosed).
//
// Close is the one method that may be called on a follower or a Shared
// writer while another goroutine is in Wait on it: the Wait returns (0, ErrClosed) at once, and
// Close returns after it has, never unmapping what the Wait reads. Any
// other call during a Wait is a data race, as for every method of a
// MemVec.
func (v *MemVec[T]) Wait(ctx context.Context, n int) (m int, err error) {
	if f := v.waits(); f != nil {
		var done func()
		if ctx, done = f.startWait(ctx); done == nil {
			return 0, v.wrap("wait", ErrClosed)
		}
		defer done()
	}
	if v.closed {
		return 0, v.wrap("wait", ErrClosed)
	}
	m = len(v.s)
	if v.shared != nil {
		return v.waitShared(ctx, n)
	}
	if v.follow == nil {
		if m > n {
			return m, nil
		}
		return m, v.wrap("wait", fmt.Errorf("the vector holds %d elements and is not a follower (see Follow): nothing else adds to it", m))
	}
	defer catchFault(v.mem.(*File), "wait", debug.SetPanicOnFault(true), &err)
	fm, _ := following(v.mem)
	return v.follow.waitFor(ctx, n, "elements", fm.wakeWord, v.refresh, func() bool { return v.length.Load() > uint64(n) }, v.wrap)
}

// waits returns the state that lets Close end the Waits under way: a
// follower's, or a Shared writer's; nil for any other vector, whose Wait
// never waits.
func (v *MemVec[T]) waits() *follower {
	switch {
	case v.follow != nil:
		return v.follow
	case v.shared != nil:
		return v.shared.waits
	}
	return nil
}

// startWait counts a Wait in and returns its context, which also ends
// when Close begins, and done, which counts the Wait out; done is nil if
// Close has begun, and the Wait returns ErrClosed.
func (f *follower) startWait(ctx context.Context) (_ context.Context, done func()) {
	if !f.enterWait() {
		return ctx, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(f.closed, cancel)
	return ctx, func() {
		stop()
		cancel()
		f.leaveWait()
	}
}

// waitFor is Wait's loop, for a follower of any container or a Shared
// writer: it refreshes (refresh) until the container counts more than n
// (of what, in the error), and between two looks awaits the writers on the
// wake word that wake returns (see await), while published reports
// whether their length is above n. wrap puts an error in the container's
// form.
func (f *follower) waitFor(ctx context.Context, n int, what string, wake func() *atomic.Uint32, refresh func() (int, error), published func() bool, wrap func(op string, err error) error) (int, error) {
	var rewritten error
	for {
		m, err := refresh()
		switch {
		case errors.Is(err, ErrRewritten):
			rewritten = err
		case err != nil:
			return m, err
		}
		if m > n {
			return m, rewritten
		}
		if err := f.await(ctx, wake, published); err != nil {
			if f.closed.Err() != nil {
				return 0, wrap("wait", ErrClosed)
			}
			return m, wrap("wait", fmt.Errorf("for more than %d %s: %w", n, what, err))
		}
	}
}

// Waiting, tuned for a follower in another process on another core. Wait's
// documentation gives these values (20 µs, 1 ms and, for sleepMax, a
// second): keep it in step.
const (
	// spinFor is how long a follower spins on the length before it sleeps:
	// a writer that pushes within it is seen at once, without a system
	// call on either side.
	spinFor = 20 * time.Microsecond
	// pollMin and pollMax bound the back-off of a follower that polls.
	pollMin = 20 * time.Microsecond
	pollMax = time.Millisecond
)

// sleepMax bounds one futex sleep. A Push always wakes a sleeper; the bound
// only makes a follower look again at a file whose writer went away for
// good, or died between its store of a length and its wake-up with no
// writer opening the file since (see wakeStranded). The tests make it an
// hour, so that a lost wake-up shows.
var sleepMax = time.Second

// await returns when the writer's published length may be above what
// the follower waits for, as published reports it (it may also return
// early: the caller refreshes and checks), or ctx.Err() when ctx ends.
// wake returns the header's wake word, writable, or nil: then it polls.
func (f *follower) await(ctx context.Context, wake func() *atomic.Uint32, published func() bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.pending {
		return pollSleep(ctx, pollMax)
	}
	start := time.Now()
	for i := 0; ; i++ {
		if published() {
			return nil
		}
		if i%64 == 63 && time.Since(start) > spinFor {
			break
		}
	}
	if w := wake(); w != nil && region.CanSleep {
		return sleepOnWake(ctx, w, published)
	}
	for wait := pollMin; ; wait = min(2*wait, pollMax) {
		if err := pollSleep(ctx, wait); err != nil || published() {
			return err
		}
	}
}

// sleepOnWake sleeps on the wake word w until published() or ctx ends. It
// sets the word's bit 0 before it looks at the length a last time and
// sleeps only if the word still holds what it set: the writer stores the
// length before it loads the word, so either the writer sees the bit and
// changes the word (waking the sleep, or keeping it from starting), or
// this sees the length.
func sleepOnWake(ctx context.Context, w *atomic.Uint32, published func() bool) error {
	woken := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(woken)
		// The word may be in a file cut under it: its follower's own
		// loads report that (see catchFault).
		defer ignoreFault(debug.SetPanicOnFault(true))
		w.Add(2) // another count, so that a sleep about to start does not
		region.WakeAll(w)
	})
	defer func() {
		// A wake-up that has started must end before Wait returns: the
		// follower may Close next, and the word would then be unmapped.
		if !stop() {
			<-woken
		}
	}()
	for {
		x := w.Load()
		if x&1 == 0 && !w.CompareAndSwap(x, x|1) {
			continue
		}
		x |= 1
		if published() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		region.SleepWhile(w, x, sleepMax)
		if published() {
			return nil
		}
	}
}

// pollSleep sleeps for d, or until ctx ends, and returns ctx.Err().
func pollSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// The writer's side.

// word64 returns the header word at off, one of the atomic 8-byte words.
// The vector must have a header.
func (v *MemVec[T]) word64(off int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Add(unsafe.Pointer(v.length), off-format.OffLength))
}

// wake returns the header's wake word.
func (v *MemVec[T]) wake() *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Add(unsafe.Pointer(v.length), format.OffWake-format.OffLength))
}

// wakeFollowers clears the wake word's bit 0, counting one more wake-up,
// and wakes every follower sleeping on it. Push calls it only when it finds
// the bit set. A follower killed while it slept leaves the bit set: the
// next publish pays for one wake-up, and that is all it costs.
//
// Each wake-up is the kernel's work on the thread that asks for it, so
// the writer leaves all but the first to a goroutine (followerWaker.wake):
// a Push that woke 100 sleepers itself cost the writer's thread 7.9 times
// the CPU time of one that woke one (BENCHMARKS.md, "Many sleeping
// followers"). With one P (GOMAXPROCS 1) the goroutine would run only once
// the writer's goroutine blocks or is preempted, up to milliseconds later,
// so the writer then wakes them all itself, as it always did.
//
//go:noinline
func (v *MemVec[T]) wakeFollowers() { wakeFollowers(v.wake(), &v.waker, v.bg) }

// wakeFollowers is MemVec.wakeFollowers for any container: w is its
// header's wake word, waker its followerWaker and bg its syncer, or nil.
func wakeFollowers(w *atomic.Uint32, waker *followerWaker, bg *backgroundSync) {
	for {
		x := w.Load()
		if x&1 == 0 {
			return
		}
		if w.CompareAndSwap(x, (x+2)&^1) {
			break
		}
	}
	if bg != nil {
		// The bit may be the syncer's: a change to notice, an error to
		// return at the next Push (see "Durability on a schedule").
		bg.kick()
		if bg.owed.Load() {
			w.Or(1)
		}
	}
	if runtime.GOMAXPROCS(0) < 2 {
		region.WakeAll(w)
		return
	}
	waker.wake(w)
}

// wakeDirect is how many sleeping followers the writer wakes itself when
// it expects one: if it wakes fewer than it asked for, no one else slept
// (a follower that sets the bit after the writer cleared it sleeps on
// another value of the word, and sees the length), and nothing is left to
// wake.
const wakeDirect = 2

// followerWaker wakes the followers asleep on the wake word for the
// writer's Push, from a goroutine when there are many: one started for the
// purpose, which wakes every sleeper and ends. Handing the wake-ups over
// costs the writer's thread the go statement, which wakes an idle thread of
// the runtime to run the goroutine: no more than waking one follower, so a
// Push costs no more with a hundred followers asleep than with one. Only
// the writer's goroutine starts one and stops them, so the WaitGroup's Add
// and Wait never race.
type followerWaker struct {
	// many is set when the last wake-up found more than one follower
	// asleep: the next is handed over whole.
	many atomic.Bool
	// started is set from the start of a goroutine until it begins its
	// wake-up: a request that finds it set needs no goroutine of its own,
	// since that wake-up, still to come, wakes whoever was asleep before
	// the request.
	started atomic.Bool
	running sync.WaitGroup
	// wakeAll, if set, is called instead of region.WakeAll: tests
	// hold the goroutine in its wake-up with it.
	wakeAll func(w *atomic.Uint32) int
}

// wake wakes every follower asleep on the wake word w. When the last
// wake-up found at most one asleep, it wakes wakeDirect itself, so that a
// lone follower is woken as soon as it was before, and leaves the rest, if
// it woke that many, to a goroutine; when the last found more, it leaves
// them all to the goroutine. Either way every follower asleep is woken: the
// guess only decides who pays.
func (fw *followerWaker) wake(w *atomic.Uint32) {
	if fw.many.Load() {
		fw.wakeRest(w, 0)
		return
	}
	if n := region.WakeUpTo(w, wakeDirect); n == wakeDirect {
		fw.wakeRest(w, n)
	}
}

// wakeRest wakes every follower sleeping on the wake word w, from a
// goroutine: at once, unless one has been started and has not yet begun.
// woken is how many the caller woke first. w stays mapped until stop.
func (fw *followerWaker) wakeRest(w *atomic.Uint32, woken int) {
	if fw.started.Swap(true) {
		return
	}
	fw.running.Add(1)
	wake := fw.wakeAll
	if wake == nil {
		wake = region.WakeAll
	}
	go func() {
		defer fw.running.Done()
		fw.started.Store(false)
		fw.many.Store(woken+wake(w) > 1)
	}()
}

// stop returns once no goroutine of wakeRest runs: the writer calls it
// before it resizes, moves or unmaps the region, so that no wake-up uses an
// address that may then be another region's, and so that a closed vector
// leaves no goroutine behind. Every wake-up asked for has then been done.
func (fw *followerWaker) stop() { fw.running.Wait() }

// wakeStranded wakes every follower asleep on the wake word when a writer
// opens the file: its last writer may have died after it stored a length
// and cleared the bit, before it, or its goroutine, woke them all. Without
// this they would sleep until sleepMax with elements to read, since the
// next writer's pushes find the bit clear. A follower woken for nothing
// looks at the length and sleeps again.
func (v *MemVec[T]) wakeStranded() { wakeStranded(v.wake()) }

// wakeStranded is MemVec.wakeStranded for any container whose header's
// wake word is w.
func wakeStranded(w *atomic.Uint32) {
	for x := w.Load(); x&1 != 0 && !w.CompareAndSwap(x, (x+2)&^1); x = w.Load() {
	}
	region.WakeAll(w)
}

// beginRewrite and endRewrite bracket every change of elements a follower
// may see: each makes the generation one larger, so it is odd during the
// change. The writer is the only one that writes the generation. Anonymous
// memory cannot be followed, and skips both.
func (v *MemVec[T]) beginRewrite() {
	if v.persistent {
		v.word64(format.OffGeneration).Add(1)
	}
}

func (v *MemVec[T]) endRewrite() {
	if v.persistent {
		v.word64(format.OffGeneration).Add(1)
	}
}
