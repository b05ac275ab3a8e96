package memvec

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Durability on a schedule.
//
// With SyncEvery(d), a goroutine of the vector's own, the syncer, makes
// the vector durable as Sync does, d after the first change that is not
// yet durable. A MemVec is not safe for concurrent use, so the syncer and
// the goroutine that owns the vector must not both touch what a Sync
// touches: the durable record (base, durable and the header's words), the
// mapping (which growth, Clip and Close change or move) and the File's
// state. Two ways were open: the owner's own calls doing the Sync once it
// is due, with a timer that only says so; or the syncer doing it, under a
// lock that the owner's calls take too. The first loses the bound as soon
// as the owner stops calling (a metrics writer that pushes once a minute
// would leave each element a minute undurable), so the syncer does the
// work, under backgroundSync.mu, which every call of the owner takes
// (syncLock) but Push's fast path. That path takes nothing and costs what
// it did: it writes past the length and then stores it, while the syncer
// reads only the elements below the length it loads (atomically, so it
// sees them whole), and writes no field the fast path reads (the slice).
// The same lock keeps the syncer away while the owner grows, moves or
// unmaps the region, as followerWaker.stop does for the wakers.
//
// What Push's fast path cannot see is the syncer: a change it must notice,
// an error it must return. Both go through bit 0 of the header's wake
// word, which the fast path tests after every push anyway (a follower sets
// it before it sleeps; a push that finds it set calls wakeFollowers). The
// syncer sets it before it loads the length it syncs, so every push is
// either covered by that Sync or finds the bit set and, in wakeFollowers,
// arms the syncer for the next one (kick): while nothing changes the
// syncer sleeps on a channel, with no timer. Once a background Sync has
// left an error, wakeFollowers sets the bit again until the owner has
// taken it (owed), so that the next Push returns it. Followers asleep on
// the word are woken for nothing at most once a period; they look at the
// length and sleep again.

// backgroundSync is the state of a vector's syncer (see SyncEvery).
type backgroundSync struct {
	every time.Duration
	// mu is held by the syncer while it syncs, and by the owner in every
	// call but Push's fast path (syncLock); the fields below it are under
	// it.
	mu sync.Mutex
	// err is the error a background Sync left, for the owner's next call
	// that returns an error (backgroundErr); owed is set while it is there,
	// for wakeFollowers to see without the lock.
	err     error
	stopped bool // set by Close: the syncer returns without touching the region
	// reattach is set when a background Sync raised the durable length:
	// the owner's capacity, held at its length while the length was below
	// it (see attach), comes back at its next call (adoptBehind).
	reattach bool

	owed  atomic.Bool
	armed atomic.Bool   // a change was noticed: the syncer's timer runs, or is about to
	kicks chan struct{} // the syncer waits on it for the first change
	stop  chan struct{} // closed by Close
	done  sync.WaitGroup
}

// startSyncer starts the syncer of a writer whose File was opened with
// SyncEvery. A region that is not all durable yet (a new file's header is;
// see open for what a writer finds) arms it at once.
func (v *MemVec[T]) startSyncer() {
	f, ok := v.mem.(*File)
	if !ok || f.syncEvery <= 0 || v.readOnly || v.follow != nil || v.length == nil {
		return
	}
	v.bg = startBackgroundSync(f.syncEvery, v.wake(), func() error {
		// Before the length is loaded: a push after the load finds the
		// bit and kicks (see "Durability on a schedule").
		v.wake().Or(1)
		return v.syncBehind()
	})
	if !v.allDurable() {
		v.bg.kick()
	}
}

// startBackgroundSync starts a syncer with period every for a container
// whose header's wake word is wake (the syncer sets its bit 0 so that the
// next Push looks at it; see "Durability on a schedule"), or nil for one
// whose every mutator takes bg.mu (a Map: no fast path). sync is the
// syncer's Sync, called under bg.mu: it sets the wake word's bit 0 again
// before it loads the length it makes durable, since the region, and the
// word with it, may have moved since.
func startBackgroundSync(every time.Duration, wake *atomic.Uint32, sync func() error) *backgroundSync {
	bg := &backgroundSync{every: every, kicks: make(chan struct{}, 1), stop: make(chan struct{})}
	if wake != nil {
		wake.Or(1)
	}
	bg.done.Add(1)
	go bg.run(sync)
	return bg
}

// allDurable reports whether a finished barrier covered every element and
// no header on the disk counts more: a Sync would have nothing to do.
func (v *MemVec[T]) allDurable() bool {
	return len(v.s) == v.base && v.base == v.durable
}

// kick arms the syncer, unless it is armed already: it syncs within its
// period. Any goroutine may call it.
func (bg *backgroundSync) kick() {
	if !bg.armed.Load() && bg.armed.CompareAndSwap(false, true) {
		select {
		case bg.kicks <- struct{}{}:
		default:
		}
	}
}

// run is the syncer: it waits for a change, then the period, then syncs
// (sync, under mu), until Close stops it. A failed sync leaves its error
// for the owner's next call (take).
func (bg *backgroundSync) run(sync func() error) {
	defer bg.done.Done()
	t := time.NewTimer(bg.every)
	t.Stop()
	for {
		select {
		case <-bg.stop:
			return
		case <-bg.kicks:
		}
		t.Reset(bg.every)
		select {
		case <-bg.stop:
			t.Stop()
			return
		case <-t.C:
		}
		bg.armed.Store(false)
		bg.mu.Lock()
		if bg.stopped {
			bg.mu.Unlock()
			return
		}
		if err := sync(); err != nil && bg.err == nil {
			bg.err = err
			bg.owed.Store(true)
		}
		bg.mu.Unlock()
	}
}

// syncBehind is the syncer's Sync, under bg.mu: it makes the elements the
// length counts durable, as syncDurable does, with the length it loads
// rather than the slice's, which only the owner touches. It does nothing
// for a vector that has nothing to make durable, or that is failed or
// changed already (the owner returns those errors itself). A barrier that
// fails fails the vector (failRecord); its slice is dropped by the owner's
// next call (adoptBehind).
func (v *MemVec[T]) syncBehind() (err error) {
	if v.closed || v.failed != nil || v.changed != nil {
		return nil
	}
	n := int(v.length.Load())
	if n == v.base && n == v.durable {
		return nil
	}
	if fc, ok := v.mem.(fileChecker); ok {
		if err := fc.checkFile(); err != nil {
			v.changed = err // adoptBehind holds the capacity at the length
			return err
		}
	}
	if f, ok := v.mem.(*File); ok {
		// A cut after the check is an error too, not a fault (catchFault).
		defer catchFault(f, "sync", debug.SetPanicOnFault(true), &err)
	}
	base := min(v.base, n)
	v.record(base, max(base, min(v.durable, n)), n)
	if err := v.mem.Sync(); err != nil {
		v.failRecord("a background sync (SyncEvery)", err, n)
		return v.failed
	}
	v.record(n, n, n)
	v.base, v.durable = n, n
	v.bg.reattach = true
	return nil
}

// syncLock keeps the syncer out, if there is one, until syncUnlock, and
// takes over what a background Sync left (adoptBehind). Every call of the vector
// but Push's fast path and the reads runs under it:
//
//	defer v.syncUnlock(v.syncLock())
func (v *MemVec[T]) syncLock() bool {
	if v.bg == nil {
		return false
	}
	v.bg.mu.Lock()
	v.adoptBehind()
	return true
}

// syncUnlock lets the syncer in again after syncLock, and arms it if the
// call left anything to make durable.
func (v *MemVec[T]) syncUnlock(locked bool) {
	if !locked {
		return
	}
	if !v.closed && !v.allDurable() {
		v.bg.kick()
	}
	v.bg.mu.Unlock()
}

// adoptBehind makes what a background Sync found the vector's own: the elements
// a failed barrier may have lost are dropped (dropFailed), and the capacity
// of a failed vector, or of one whose file another program changed, is
// held at the length, so that Push takes the slow path, which refuses; the
// capacity held at the length below the durable length that a background
// Sync has since raised to it comes back (reattach).
func (v *MemVec[T]) adoptBehind() {
	if v.closed {
		return
	}
	if v.failed != nil {
		v.dropFailed()
	}
	if v.bg.reattach || v.changed != nil && cap(v.s) > len(v.s) {
		v.bg.reattach = false
		v.attach(v.mem.Bytes(), len(v.s))
	}
}

// backgroundErr returns, once, the error a background Sync left, for op,
// or nil. The vector keeps a failure or a change for every later call, as
// after its own Sync's.
func (v *MemVec[T]) backgroundErr(op string) error {
	if err := v.bg.take(); err != nil {
		return v.wrap(op, err)
	}
	return nil
}

// take returns, once, the error a background Sync left, or nil. bg may be
// nil. The owner calls it under mu, or where the syncer is stopped.
func (bg *backgroundSync) take() error {
	if bg == nil || !bg.owed.Load() {
		return nil
	}
	err := bg.err
	bg.err = nil
	bg.owed.Store(false)
	return err
}

// woken is Push's call when it finds the wake word's bit 0 set: it wakes
// the followers and returns the error a background Sync left, if any.
//
//go:noinline
func (v *MemVec[T]) woken() error {
	v.wakeFollowers()
	if v.bg == nil || !v.bg.owed.Load() {
		return nil
	}
	defer v.syncUnlock(v.syncLock())
	return v.backgroundErr("push")
}

// stopSyncer stops the syncer at Close, under bg.mu: it returns at once,
// or once it gets the lock, without touching the region. Close waits for
// it (waitSyncer) once it has let the lock go.
func (bg *backgroundSync) stopSyncer() {
	if !bg.stopped {
		bg.stopped = true
		close(bg.stop)
	}
}
