//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || windows)

package memvec

import (
	"errors"
	"os"
)

// replaceFile is never reached: there are no files here (see openFile), so
// Migrate fails at the open of the old file.
func replaceFile(tmp, path string, release func() error) (bool, error) {
	return false, errors.Join(errors.ErrUnsupported, release())
}

// adoptOwnership is never reached either.
func adoptOwnership(f *File, old os.FileInfo, perm bool) error { return nil }
