//go:build unix

package main

import "syscall"

// openNoWait is the flag that makes an open return at once rather than
// wait, as open(2) of a named pipe for reading waits for a writer.
const openNoWait = syscall.O_NONBLOCK
