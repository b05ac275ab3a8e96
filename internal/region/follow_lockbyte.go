//go:build linux || windows

package region

// FollowerLockOffset is the byte a follower locks, shared, for as long as it
// follows the file (the root package's follow.go): one past the byte a Windows writer
// locks (2^62), far past the end of any file. Only the systems with a lock
// that belongs to the descriptor use it.
const FollowerLockOffset = 1<<62 + 1

// writerLockOffset is the byte a writer locks, exclusively, for as long as
// it has the file open, besides the file's lock: the writer's flock on
// Linux is invisible to a follower's lock test (flock and byte-range
// locks do not meet there), and on Windows a follower could test the
// writer's own lock byte only by taking it, which would make a writer's
// open at that instant fail. A follower tests this byte instead (see
// writerAttached). Only the systems with a lock that belongs to the
// descriptor use it.
const writerLockOffset = 1<<62 + 2
