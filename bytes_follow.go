package memvec

// Followers and durability on a schedule for a Bytes: MemVec's (follow.go,
// syncevery.go), on the offsets file's header, whose length, generation
// and wake word a Bytes's writer keeps as a vector's does.
//
// A follower maps both files read-only. It trusts a record only once the
// length counts it: the writer stores the record's bytes, then its end
// offset, then the length, and grows either file before it writes there.
// So a follower that has loaded a length n finds, in files at least as
// large as the offsets up to n and the bytes up to offs[n] need, every
// record below n whole; it maps that much (followTo) before its views show
// them, and At bounds every record by what is mapped, so that a record
// rewritten after a Truncate reads, at worst, as other bytes of the data
// file (and the next Refresh reports ErrRewritten), never as a fault.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
)

// openBytesFollower is OpenBytes with Follow: the directory and its
// offsets file must exist; the data file is opened once the offsets file
// has a header (its writer makes the data file first).
func openBytesFollower(path string, o options) (*Bytes, error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("memvec: open %s: %w", path, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("memvec: open %s: %w: not a directory, which a Bytes is (see FORMAT.md, \"Bytes files\")", path, ErrCorrupt)
	}
	idx, err := openFile(filepath.Join(path, bytesOffsetsName), o)
	if err != nil {
		return nil, err
	}
	b := &Bytes{path: path, idx: idx, readOnly: true, persistent: true, follow: newFollower(true)}
	b.follow.opts = o
	if err := b.adopt(o); err != nil {
		b.closeMemories()
		return nil, err
	}
	return b, nil
}

// adopt looks at a follower's offsets file that had no header: if the
// writer has written one since, the follower opens the data file and
// starts following (see MemVec.adopt).
func (b *Bytes) adopt(o options) error {
	fm, _ := following(b.idx)
	if err := fm.followTo(0); err != nil {
		return b.wrap("refresh", err)
	}
	ib := b.idx.Bytes()
	if headerPending(ib) {
		return nil
	}
	if err := b.readHeader(ib); err != nil {
		return err
	}
	if b.dat == nil {
		dat, err := openFile(filepath.Join(b.path, bytesDataName), o)
		if err != nil {
			return err
		}
		b.dat = dat
	}
	b.attach()
	b.follow.pending = false
	gen, n, _ := b.snapshot()
	if err := b.followTo(n); err != nil {
		return b.wrap("open", err)
	}
	b.n, b.follow.gen = n, gen
	return nil
}

// Refresh catches up with the writer, as MemVec's Refresh does: Len, At
// and All show the records the writer has published, from then on, and
// Refresh returns their number. It returns an error wrapping ErrRewritten
// (and still refreshes) if the writer has dropped records the follower
// could see since its last Refresh or Wait (Truncate, or a failed Sync),
// and one wrapping ErrCorrupt, without refreshing, if the offsets file
// counts records its files do not hold.
//
// On Windows a Refresh that finds a file grown past the follower's view
// maps it anew, and the records At gave before are invalid after it (see
// Follow). On a Shared writer it counts the records every writer has
// published. On a Bytes that is neither, Refresh returns (Len(), nil);
// after Close, (0, ErrClosed).
func (b *Bytes) Refresh() (n int, err error) {
	if b.closed {
		return 0, b.wrap("refresh", ErrClosed)
	}
	if b.shared != nil {
		return b.refreshShared()
	}
	if b.follow == nil {
		return b.n, nil
	}
	defer catchFault(b.idx.(*File), "refresh", debug.SetPanicOnFault(true), &err)
	return b.refresh()
}

// refresh is Refresh for a follower.
func (b *Bytes) refresh() (int, error) {
	f := b.follow
	if f.pending {
		if err := b.adopt(b.follow.opts); err != nil || f.pending {
			return 0, err
		}
	}
	gen, n, steady := b.snapshot()
	if err := b.followTo(n); err != nil {
		return b.n, b.wrap("refresh", err)
	}
	b.n = n
	rewritten := !steady || gen != f.gen
	f.gen = gen
	if rewritten {
		return n, b.wrap("refresh", ErrRewritten)
	}
	return n, nil
}

// snapshot reads the generation and the length as one pair (see
// MemVec.snapshot).
func (b *Bytes) snapshot() (gen uint64, n int, steady bool) {
	ib := b.idx.Bytes()
	return b.follow.snapshot(format.Word64At(ib, format.OffGeneration), b.length, func() (uint64, bool) {
		if !format.Rebooted(b.idx.Bytes(), region.BootID()) {
			return 0, false
		}
		n, _ := format.TrustedCount(b.idx.Bytes(), uint64(len(b.offs)-1), region.BootID(), b.sum)
		return n, true
	})
}

// followTo maps what a follower needs to show n records: the offsets up
// to n, then the bytes up to the end of record n-1, which the writer
// wrote, and so grew the files for, before it published n. It returns an
// error wrapping ErrCorrupt if the files are smaller, or the last offset
// is out of range.
func (b *Bytes) followTo(n int) error {
	if n > (math.MaxInt-b.dataOffset)/8-1 {
		return fmt.Errorf("%w: the header counts %d records, more than this platform's address space holds", ErrCorrupt, n)
	}
	fi, _ := following(b.idx)
	if err := fi.followTo(b.dataOffset + 8*(n+1)); err != nil {
		return err
	}
	b.attach()
	end := b.offs[n]
	if end < 0 || end > math.MaxInt {
		return fmt.Errorf("%w: record %d ends at byte %d", ErrCorrupt, n-1, end)
	}
	if int(end) > len(b.data) {
		fd, _ := following(b.dat)
		if err := fd.followTo(int(end)); err != nil {
			return err
		}
		b.attach()
	}
	return nil
}

// Wait blocks until the writer has published more than n records, then
// refreshes (see Refresh) and returns the new number, as MemVec's Wait
// does: the writer's Push and Append wake a follower asleep on the
// offsets file's wake word (on Linux; elsewhere it polls), and Wait
// reports ErrRewritten as Refresh does. If ctx ends first, it returns the
// number it has and an error wrapping ctx.Err(). Close may be called from
// another goroutine during a Wait, which then returns (0, ErrClosed). A
// Shared writer waits for every writer's records, as a vector's does. On
// a Bytes that is neither, Wait returns (Len(), nil) if Len() > n and an
// error otherwise; after Close, (0, ErrClosed).
func (b *Bytes) Wait(ctx context.Context, n int) (m int, err error) {
	if f := b.waits(); f != nil {
		var done func()
		if ctx, done = f.startWait(ctx); done == nil {
			return 0, b.wrap("wait", ErrClosed)
		}
		defer done()
	}
	if b.closed {
		return 0, b.wrap("wait", ErrClosed)
	}
	if b.shared != nil {
		return b.waitShared(ctx, n)
	}
	if b.follow == nil {
		if b.n > n {
			return b.n, nil
		}
		return b.n, b.wrap("wait", fmt.Errorf("the Bytes holds %d records and is not a follower (see Follow): nothing else adds to it", b.n))
	}
	defer catchFault(b.idx.(*File), "wait", debug.SetPanicOnFault(true), &err)
	fm, _ := following(b.idx)
	return b.follow.waitFor(ctx, n, "records", fm.wakeWord, b.refresh, func() bool { return b.length.Load() > uint64(n) }, b.wrap)
}

// waits returns the state that lets Close end the Waits under way: a
// follower's, or a Shared writer's; nil for any other Bytes, whose Wait
// never waits.
func (b *Bytes) waits() *follower {
	switch {
	case b.follow != nil:
		return b.follow
	case b.shared != nil:
		return b.shared.waits
	}
	return nil
}

// HasWriter reports whether a writer holds the Bytes now, as MemVec's
// HasWriter does: for a follower, the way to tell a live Bytes from one
// whose writer has gone. After Close it returns an error wrapping
// ErrClosed.
func (b *Bytes) HasWriter() (bool, error) {
	if b.closed {
		return false, b.wrap("lock", ErrClosed)
	}
	if f, ok := b.idx.(*File); ok {
		return f.HasWriter()
	}
	return !b.readOnly, nil
}

// wake returns the offsets file's wake word.
func (b *Bytes) wake() *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Add(unsafe.Pointer(b.length), format.OffWake-format.OffLength))
}

// woken is Push's and Append's call when they find the wake word's bit 0
// set: it wakes the followers and returns the error a background Sync
// left, if any (see MemVec.woken).
//
//go:noinline
func (b *Bytes) woken() error {
	wakeFollowers(b.wake(), &b.waker, b.bg)
	if b.bg == nil || !b.bg.owed.Load() {
		return nil
	}
	defer b.syncUnlock(b.syncLock())
	return b.backgroundErr("push")
}

// Durability on a schedule (syncevery.go). The syncer touches, under
// bg.mu, the durable record (base, durable, the header's words) and the
// files' barriers; it reads the offsets and the bytes below the length it
// loads, which Push wrote whole before it stored that length. Every call
// of the owner takes bg.mu but Push's and Append's fast paths, which read
// no field the syncer writes (see holdBelowDurable) and write only past
// the length. A barrier of the syncer's that fails lowers the header and
// the length word at once, and leaves the rest to the owner's next call
// (adoptBehind), which alone changes the Bytes's fields.

// startSyncer starts the syncer of a writer opened with SyncEvery(every);
// every is 0 without it.
func (b *Bytes) startSyncer(every time.Duration) {
	if every <= 0 || b.readOnly || b.follow != nil || b.length == nil {
		return
	}
	b.bg = startBackgroundSync(every, b.wake(), func() error {
		b.wake().Or(1)
		return b.syncBehind()
	})
	if !b.allDurable() {
		b.bg.kick()
	}
}

// allDurable reports whether a finished barrier covered every record and
// no header on the disk counts more.
func (b *Bytes) allDurable() bool {
	return b.n == b.base && b.base == b.durable
}

// bytesFailure is what a barrier of the syncer's that failed leaves for
// the owner: the failure, and the records it kept.
type bytesFailure struct {
	err  error
	kept int
}

// syncBehind is the syncer's Sync, under bg.mu (see MemVec.syncBehind),
// of the records the length counts.
func (b *Bytes) syncBehind() error {
	if b.closed || b.failed != nil || b.failedBehind != nil {
		return nil
	}
	n := int(b.length.Load())
	if n == b.base && n == b.durable {
		return nil
	}
	base := min(b.base, n)
	b.record(base, max(base, min(b.durable, n)), n)
	if err := b.barrier(n); err != nil {
		kept := min(b.base, n)
		failure := fmt.Errorf("%w (a background sync, SyncEvery); the Bytes now counts the %d records the last successful sync made durable: open it again", err, kept)
		if !errors.Is(err, ErrSyncFailed) {
			failure = fmt.Errorf("%w: %w", failure, ErrSyncFailed)
		}
		b.failedBehind = &bytesFailure{err: failure, kept: kept}
		b.lower(kept)
		return b.wrap("sync", failure)
	}
	b.record(n, n, n)
	b.base, b.durable = n, n
	return nil
}

// lower counts kept records in the header, as a follower sees it and as
// the disk will: the length, with a rewrite for the followers, and the
// power-loss words, made durable if the disk takes it.
func (b *Bytes) lower(kept int) {
	gen := format.Word64At(b.idx.Bytes(), format.OffGeneration)
	gen.Add(1)
	b.length.Store(uint64(kept))
	gen.Add(1)
	b.record(kept, kept, kept)
	b.syncHeader()
}

// syncLock keeps the syncer out until syncUnlock, and takes over what a
// background Sync left (adoptBehind):
//
//	defer b.syncUnlock(b.syncLock())
func (b *Bytes) syncLock() bool {
	if b.bg == nil {
		return false
	}
	b.bg.mu.Lock()
	b.adoptBehind()
	return true
}

// syncUnlock lets the syncer in again after syncLock, and arms it if the
// call left anything to make durable.
func (b *Bytes) syncUnlock(locked bool) {
	if !locked {
		return
	}
	if !b.closed && !b.allDurable() {
		b.bg.kick()
	}
	b.bg.mu.Unlock()
}

// adoptBehind makes a failure of the syncer's the Bytes's own: it is
// failed, and counts what the failure kept (the fast path may have pushed
// past it since, and stored a length a follower may have seen).
func (b *Bytes) adoptBehind() {
	fb := b.failedBehind
	if b.closed || fb == nil || b.failed != nil {
		return
	}
	b.failed = fb.err
	if b.n > fb.kept {
		b.n = fb.kept
		b.lower(fb.kept)
	}
}

// backgroundErr returns, once, the error a background Sync left, for op,
// or nil.
func (b *Bytes) backgroundErr(op string) error {
	if err := b.bg.take(); err != nil {
		return b.wrap(op, err)
	}
	return nil
}
