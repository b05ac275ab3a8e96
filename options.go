package memvec

import (
	"io/fs"
	"time"
)

// An Option configures OpenFile and Open.
type Option func(*options)

type options struct {
	readOnly    bool
	lockTimeout time.Duration
	mode        fs.FileMode
}

func buildOptions(opts []Option) options {
	o := options{mode: 0o644}
	for _, opt := range opts {
		opt(&o)
	}
	return o
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
	return func(o *options) { o.lockTimeout = d }
}

// Mode sets the permission bits of a file that OpenFile creates (before the
// umask). The default is 0644. It has no effect on an existing file.
func Mode(perm fs.FileMode) Option {
	return func(o *options) { o.mode = perm.Perm() }
}
