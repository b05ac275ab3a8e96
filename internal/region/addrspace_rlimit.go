//go:build unix && !openbsd

package region

import (
	"math"

	"golang.org/x/sys/unix"
)

// addressSpaceLimit returns the process's limit on address space
// (RLIMIT_AS, ulimit -v) in bytes, or math.MaxUint64 if it has none.
func addressSpaceLimit() uint64 {
	var l unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_AS, &l) != nil || uint64(l.Cur) >= math.MaxInt64 {
		return math.MaxUint64
	}
	return uint64(l.Cur)
}
