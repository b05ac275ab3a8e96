//go:build linux || windows

package memvec

// followerLockOffset is the byte a follower locks, shared, for as long as it
// follows the file (see follow.go): one past the byte a Windows writer
// locks (2^62), far past the end of any file. Only the systems with a lock
// that belongs to the descriptor use it.
const followerLockOffset = 1<<62 + 1
