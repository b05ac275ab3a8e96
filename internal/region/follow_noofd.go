//go:build !linux && !windows

package region

import (
	"errors"
	"fmt"
	"os"
)

// lockFollower takes no lock: these systems have no byte-range lock that
// belongs to a descriptor. Their fcntl locks belong to the process (any
// close of the file in the process drops them all) and, on the BSDs and
// macOS, conflict with the writer's flock of the whole file.
func lockFollower(osf *os.File) error { return nil }

// markWriter does nothing here: there is no lock a follower could test
// without keeping a writer out (see writerAttached).
func markWriter(osf *os.File, shared bool) {}

// writerAttached reports that it cannot tell whether a writer holds the
// file: these systems have no byte-range lock that belongs to a
// descriptor, and a follower that took the file's lock, even shared and
// for an instant, to test it would make a writer's open fail meanwhile.
func writerAttached(osf *os.File) (bool, error) {
	return false, fmt.Errorf("a follower cannot tell here whether a writer holds the file: %w", errors.ErrUnsupported)
}

// followersAttached reports that followers may be attached, always: the
// writer cannot tell, so it never truncates a file here (see File.Resize).
func followersAttached(osf *os.File) (bool, error) { return true, nil }
