package memvec

import (
	"fmt"
	"io/fs"
	"time"
)

// An Option configures OpenFile and Open, and (Reserve and Advise only)
// Make and NewAnon.
type Option func(*options)

type options struct {
	readOnly    bool
	follow      bool
	lockTimeout time.Duration
	lockWaits   bool // LockTimeout was given
	mode        fs.FileMode
	reserve     int
	advice      Advice
}

func buildOptions(opts []Option) options {
	o := options{mode: 0o644, reserve: DefaultReserve}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// fileOptions builds the options of OpenFile and refuses those that
// contradict each other.
func fileOptions(path string, opts []Option) (options, error) {
	o := buildOptions(opts)
	switch {
	case o.follow && o.readOnly:
		return o, fmt.Errorf("memvec: open %s: Follow and ReadOnly exclude each other: a follower reads beside a writer, a ReadOnly reader locks writers out", path)
	case o.follow && o.lockWaits:
		return o, fmt.Errorf("memvec: open %s: LockTimeout does not apply to a follower, which takes no lock a writer holds", path)
	}
	return o, nil
}

// ReadOnly opens the file for reading only: it takes a shared lock, so that
// any number of readers may open the file at once but no writer, and maps it
// read-only. The file must exist. Mutators that return an error return
// ErrReadOnly; the others panic. Writing through a view faults.
func ReadOnly() Option {
	return func(o *options) { o.readOnly = true }
}

// LockTimeout makes the open wait up to d for another handle to release the
// file's lock, polling, before it fails with ErrLocked. The default, like a
// d of zero or less, is to fail at once: an open never waits forever.
func LockTimeout(d time.Duration) Option {
	return func(o *options) { o.lockTimeout, o.lockWaits = d, true }
}

// Reserve sets how much address space a region reserves, so that it grows
// in place up to n bytes: views (Slice, pointers into it, running
// iterators) stay valid across growth. Reserved address space costs no
// memory and no disk; only what the vector holds does. Past n bytes the
// region moves to a reservation twice as large and every view taken before
// becomes invalid; that is the only time a region moves. If the system
// refuses the reservation (a ulimit on address space), the region reserves
// only what it needs and moves on every growth. The default is
// DefaultReserve. Reserve applies to Open, OpenFile, Make and NewAnon; a
// read-only file reserves nothing, since it cannot grow, and neither does a
// file on Windows, which is mapped anew at every resize (see File).
func Reserve(n int) Option {
	return func(o *options) { o.reserve = max(n, 0) }
}

// Mode sets the permission bits of a file that OpenFile creates (before the
// umask). The default is 0644. It has no effect on an existing file. On
// Windows, which has no permission bits, a mode without the owner's write
// bit creates the file read-only, and the rest is ignored.
func Mode(perm fs.FileMode) Option {
	return func(o *options) { o.mode = perm.Perm() }
}
