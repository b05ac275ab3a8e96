//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || windows)

package region

import "errors"

// syncPrefix is never reached: there are no files here (see openFile), so
// Relabel fails at the open.
func (f *File) syncPrefix(n int) error { return errors.ErrUnsupported }
