package memvec

// Shared writers of a Bytes (see Shared, and FORMAT.md, "Shared writers").
//
// A Bytes's Shared writers order their appends by the append lock and the
// holder word in its offsets file's header, with the protocol of a
// vector's (shared.go, sharedWriter): what a holder does inside a push is
// a Bytes's own. The holder loads the length n, maps what other writers
// grew either file to, grows either file if the records do not fit, and
// writes the records' bytes at the data's end, offs[n], then their end
// offsets from offs[n+1] on, then the length: the order of an exclusive
// writer's Push, so that a writer killed at any instruction leaves a
// length that counts only records written whole. A holder that died
// inside a push left bytes past offs[n] and offsets past n+1 that count
// for nothing: the next holder writes over them.
//
// The data file is opened Shared too: it is never cut at a Close (another
// writer's records may reach past any size one would cut to), and its
// growth by any writer is seen by the others as the offsets file's is,
// through its size. Its own slot byte is no writer's identity: the
// offsets file's is.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"slices"

	"github.com/memvec/memvec/internal/format"
)

// sharedFiles returns a Shared writer's two files.
func (b *Bytes) sharedFiles() (idx, dat *File) {
	return b.idx.(*File), b.dat.(*File)
}

// mapShared maps what a Shared writer's n records need in either file,
// which the writers that published them grew before they did: the
// offsets up to n, then the bytes up to offs[n]. It returns an error
// wrapping ErrCorrupt if the files are smaller, or offs[n] out of range.
func (b *Bytes) mapShared(n int) error {
	idx, dat := b.sharedFiles()
	if n < 0 || n > (math.MaxInt-b.dataOffset)/8-1 {
		return fmt.Errorf("%w: the header counts %d records, more than this platform's address space holds", ErrCorrupt, n)
	}
	if need := b.dataOffset + 8*(n+1); need > len(b.idx.Bytes()) {
		if err := idx.growShared(0); err != nil {
			return err
		}
		b.attach()
		if need > len(b.idx.Bytes()) {
			return fmt.Errorf("%w: the header counts %d records, the %d-byte offsets file holds fewer", ErrCorrupt, n, len(b.idx.Bytes()))
		}
	}
	end := b.offs[n]
	if end > int64(len(b.data)) && end <= math.MaxInt {
		if err := dat.growShared(0); err != nil {
			return err
		}
		b.attach()
	}
	if end < 0 || end > int64(len(b.data)) || n > 0 && b.offs[n-1] > end {
		return fmt.Errorf("%w: the %d records end at byte %d, outside the %d-byte data file", ErrCorrupt, n, end, len(b.data))
	}
	return nil
}

// refreshShared is Refresh for a Shared writer: it counts the records
// every writer published, mapping what they grew the files to.
func (b *Bytes) refreshShared() (n int, err error) {
	defer catchFault(b.shared.file, "refresh", debug.SetPanicOnFault(true), &err)
	n = int(b.length.Load())
	if err := b.mapShared(n); err != nil {
		return b.n, b.wrap("refresh", err)
	}
	b.n = n
	return n, nil
}

// appendShared is Push and Append for a Shared writer: the records ps,
// written at the end of the records as the holder of the append lock, all
// of them counted at once.
func (b *Bytes) appendShared(op string, ps [][]byte) (err error) {
	if err := b.writable(op); err != nil {
		return err
	}
	if len(ps) == 0 {
		return nil
	}
	var total int64
	for _, p := range ps {
		if total += int64(len(p)); total < 0 {
			return b.wrap(op, errors.New("the records' bytes overflow int64"))
		}
	}
	// A record of this Bytes's own (At's view) is copied first: a region
	// that cannot grow in place (a File on Windows) moves.
	cloned := false
	for i, p := range ps {
		if q := b.detach(p); len(q) > 0 && &q[0] != &p[0] {
			if !cloned {
				ps, cloned = slices.Clone(ps), true // the caller's slice stays as it was
			}
			ps[i] = q
		}
	}
	defer catchFault(b.shared.file, op, debug.SetPanicOnFault(true), &err)
	s := b.shared
	if err := s.hold(); err != nil {
		return err
	}
	defer s.letGo()
	n, start, err := b.heldEnd(op)
	if err != nil {
		return err
	}
	if total > math.MaxInt64-start {
		return b.wrap(op, errors.New("the records' bytes overflow int64"))
	}
	if err := b.roomShared(op, n+len(ps), start+total); err != nil {
		return err
	}
	at := start
	for _, p := range ps {
		copy(b.data[at:], p)
		at += int64(len(p))
	}
	if pushStep != nil {
		pushStep()
	}
	at = start
	for i, p := range ps {
		at += int64(len(p))
		b.offs[n+1+i] = at
	}
	if pushStep != nil {
		pushStep()
	}
	b.publishShared(n + len(ps))
	return nil
}

// pushFuncShared is PushFunc for a Shared writer: f writes the record in
// place at the end of the records, as the holder of the append lock, which
// it holds while f runs (other writers wait for it).
func (b *Bytes) pushFuncShared(f func(buf []byte) ([]byte, error)) (err error) {
	if err := b.writable("push"); err != nil {
		return err
	}
	defer catchFault(b.shared.file, "push", debug.SetPanicOnFault(true), &err)
	s := b.shared
	if err := s.hold(); err != nil {
		return err
	}
	defer s.letGo()
	n, start, err := b.heldEnd("push")
	if err != nil {
		return err
	}
	// Room for the spare bytes if the files can grow by them, else (a
	// nearly full disk) whatever is there, as PushFunc's.
	if err := b.roomShared("push", n+1, start+spareRoom); err != nil {
		if err := b.roomShared("push", n+1, start); err != nil {
			return err
		}
	}
	spare := b.data[start:start:len(b.data)]
	p, err := f(spare)
	if err != nil {
		return b.wrap("push", fmt.Errorf("the record's writer: %w", err))
	}
	if len(p) > 0 && (len(p) > cap(spare) || &p[0] != &b.data[start]) {
		// f outgrew the space, or returned other bytes: copied in.
		p = b.detach(p)
		if err := b.roomShared("push", n+1, start+int64(len(p))); err != nil {
			return err
		}
		copy(b.data[start:], p)
	}
	if pushStep != nil {
		pushStep()
	}
	b.offs[n+1] = start + int64(len(p))
	if pushStep != nil {
		pushStep()
	}
	b.publishShared(n + 1)
	return nil
}

// heldEnd returns, for the holder of the append lock, the number of
// records every writer published and where their bytes end, having mapped
// both files that far.
func (b *Bytes) heldEnd(op string) (n int, end int64, err error) {
	n = int(b.length.Load())
	if err := b.mapShared(n); err != nil {
		return 0, 0, b.wrap(op, err)
	}
	return n, b.offs[n], nil
}

// roomShared makes the holder's files hold count records whose bytes end
// at end, growing either by the growth policy (grownSize) or, if that
// does not fit, by what is needed alone: the disk fills up to its last
// page before a push fails, and a push that fails leaves the Bytes as it
// was.
func (b *Bytes) roomShared(op string, count int, end int64) error {
	if end > math.MaxInt || count > (math.MaxInt-b.dataOffset)/8-1 {
		return b.wrap(op, fmt.Errorf("%d records of %d bytes do not fit in this platform's address space", count, end))
	}
	idx, dat := b.sharedFiles()
	if int(end) > len(b.data) || b.dataOffset+8*(count+1) > len(b.idx.Bytes()) {
		// No wake-up may use the wake word while its region moves.
		b.waker.stop()
	}
	err := growSharedTo(dat, int(end), grownSize)
	if err == nil {
		err = growSharedTo(idx, b.dataOffset+8*(count+1), grownSize)
	}
	b.attach()
	if err != nil {
		return b.wrap(op, err)
	}
	return nil
}

// publishShared stores the length n, after the records' bytes and offsets,
// wakes the followers and Shared writers asleep in Wait, and counts the
// records in this writer's view.
func (b *Bytes) publishShared(n int) {
	b.length.Store(uint64(n))
	if pushStep != nil {
		pushStep()
	}
	if b.wake().Load()&1 != 0 {
		wakeFollowers(b.wake(), &b.waker, nil)
	}
	b.n = n
}

// readyDead is a Bytes's part of a takeover from a dead writer (see
// sharedWriter.readyDead): the blocks of both files past what the
// published records hold, which that writer may have grown the files by
// without readying. A length past what the files hold (a power loss's,
// which an open then trusts less of: see open) readies from the last
// offset they hold.
func (b *Bytes) readyDead() error {
	idx, dat := b.sharedFiles()
	if err := idx.growShared(0); err != nil {
		return b.wrap("push", err)
	}
	if err := dat.growShared(0); err != nil {
		return b.wrap("push", err)
	}
	b.attach()
	n := int(min(b.length.Load(), uint64(len(b.offs)-1)))
	end := min(max(b.offs[n], 0), int64(len(b.data)))
	if err := idx.r.ReadyShared(b.dataOffset + 8*(n+1)); err != nil {
		return b.wrap("push", err)
	}
	if err := dat.r.ReadyShared(int(end)); err != nil {
		return b.wrap("push", err)
	}
	return nil
}

// syncShared is Sync for a Shared writer: inside the append lock, so that
// no other writer's Sync records beside it, nor pushes, it makes durable
// every record published so far, with the durability record that the
// header keeps for all writers (as a vector's Shared Sync does).
func (b *Bytes) syncShared() (err error) {
	if b.failed != nil {
		return b.wrap("sync", b.failed)
	}
	defer catchFault(b.shared.file, "sync", debug.SetPanicOnFault(true), &err)
	if err := b.shared.hold(); err != nil {
		return err
	}
	defer b.shared.letGo()
	if _, err := b.refreshShared(); err != nil {
		return err
	}
	ib := b.idx.Bytes()
	b.base = int(format.Word64At(ib, format.OffBase).Load())
	b.durable = max(b.base, int(format.Word64At(ib, format.OffChecked1).Load()), int(format.Word64At(ib, format.OffChecked2).Load()))
	return b.sync()
}

// waitShared is Wait for a Shared writer, as a vector's (see
// MemVec.waitShared): it gives the append lock up if it holds it, then
// sleeps on the wake word every writer's push wakes, until the writers
// have published more than n records, and refreshes.
func (b *Bytes) waitShared(ctx context.Context, n int) (m int, err error) {
	defer catchFault(b.shared.file, "wait", debug.SetPanicOnFault(true), &err)
	if b.length.Load() <= uint64(n) {
		b.shared.release()
	}
	return b.shared.waits.waitFor(ctx, n, "records", b.wake, b.refreshShared, func() bool { return b.length.Load() > uint64(n) }, b.wrap)
}

// openShared is open for a Shared writer: a header already there is
// checked, and the writer claims it inside the append lock, as a vector's
// Shared writer does; of writers that open a new Bytes at once one
// creates it, under the creation lock, and the others find its header.
func (b *Bytes) openShared(made bool) error {
	idx, dat := b.sharedFiles()
	b.shared = newSharedWriter(idx)
	b.shared.readyDead = b.readyDead
	b.dataOffset = int(format.DataOffsetFor(bytesBody))
	if ib := b.idx.Bytes(); len(ib) == 0 || format.IsBlank(ib) {
		if err := idx.r.LockCreation(); err != nil {
			return b.wrap("create", err)
		}
		defer idx.r.UnlockCreation()
		if err := idx.growShared(0); err != nil {
			return b.wrap("create", err)
		}
		if ib := b.idx.Bytes(); len(ib) == 0 || format.IsBlank(ib) {
			if err := b.open(made); err != nil {
				return err
			}
			// A new header: the creator holds the lock.
			b.shared.lock.Store(b.shared.id)
			return nil
		}
	}
	ib := b.idx.Bytes()
	if err := b.readHeader(ib); err != nil {
		return err
	}
	b.attach()
	b.shared.join()
	if err := b.shared.hold(); err != nil {
		return err
	}
	defer b.shared.letGo()
	// Others may have pushed, and grown the files, since the header was
	// read; after a reboot no writer has claimed the Bytes yet if its boot
	// identifier is still the old one, and the length word may count what
	// the power loss took.
	if err := idx.growShared(0); err != nil {
		return b.wrap("open", err)
	}
	if err := dat.growShared(0); err != nil {
		return b.wrap("open", err)
	}
	b.attach()
	return b.open(false)
}

// closeShared is Close's part for a Shared writer: it records nothing
// (other writers append on; Sync makes theirs and its records durable)
// and cuts nothing: it gives up the append lock.
func (b *Bytes) closeShared() {
	if b.length != nil {
		b.shared.release()
	}
}

// errShared returns the error of op, refused on a Shared writer.
func (b *Bytes) errShared(op string) error {
	return b.wrap(op, fmt.Errorf("%w: other writers append beside this one", ErrShared))
}
