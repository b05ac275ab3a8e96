package memvec

import "fmt"

// Memory is a contiguous, resizable region of bytes that a MemVec stores into.
//
// The vector keeps its header (format, element layout, length) at the start
// of the region, so every Memory persists and validates the same way. The
// package ships two: *File, a shared mapping of a file, and *Anon, an
// anonymous private mapping. A user can write another (a heap []byte, a
// shared-memory segment) and hand it to New.
//
// A Memory is used by one vector at a time and need not be safe for
// concurrent use.
//
// A Memory may also have either or both of these methods, which New and the
// vector look for (*File has both):
//
//	ReadOnly() bool
//	Name() string
//
// ReadOnly returning true says that the region must not be written: New
// validates it but writes nothing, not even the header of a new vector
// (an empty or blank region is then an empty vector without one), never
// calls Resize, and the vector's mutators return ErrReadOnly or panic, as
// for a file opened with the ReadOnly option. The region should then be
// mapped read-only, so that a write through a view faults rather than
// goes unnoticed. Name returns what error messages call the region, as
// *File returns its path; without it they call it by its Go type, as in
// "memvec: resize *main.shmMemory: ...".
type Memory interface {
	// Bytes returns the whole region; len(Bytes()) is its size in bytes.
	// It is called after New and after every Resize, never on the hot path.
	// The slice must start at an address aligned to 8 bytes (and to the
	// element type's alignment).
	Bytes() []byte

	// Resize grows or shrinks the region to size bytes, keeping the common
	// prefix. Bytes beyond the old size read as zero. When it fails the
	// region must be unchanged.
	Resize(size int) error

	// Sync makes written bytes durable. It is a no-op where there is nothing
	// to do.
	Sync() error

	// Close releases the region (and, for files, the lock). A second Close
	// returns nil.
	Close() error
}

// readOnlyMemory is the optional ReadOnly method of a Memory (see Memory):
// *File has it, true when opened with ReadOnly or Follow; so may a user's
// Memory.
type readOnlyMemory interface {
	ReadOnly() bool
}

// isReadOnly reports whether mem says its region must not be written.
func isReadOnly(mem Memory) bool {
	ro, ok := mem.(readOnlyMemory)
	return ok && ro.ReadOnly()
}

// namedMemory is the optional Name method of a Memory (see Memory): how
// errors name the region (*File returns its path).
type namedMemory interface {
	Name() string
}

// memoryName returns what error messages call mem: its Name if it has one
// (a File's path), "anonymous memory" for an Anon, and its Go type for any
// other Memory.
func memoryName(mem Memory) string {
	switch m := mem.(type) {
	case namedMemory:
		return m.Name()
	case *Anon:
		return "anonymous memory"
	}
	return fmt.Sprintf("%T", mem)
}
