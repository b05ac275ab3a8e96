//go:build darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package memvec

import "os"

// lockFollower takes no lock: these systems have no byte-range lock that
// belongs to a descriptor. Their fcntl locks belong to the process (any
// close of the file in the process drops them all) and, on the BSDs and
// macOS, conflict with the writer's flock of the whole file.
func lockFollower(osf *os.File) error { return nil }

// followersAttached reports that followers may be attached, always: the
// writer cannot tell, so it never truncates a file here (see File.Resize).
func followersAttached(osf *os.File) (bool, error) { return true, nil }
