//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || windows)

package region

import (
	"errors"
	"os"
)

// replaceFile is never reached: there are no files here (see openFile), so
// Migrate fails at the open of the old file.
func ReplaceFile(tmp, path string, release func() error, step func(string)) (bool, error) {
	return false, errors.Join(errors.ErrUnsupported, release())
}

// AdoptOwnership is never reached either.
func (f *File) AdoptOwnership(old os.FileInfo, perm bool) error { return nil }
