package memvec

import "sync"

// bootID identifies this boot of the machine: 16 bytes that change at every
// boot and are the same for every process until the next, or all zero where
// the system does not say (then memvec cannot tell a reboot, and trusts a
// file's length as after a process crash; see FORMAT.md, "Power loss").
// Tests replace it to simulate a reboot.
var bootID = sync.OnceValue(readBootID)
