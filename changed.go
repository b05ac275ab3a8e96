package memvec

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// A file changed by another program.
//
// The lock of a vector file keeps out other memvec handles, not a program
// that ignores it: one that truncates the file, removes it or renames
// another file over its path while memvec has it open. What that does to
// the processes that map the file:
//
//   - A writer goes on writing a file that no path leads to, or into pages
//     that are no longer the file's. It cannot see that on Push's fast path
//     (no system call there), but it looks where it makes system calls
//     anyway: its growth, Sync and Close compare the file's size with the
//     size the writer gave it, and the file the path names with the one it
//     has open (File.checkFile). Once it finds the file changed, it writes
//     nothing more to it: not the header, not the elements, not a growth
//     that would extend the file from the size it remembers and so bring
//     back the cut bytes as zeros. Its Sync, Close and growth return an
//     error wrapping ErrFileChanged, its Push refuses from then on, and Close
//     still releases the mapping and the lock. A Push into a page that the
//     cut took, before that, is a SIGBUS that the library cannot prevent.
//   - A follower (or a Raw) loads the header's words from a mapping of the
//     file: once the file is cut below them, the load faults. memvec's own
//     loads (in New, Refresh, Wait and Raw's) run with the runtime's
//     SetPanicOnFault, so that the fault is an error wrapping
//     ErrFileChanged, not the end of the program (catchFault). Reading the
//     elements through a view (Slice, Index, Elem) is the program's own
//     read, and faults as a read past the end of any mapped file does.

// fileChecker is implemented by a Memory that other programs can change
// under the vector (a *File: see File.checkFile).
type fileChecker interface {
	// checkFile returns an error wrapping ErrFileChanged if the memory
	// was changed under its writer, and keeps returning it.
	checkFile() error
}

// checkFile returns nil, or an error wrapping ErrFileChanged if another
// program has changed the vector's file under this writer (see
// File.checkFile). The vector then stops writing to it: the mutators that
// return an error return this one (see writable), and Push's fast path,
// whose capacity ends at the length from then on, takes the slow path,
// which does.
func (v *MemVec[T]) checkFile() error {
	if v.changed != nil {
		return v.changed
	}
	fc, ok := v.mem.(fileChecker)
	if !ok {
		return nil
	}
	if err := fc.checkFile(); err != nil {
		v.changed = err
		v.attach(v.mem.Bytes(), len(v.s))
	}
	return v.changed
}

// catchFault turns a memory fault in memvec's own accesses of the mapped
// file f into an error: the fault of a file that another program cut under
// the mapping. A method that makes such accesses defers it first thing,
// as
//
//	defer catchFault(f, "refresh", debug.SetPanicOnFault(true), &err)
//
// so that a fault in its goroutine, while it runs, panics instead of
// crashing the program (runtime/debug.SetPanicOnFault). catchFault puts the
// setting back as it was (wasOn), recovers the fault's panic and sets *err
// to an error wrapping ErrFileChanged, in the form "memvec: <op> <path>:
// the file was cut to N bytes by another program, ...". Any other panic
// goes on as it was. Only a File's accesses are guarded so: the memory of
// a Memory of the program's own faults as it did.
//
// It costs a few nanoseconds: the two settings and a deferred call that
// finds nothing to recover.
func catchFault(f *File, op string, wasOn bool, err *error) {
	debug.SetPanicOnFault(wasOn)
	r := recover()
	if r == nil {
		return
	}
	if !isFault(r) {
		panic(r)
	}
	*err = fmt.Errorf("memvec: %s %s: %w", op, f.r.Path(), f.readFault())
}

// ignoreFault is catchFault for a goroutine of memvec's own whose accesses
// of the mapping have no one to report to: the follower's goroutine finds
// the same fault, and reports it (see sleepOnWake).
func ignoreFault(wasOn bool) {
	debug.SetPanicOnFault(wasOn)
	if r := recover(); r != nil {
		if !isFault(r) {
			panic(r)
		}
	}
}

// isFault reports whether r, recovered, is a memory fault: the
// runtime.Error that SetPanicOnFault makes of one, which has an Addr
// method. (A nil pointer's fault, also a runtime.Error, has none.)
func isFault(r any) bool {
	_, isRuntime := r.(runtime.Error)
	_, hasAddr := r.(interface{ Addr() uintptr })
	return isRuntime && hasAddr
}
