//go:build dragonfly || freebsd || linux || netbsd || openbsd || solaris

package region

// msyncReachesDisk says whether msync(MS_SYNC) alone makes a mapping's
// pages durable. Here it writes them and waits for them (on Linux it is an
// fsync of the range, the drive's cache flushed too), so a File's Sync
// adds an fsync only when the file's size, which msync does not cover,
// changed.
const msyncReachesDisk = true
