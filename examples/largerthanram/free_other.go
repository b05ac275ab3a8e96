//go:build !(linux || darwin || freebsd || dragonfly || windows)

package main

// freeSpace reports that this program cannot tell the free space here
// (OpenBSD, NetBSD and Solaris name the call and its fields differently):
// it writes without checking.
func freeSpace(dir string) (uint64, bool, error) { return 0, false, nil }
