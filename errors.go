package memvec

import "github.com/memvec/memvec/internal/errs"

// The errors below are the sentinels of the contract. Every error the package
// returns for one of these conditions wraps the sentinel together with what
// went wrong and where (the file's path, the offending field), so match them
// with errors.Is, never by comparing strings. System errors (ENOSPC, EACCES,
// ...) are wrapped as well, so errors.Is finds them too.
//
// Every message, of an error or of a panic, has one form:
//
//	memvec: <op> <region>: <what>
//
// op is what was being done (open, lock, map, resize, sync, write, pop,
// set, ...), region what it was done to (a file's path; "anonymous memory";
// for another Memory its Name, or else its Go type), and what the cause,
// ending with the sentinel's or the system's text, as in
// "memvec: lock /tmp/a.vec: file is locked by another handle" or
// "memvec: open /tmp/a.vec: Reading.Sensor is a string: unsupported
// element type". Out-of-range indices panic as they do for a slice, with
// the runtime's message, except where the vector checks an index or a
// count itself (Insert, Truncate, Delete, Replace and the like), and for
// an index into a closed vector (Index, Set, Remove: "memvec: index
// /tmp/a.vec: closed"), whose panics use this form.
var (
	// ErrUnsupportedType reports an element type that is not plain data: it
	// holds a pointer, string, slice, map, channel, func, interface,
	// unsafe.Pointer or uintptr somewhere inside. The message names the
	// offending field path, as in "Rec.Tags[0].Name is a string", or the
	// type itself, as in "element type string is a string".
	ErrUnsupportedType = errs.ErrUnsupportedType

	// ErrTypeMismatch reports an existing region that was written for another
	// element layout (size, alignment, field paths, kinds or offsets, text
	// fields). A type with the same layout under another Go type name is
	// accepted; one whose fields were renamed or reordered is not, nor one
	// that differs only in explicit padding (a _ [4]byte field where Go
	// would pad) (see the package documentation on element types). The
	// message says where the layouts first differ and gives both, from the
	// layout the file stores: "first difference: the region has Min f64@0,
	// the type Max f64@0; the region holds ...". Relabel and Migrate return
	// it too, for a file that is not a vector of the type they expect, and
	// so does Open for a file of another container (its header's kind):
	// "the file holds a bytes, not a vector".
	ErrTypeMismatch = errs.ErrTypeMismatch

	// ErrCorrupt reports an existing region that is not a memvec region, or
	// whose header contradicts itself or the region's size. The message says
	// which field is wrong. A named pipe (FIFO), a device or a socket at a
	// file's path is not a memvec region either: the message says what it
	// is.
	ErrCorrupt = errs.ErrCorrupt

	// ErrLocked reports that another handle, in this process or another,
	// holds the file's lock, and that it was not released within the
	// LockTimeout (by default the open fails at once).
	ErrLocked = errs.ErrLocked

	// ErrReadOnly reports a mutator called on a read-only vector or memory.
	// Mutators without an error result panic with a message instead.
	ErrReadOnly = errs.ErrReadOnly

	// ErrRewritten is returned by a follower's Refresh and Wait (see Follow)
	// when the writer has, since the follower's previous call, changed or
	// dropped elements the follower could see (Set, Insert, Remove,
	// SwapRemove, Pop, Truncate, Clear and the like), or is doing so now.
	// The follower has refreshed all the same; what it read before may have
	// changed, so it should read again what it relies on.
	ErrRewritten = errs.ErrRewritten

	// ErrSyncFailed reports that a barrier of this handle failed: a Sync, or
	// the one that a rewrite (Set, Insert and the like, below what a Sync
	// made durable) or Close makes. What it covered may be lost, though the
	// handle still reads it: on Linux the kernel marks the pages whose
	// write-back failed clean, reports the error once, and may drop them at
	// any moment, after which they read as the disk holds them. So the
	// failure is for good: the failing call, every later Sync and Close, and
	// every later mutator that returns an error return an error wrapping
	// ErrSyncFailed and the barrier's own error (ENOSPC, EIO, ...), and the
	// vector counts only the elements that the last Sync to succeed made
	// durable (see MemVec.Sync). Open the file again: a new handle counts
	// what is on the disk.
	ErrSyncFailed = errs.ErrSyncFailed

	// ErrFollowed reports that a writer's Clip brought the capacity down
	// but could not cut the file: followers (see Follow) may map the bytes
	// past the elements, and a cut would fault them. The file keeps its
	// size and its disk blocks until a Clip or a Close finds no follower
	// attached; on macOS, the BSDs and Solaris, where a writer cannot see
	// followers, it always keeps them (see MemVec.Clip).
	ErrFollowed = errs.ErrFollowed

	// ErrShared reports an operation that a vector opened with Shared
	// does not allow, because other Shared writers, in this process or
	// others, append beside it: an operation that rewrites or drops
	// elements below the end (Truncate, Clear, Pop, Insert, Remove,
	// SwapRemove and the like), or cuts the file (Clip), or replaces it
	// (Migrate, Relabel). Push, Append, Set, writes through Slice, Sync
	// and Refresh are allowed (see Shared).
	ErrShared = errs.ErrShared

	// ErrClosed reports a vector or memory used after Close.
	ErrClosed = errs.ErrClosed

	// ErrFileChanged reports that the file was truncated, removed or
	// replaced by another program while this handle had it open: a file
	// shorter than the handle made it, or a path that no longer names the
	// file. A writer finds it when it grows the file, at Sync and at Close;
	// a follower or a Raw when a read of the mapped header faults because
	// the file was cut under it. Nothing more is written to the file through
	// this handle: its Sync, Close and growth return the error, and Close
	// still releases the mapping and the lock. The message says what
	// changed, as in "memvec: sync /p/x.vec: the file was cut to 4096 bytes
	// by another program, the vector had 8000064: file changed under this
	// handle".
	ErrFileChanged = errs.ErrFileChanged

	// ErrUnaligned reports a user-supplied Memory whose Bytes do not start at
	// an 8-byte aligned address (the header's length is an atomic uint64) or
	// at the alignment of the element type, whichever is larger.
	ErrUnaligned = errs.ErrUnaligned
)

// corrupt returns an error wrapping ErrCorrupt with the detail.
func corrupt(format string, args ...any) error { return errs.Corruptf(format, args...) }
