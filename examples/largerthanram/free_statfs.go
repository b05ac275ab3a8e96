//go:build linux || darwin || freebsd || dragonfly

package main

import "golang.org/x/sys/unix"

// freeSpace returns the bytes of the filesystem of dir that an unprivileged
// user may still write, and true: the check this program makes before it
// writes.
func freeSpace(dir string) (uint64, bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), true, nil
}
