//go:build unix && !openbsd

package memvec

import (
	"math"

	"golang.org/x/sys/unix"
)

// addressSpaceLimit returns the process's limit on address space
// (RLIMIT_AS, ulimit -v) in bytes, or math.MaxInt if it has none.
func addressSpaceLimit() int {
	var l unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_AS, &l) != nil || l.Cur >= math.MaxInt {
		return math.MaxInt
	}
	return int(l.Cur)
}
