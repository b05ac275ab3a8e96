package memvec

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
)

// Shared writers (see Shared, and FORMAT.md, "Shared writers").
//
// The appends of Shared writers are ordered by a biased lock in the
// header: the append lock (format.AppendLock) names the writer that may
// append, and stays with it while it pushes alone, so that a writer alone
// pays no handoff per push. Its holder announces each push in the holder
// word (format.HolderWord): its id while inside, with its count of pushes.
//
// A push by the holder: swap the holder word from the not-busy word it
// left to busy (its id), load the lock; if it names the holder, write the
// elements at the length, store the new length, store the holder word not
// busy with the count one up. Only the holder writes the holder word: a
// writer that is not, or finds the word changed (it was overtaken), takes
// the slow path without writing it, since a store of its own would hide
// the holder's busy mark from a taker. A taker, once it holds the lock,
// stores the word afresh (count 0, not busy). A writer
// that wants the lock waits until the holder has pushed sharedQuota times,
// or pushed nothing for sharedIdle, or died (its slot byte is free), then
// swaps the lock for a takeover mark (bit 31, its id in bits 16-30), then
// waits until the holder word names no live writer inside a push, and
// stores its id. The busy store and the lock's load in the holder, and the
// swap and the holder word's load in the taker, are sequentially
// consistent atomics on one shared mapping: one of the two sees the
// other's store, so a holder that missed the takeover has its push over
// before the taker goes on, and a holder that saw it does not write. A
// Sync and an open are inside the lock as a push is (hold, letGo): they
// write the header's durability record around a barrier.

const (
	// sharedQuota is how many pushes a writer that wants the lock lets its
	// holder make before it takes the lock over: fairness, at a handoff
	// every sharedQuota pushes when writers push together.
	sharedQuota = 4096
	// sharedIdle is how long a holder may push nothing before a writer that
	// wants the lock takes it over.
	sharedIdle = 200 * time.Microsecond
	// sharedSleep is how long a waiter sleeps at a time, on the lock word
	// (a futex on Linux: a release wakes it) or polling elsewhere.
	sharedSleep = 50 * time.Microsecond

	takeoverBit = 1 << 31
)

// sharedWriter is the part of a container opened Shared that orders its
// appends: a vector's (MemVec) or a Bytes's, whose lock and holder words
// are in its offsets file's header. The lock protocol is the same for
// both; what a container writes under it is its own.
type sharedWriter struct {
	id    uint32
	file  *File  // the file whose header holds the words
	count uint32 // this writer's pushes as holder, modulo 2^16
	// lock and holder are the append lock and the holder word in this
	// writer's mapping of the header; the container's attach points them
	// (point), after every change of the mapping.
	lock, holder *atomic.Uint32
	// data is where element 0 is in this writer's mapping, and room how
	// many elements its fast path (pushHeld) may reach: the mapping's,
	// or, for a prefaulter, as far as it has faulted in. A vector's attach
	// sets both.
	data unsafe.Pointer
	room int
	// waits counts the Waits under way, as a follower's does, so that a
	// Close in another goroutine ends them first (see Wait).
	waits *follower
	// readyDead is the container's part of a takeover from a writer that
	// died: it readies what that writer may have left past the length
	// (see takeOver).
	readyDead func() error
}

// newSharedWriter returns the sharedWriter of a container whose file f
// (holding the header) was opened Shared.
func newSharedWriter(f *File) *sharedWriter {
	return &sharedWriter{id: uint32(f.r.SharedID()), file: f, waits: newFollower(false)}
}

// point points the writer at the header words next to the length word
// length, in its container's mapping as it is now.
func (s *sharedWriter) point(length *atomic.Uint64) {
	s.lock = (*atomic.Uint32)(unsafe.Add(unsafe.Pointer(length), format.OffAppendLock-format.OffLength))
	s.holder = (*atomic.Uint32)(unsafe.Add(unsafe.Pointer(length), format.OffHolder-format.OffLength))
}

// alive reports whether the Shared writer id has the file open. An error
// of the system counts as alive: a writer is never taken for dead but by
// its released slot.
func (s *sharedWriter) alive(id uint32) bool {
	ok, err := s.file.r.SharedWriterAlive(int(id))
	return ok || err != nil
}

// join readies a Shared writer's header at its open: a lock or a
// takeover left by a dead writer whose slot this one now has (the slot's
// id is this one's) is cleared, and so is a busy mark of that dead writer
// in the holder word, or no one would ever see it die.
func (s *sharedWriter) join() {
	lock, holder := s.lock, s.holder
	if l := lock.Load(); l == s.id || l&takeoverBit != 0 && (l>>16)&0x7fff == s.id {
		lock.CompareAndSwap(l, 0)
	}
	if h := holder.Load(); h&0xffff == s.id {
		holder.CompareAndSwap(h, h&^0xffff)
	}
}

// acquire takes the append lock for a Shared writer (see "Shared
// writers" above), and readies what is past the length if it took it
// from a dead writer.
func (s *sharedWriter) acquire() error {
	lock, holder := s.lock, s.holder
	var (
		owner      uint32    // the holder or taker the waiting is about
		firstCount uint32    // its count when the waiting began
		lastCount  uint32    // its count when last seen to change
		lastChange time.Time // when
		tries      int
	)
	for {
		l := lock.Load()
		if l == s.id {
			if h := holder.Load(); h&0xffff == 0 && h>>16 != s.count {
				// The word is not the one this writer left (a takeover
				// in between, from which it got the lock back without
				// storing it): it stores its own.
				s.count = h >> 16
			}
			return nil
		}
		var next uint32 // what to swap l for, once the holder may be overtaken
		switch {
		case l == 0:
			next = takeoverBit | s.id<<16
		case l&takeoverBit != 0:
			// Another writer takes the lock over: wait for it, unless it
			// died doing so, in which case this one goes on in its place.
			if t := (l >> 16) & 0x7fff; !s.alive(t) {
				next = takeoverBit | s.id<<16
			}
		default:
			h := holder.Load()
			c := h >> 16
			if l != owner {
				owner, firstCount, lastCount, lastChange = l, c, c, time.Now()
			}
			if c != lastCount {
				lastCount, lastChange = c, time.Now()
			}
			if (c-firstCount)&0xffff >= sharedQuota || time.Since(lastChange) >= sharedIdle || !s.alive(l&0xffff) {
				next = takeoverBit | s.id<<16
			}
		}
		if next != 0 && lock.CompareAndSwap(l, next) {
			return s.takeOver()
		}
		tries++
		if tries < 64 {
			runtime.Gosched()
			continue
		}
		if region.CanSleep {
			region.SleepWhile(lock, l, sharedSleep)
		} else {
			time.Sleep(sharedSleep)
		}
	}
}

// takeOver ends a takeover that acquire began: it waits until no live
// writer is inside a push, then stores its own id in the lock. A writer
// that died inside one left elements (or records' bytes and offsets) past
// the length that count for nothing: the next push overwrites them. It
// may also have grown a file without readying its blocks, so the
// container readies those past the length (readyDead).
func (s *sharedWriter) takeOver() error {
	lock, holder := s.lock, s.holder
	dead := false
	for tries := 0; ; tries++ {
		busy := holder.Load() & 0xffff
		if busy == 0 || busy == s.id {
			break
		}
		if !s.alive(busy) {
			dead = true
			break
		}
		if tries < 64 {
			runtime.Gosched()
		} else {
			time.Sleep(sharedSleep)
		}
	}
	s.count = 0
	holder.Store(0)
	lock.Store(s.id)
	if sharedTookOver != nil {
		sharedTookOver()
	}
	if dead {
		return s.readyDead()
	}
	return nil
}

// readyDead is a vector's part of a takeover from a dead writer (see
// sharedWriter.readyDead): the blocks of the file past the length.
func (v *MemVec[T]) readyDead() error {
	n := int(v.length.Load())
	if end, err := regionSize(v.dataOffset, n, v.layout.size); err == nil {
		if err := v.shared.file.growShared(0); err != nil {
			return v.wrap("push", err)
		}
		if err := v.shared.file.r.ReadyShared(end); err != nil {
			return v.wrap("push", err)
		}
		v.attach(v.mem.Bytes(), min(len(v.s), n))
	}
	return nil
}

// sharedTookOver, when a test sets it, is called after each takeover.
var sharedTookOver func()

// sharedPushing, when a test sets it, is called inside each push of a
// Shared writer, between writing its elements and publishing them.
var sharedPushing func()

// release gives the append lock up, if this writer holds it, and
// wakes the writers that sleep waiting for it: at Close, and before a
// Wait.
func (s *sharedWriter) release() {
	lock := s.lock
	if lock.CompareAndSwap(s.id, 0) {
		region.WakeAll(lock)
	}
}

// appendShared is Push and Append for a Shared writer: xs, written at the
// length as the holder of the append lock, all of them counted at once.
func (v *MemVec[T]) appendShared(op string, xs []T) (err error) {
	if err := v.sharedWritable(); err != nil {
		return err
	}
	if len(xs) == 0 {
		return nil
	}
	defer catchFault(v.shared.file, op, debug.SetPanicOnFault(true), &err)
	if err := v.shared.hold(); err != nil {
		return err
	}
	// The holder: the only writer that stores the length.
	n := int(v.length.Load())
	if err := v.roomShared(n + len(xs)); err != nil {
		v.shared.letGo()
		return err
	}
	v.prefaultShared(n, n+len(xs))
	dst := unsafe.Slice((*T)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(v.mem.Bytes())), v.dataOffset)), n+len(xs))
	copy(dst[n:], xs)
	if sharedPushing != nil {
		sharedPushing()
	}
	v.publish(n + len(xs))
	v.shared.letGo()
	v.attach(v.mem.Bytes(), n+len(xs))
	return nil
}

// hold makes this writer the holder of the append lock, inside: its busy
// mark in the holder word, stored by a swap from the word it left (a
// writer that is not the holder never writes the word, since it would hide
// the holder's mark from a taker, and one that finds it changed has been
// overtaken), and the lock seen to name it after the mark. A taker then
// waits for letGo, however long the holder stays inside: a push, or a
// Sync or an open, which write the durability record in the header
// around a barrier and must not be overtaken as idle in the middle of it
// (another writer's record would mix with theirs).
func (s *sharedWriter) hold() error {
	for {
		lock, holder := s.lock, s.holder
		if lock.Load() == s.id && holder.CompareAndSwap(s.count<<16, s.count<<16|s.id) {
			if lock.Load() == s.id {
				return nil
			}
			// Overtaken between the two: the mark goes, unless the
			// new holder has already stored its own word.
			holder.CompareAndSwap(s.count<<16|s.id, s.count<<16)
		}
		if err := s.acquire(); err != nil {
			return err
		}
	}
}

// letGo ends what hold began: the holder word not busy, its count one up.
func (s *sharedWriter) letGo() {
	s.count++
	s.holder.Store(s.count << 16)
}

// pushHeld is Push for a Shared writer that holds the append lock, with
// room in its mapping (faulted in, for a prefaulter) for one more element:
// the steps of a push (see "Shared writers" above), busy mark, lock loaded
// again, element, length, followers woken, mark cleared, with none of the
// slow path's other work. It reports false, having written nothing and
// left the holder word as it was, or as letGo leaves it, when the slow path
// must run: the lock is not this writer's, or the room is not there, or
// the vector refuses writes.
func (v *MemVec[T]) pushHeld(x T) bool {
	s := v.shared
	if v.closed || v.changed != nil || v.failed != nil {
		return false
	}
	lock, holder := s.lock, s.holder
	idle := s.count << 16
	if lock.Load() != s.id || !holder.CompareAndSwap(idle, idle|s.id) {
		return false
	}
	if lock.Load() != s.id {
		holder.CompareAndSwap(idle|s.id, idle)
		return false
	}
	n := v.length.Load()
	if n >= uint64(s.room) {
		s.letGo()
		return false
	}
	*(*T)(unsafe.Add(s.data, uintptr(n)*v.layout.size)) = x
	v.publish(int(n) + 1)
	s.letGo()
	v.s = unsafe.Slice((*T)(s.data), n+1)
	return true
}

// prefaultShared faults in, for a prefaulter (see makeRoom), the pages of
// elements from to to and PrefaultWindow bytes beyond, once the region
// holds them: a holder's fast path then runs up to there (pushHeld).
// Another writer may have written some of them already: faulting in for
// writing keeps what pages hold.
func (v *MemVec[T]) prefaultShared(from, to int) {
	pf := v.prefaulter()
	if pf == nil {
		return
	}
	b := v.mem.Bytes()
	start := max(v.faulted, v.dataOffset+from*int(v.layout.size))
	if end := min(len(b), v.dataOffset+to*int(v.layout.size)+region.PrefaultWindow); end > start {
		pf.prefault(start, end-start)
		v.faulted = end
	}
}

// roomShared makes the region hold n elements: it maps what other writers
// grew the file to and, if that is not enough, grows the file by the
// policy of Grow (or just what is needed, if that step does not fit). It
// runs inside the holder's push. The header moves with the mapping only
// past its reservation; the words are found through the vector again.
func (v *MemVec[T]) roomShared(n int) error {
	need, err := regionSize(v.dataOffset, n, v.layout.size)
	if err != nil {
		return v.wrap("push", err)
	}
	f := v.shared.file
	if need <= len(f.r.Bytes()) {
		return nil
	}
	err = growSharedTo(f, need, nextRegionSize)
	v.attach(f.r.Bytes(), len(v.s))
	if err != nil {
		return v.wrap("grow", err)
	}
	return nil
}

// growSharedTo makes the region of a Shared writer's file f hold need
// bytes: it maps what other writers grew the file to and, if that is not
// enough, grows the file to policy(size, need) (the container's growth
// policy), or to need alone in pages if that does not fit (a nearly full
// disk). It returns the first error. The caller attaches to the region
// again, whatever it returns: the mapping may have moved.
func growSharedTo(f *File, need int, policy func(size, need int) int) error {
	if need <= len(f.r.Bytes()) {
		return nil
	}
	if err := f.growShared(0); err != nil {
		return err
	}
	if len(f.r.Bytes()) >= need {
		return nil
	}
	if err := f.growShared(policy(len(f.r.Bytes()), need)); err != nil {
		if f.growShared(roundUp(need, pageSize)) != nil {
			return err
		}
	}
	return nil
}

// sharedWritable returns the error that keeps a Shared writer from
// appending: closed, a file changed by another program, a failed barrier.
func (v *MemVec[T]) sharedWritable() error {
	switch {
	case v.closed:
		return v.wrap("write", ErrClosed)
	case v.changed != nil:
		return v.wrap("write", v.changed)
	case v.failed != nil:
		return v.wrap("write", v.failed)
	}
	return nil
}

// refreshShared is Refresh for a Shared writer: it counts the elements
// every writer published, mapping what they grew the file to.
func (v *MemVec[T]) refreshShared() (n int, err error) {
	defer catchFault(v.shared.file, "refresh", debug.SetPanicOnFault(true), &err)
	n = int(v.length.Load())
	need, err := regionSize(v.dataOffset, n, v.layout.size)
	if err != nil {
		return len(v.s), v.wrap("refresh", corrupt("header counts %d elements: %v", n, err))
	}
	if need > len(v.mem.Bytes()) {
		if err := v.shared.file.growShared(0); err != nil {
			return len(v.s), v.wrap("refresh", err)
		}
		if need > len(v.mem.Bytes()) {
			return len(v.s), v.wrap("refresh", corrupt("the header counts elements up to byte %d, the file has %d bytes", need, len(v.mem.Bytes())))
		}
	}
	v.attach(v.mem.Bytes(), n)
	return n, nil
}

// syncShared is Sync for a Shared writer: inside the append lock (hold),
// so that no other writer's Sync records beside it, nor pushes, it makes
// durable every element published so far, with the durability record
// that the header keeps for all writers (see durable.go).
func (v *MemVec[T]) syncShared() (err error) {
	if err := v.sharedWritable(); err != nil {
		return err
	}
	defer catchFault(v.shared.file, "sync", debug.SetPanicOnFault(true), &err)
	if err := v.shared.hold(); err != nil {
		return err
	}
	defer v.shared.letGo()
	if err := v.checkFile(); err != nil {
		return v.wrap("sync", err)
	}
	if _, err := v.refreshShared(); err != nil {
		return err
	}
	v.base = int(v.word64(format.OffBase).Load())
	v.durable = max(v.base, int(v.word64(format.OffChecked1).Load()), int(v.word64(format.OffChecked2).Load()))
	if err := v.syncDurable(); err != nil {
		return err
	}
	v.attach(v.mem.Bytes(), len(v.s))
	return nil
}

// waitShared is Wait for a Shared writer: it waits as a follower does,
// sleeping on the wake word that every writer's push wakes (see publish),
// until the writers have published more than n elements, and refreshes.
// It first gives the append lock up if it holds it: a writer asleep
// pushes nothing, and the others would wait sharedIdle to take it over.
func (v *MemVec[T]) waitShared(ctx context.Context, n int) (m int, err error) {
	defer catchFault(v.shared.file, "wait", debug.SetPanicOnFault(true), &err)
	if v.length.Load() <= uint64(n) {
		v.shared.release()
	}
	return v.shared.waits.waitFor(ctx, n, "elements", v.wake, v.refreshShared, func() bool { return v.length.Load() > uint64(n) }, v.wrap)
}

// errShared returns the error of op, refused on a Shared writer.
func (v *MemVec[T]) errShared(op string) error {
	return v.wrap(op, fmt.Errorf("%w: other writers append beside this one", ErrShared))
}
