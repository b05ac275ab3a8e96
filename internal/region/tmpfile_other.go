//go:build darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package region

import "errors"

// errNoTmpfile says that openTmpfile cannot make an unnamed file here: the
// caller makes one by removing a new file's name (createRemoved).
var errNoTmpfile = errors.New("no O_TMPFILE")

// TryTmpfile is Linux's switch for O_TMPFILE, which these systems lack.
var TryTmpfile = false

// openTmpfile returns errNoTmpfile: these systems have no O_TMPFILE, so
// an unnamed file is a new one whose name is removed at once.
func openTmpfile(dir string) (int, error) { return -1, errNoTmpfile }
