package region

import (
	"errors"
	"fmt"
	"time"

	"github.com/memvec/memvec/internal/errs"
)

// Shared writers.
//
// Three classes of handle may hold a file: an exclusive writer, Shared
// writers (any number of them at once) and ReadOnly readers (any number
// at once). Each class keeps the other two out; followers are of none and
// are kept out by nobody.
//
// The file's lock (an flock on Unix, a LockFileEx lock on lockOffset on
// Windows) is exclusive for an exclusive writer and shared for the other
// two classes: so an exclusive writer and the rest exclude each other
// through it. Shared writers and ReadOnly readers, both holding it shared,
// exclude each other through two class bytes: a Shared writer holds
// sharedByte shared, a ReadOnly reader readOnlyByte shared, for as long as
// the handle is open. An entrant takes, under a brief exclusive lock of
// entryByte, its own class's byte and then tests the other's; if that one
// is held it gives its own back and tries again later (pollLock, up to the
// LockTimeout). A ReadOnly entrant takes the entry byte shared where a
// descriptor open for reading may take no exclusive lock (Linux): ReadOnly
// entrants never keep each other out, only Shared ones, whose entries are
// exclusive. Entrants of different classes are serialized by the entry
// byte, so the second sees the first's class byte: both never get in. Two
// of one class never keep each other out.
//
// Each Shared writer also holds, exclusively and for its whole life, the
// lock of one slot byte, slotByte(i) for the first i of MaxSharedWriters
// that was free at its open: its identity, id i+1 (see File.SharedID), and
// the proof that it lives, which the kernel gives up when the handle is
// closed or its process dies (a process id is no such proof: it outlives
// nothing and is reused). File.SharedWriterAlive tests it.
//
// The bytes lie far past the end of any file (2^62 and beyond), with the
// follower and writer bytes (follow_lockbyte.go); they are locks only,
// never data. FORMAT.md ("Shared writers") gives the same numbers, so
// that a writer in another language can join.
const (
	sharedByte   = 1<<62 + 3 // held shared by every Shared writer
	readOnlyByte = 1<<62 + 4 // held shared by every ReadOnly reader
	entryByte    = 1<<62 + 5 // held exclusively by an entrant, for the moment of its entry
	createByte   = 1<<62 + 6 // held exclusively by a Shared writer that creates the vector in a new file
	slotBase     = 1<<62 + 1<<20

	// MaxSharedWriters bounds the Shared writers of one file at once: an
	// open past it fails with an error wrapping ErrLocked.
	MaxSharedWriters = 1024
)

// slotByte returns the slot byte of the Shared writer of id id (1 up to
// MaxSharedWriters).
func slotByte(id int) int64 { return slotBase + int64(id) - 1 }

// SharedID returns the identity of a Shared writer's handle: 1 up to
// MaxSharedWriters, the number of the slot byte it holds; 0 for any other
// handle.
func (f *File) SharedID() int { return f.sharedID }

// Shared reports whether the file was opened as a Shared writer.
func (f *File) Shared() bool { return f.sharedID != 0 }

// SharedWriterAlive reports whether a Shared writer of identity id has the
// file open now: whether some handle holds its slot byte. A handle's own
// identity is alive. A writer whose process died is not, once the system
// has released its locks (at once on Linux; on Windows "in time", which
// is milliseconds). An id out of range is not alive.
func (f *File) SharedWriterAlive(id int) (bool, error) {
	switch {
	case id < 1 || id > MaxSharedWriters:
		return false, nil
	case id == f.sharedID:
		return true, nil
	case f.closed:
		return false, nil
	}
	return slotHeld(f.osFile, id)
}

// enterClass takes the class byte own, shared, through osf, once no
// handle holds the class byte other (see "Shared writers" above), trying
// again until timeout has passed (pollLock): then it returns an error
// wrapping errs.ErrLocked.
func enterClass(osf fileHandle, own, other int64, timeout time.Duration) error {
	return pollLock(timeout, func() (bool, error) {
		if err := lockEntry(osf, own == readOnlyByte); err != nil {
			return false, err
		}
		defer unlockEntry(osf)
		if err := shareByte(osf, own); err != nil {
			return false, err
		}
		if ClassTaken != nil {
			ClassTaken()
		}
		held, err := byteInUse(osf, other)
		if held || err != nil {
			releaseByte(osf, own)
		}
		return held, err
	})
}

// ClassTaken, when set by a test, is called by an entrant between taking
// its class byte and testing the other's: to widen that moment.
var ClassTaken func()

// takeSlot takes the first free slot byte, exclusively, through osf, and
// returns its identity (see File.SharedID). All taken is an error wrapping
// errs.ErrLocked: the writers are too many, not waited for.
func takeSlot(osf fileHandle) (int, error) {
	for id := 1; id <= MaxSharedWriters; id++ {
		held, err := tryExclusiveByte(osf, slotByte(id))
		if err != nil {
			return 0, err
		}
		if !held {
			return id, nil
		}
	}
	return 0, fmt.Errorf("%d Shared writers have the file open, the most there may be: %w", MaxSharedWriters, errs.ErrLocked)
}

// lockClass takes, after the file's lock (shared), what a Shared writer
// or a ReadOnly reader holds besides (see "Shared writers"): the class
// byte, and a Shared writer's slot, whose identity it returns. A ReadOnly
// reader on a filesystem that refuses byte-range locks goes without: no
// Shared writer can open the file there either, for want of its slot.
func lockClass(osf fileHandle, o Options, timeout time.Duration) (int, error) {
	switch {
	case o.Shared:
		if err := enterClass(osf, sharedByte, readOnlyByte, timeout); err != nil {
			return 0, err
		}
		id, err := takeSlot(osf)
		if err != nil {
			releaseByte(osf, sharedByte)
		}
		return id, err
	case o.ReadOnly && SharedSupported:
		if err := enterClass(osf, readOnlyByte, sharedByte, timeout); errors.Is(err, errs.ErrLocked) {
			return 0, fmt.Errorf("Shared writers have the file open: %w", err)
		}
	}
	return 0, nil
}

// GrowShared makes a Shared writer's region cover at least size bytes:
// the file's size, grown to size if it is smaller, and never cut (see
// growShared). A size no larger than the region only maps what other
// Shared writers grew the file to.
func (f *File) GrowShared(size int) error {
	if f.closed {
		return errs.ErrClosed
	}
	return f.growShared(size)
}

// ReadyShared readies the disk blocks of the region's bytes from off on:
// what a Shared writer that takes over from a dead one does past the
// length (see readyShared).
func (f *File) ReadyShared(off int) error { return f.readyShared(off) }

// LockCreation takes the creation byte exclusively, waiting for it: the
// Shared writers that open a new file at once create the vector one after
// the other, the first writing the header and the others finding it.
func (f *File) LockCreation() error { return lockCreation(f.osFile) }

// UnlockCreation releases the creation byte.
func (f *File) UnlockCreation() { releaseByte(f.osFile, createByte) }
