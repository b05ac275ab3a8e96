//go:build linux || windows

package memvec

// followerLockOffset is the byte a follower locks, shared, for as long as it
// follows the file: one past the byte a Windows writer locks (2^62), far
// past the end of any file. Only Linux (an open-file-description lock) and
// Windows (LockFileEx) have a lock that the writer can test and that
// belongs to the follower's descriptor; elsewhere followers lock nothing
// (follow_noofd.go).
const followerLockOffset = 1<<62 + 1
