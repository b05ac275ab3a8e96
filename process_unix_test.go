//go:build unix

package memvec

import (
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireKilled requires that err, from the Wait for a child that kill
// killed, says SIGKILL ended it: what os.Process.Kill sends on Unix.
func requireKilled(t *testing.T, err error) {
	t.Helper()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())
}

// killedLockWait is how long a test lets a killed child's lock linger: not
// at all, since the kernel closes a dying process's files, dropping their
// locks, before its parent's wait returns.
const killedLockWait = 0

// spuriousStartError reports whether err, from starting a child process,
// is worth trying again: never on Unix (see the Windows version).
func spuriousStartError(err error) bool { return false }
