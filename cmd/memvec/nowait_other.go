//go:build !unix

package main

// openNoWait is 0 where opening a path never waits on what it names
// (Windows), or where there is no flag for it.
const openNoWait = 0
