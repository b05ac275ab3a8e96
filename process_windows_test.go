package memvec

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// requireKilled requires that err, from the Wait for a child that kill
// killed, says it was terminated. os.Process.Kill is TerminateProcess with
// exit status 1 on Windows: like SIGKILL it ends the process at once,
// running none of its code, and the status is its only trace (the child
// roles exit with childFailed, not 1, when they fail).
func requireKilled(t *testing.T, err error) {
	t.Helper()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 1, exit.ExitCode())
}

// killedLockWait is how long a test lets a killed child's lock linger.
// Windows releases the locks of a process that dies, but "the time it takes
// ... depends upon available system resources" (LockFileEx's
// documentation): the handle the parent waits on can be signalled first.
const killedLockWait = 10 * time.Second

// spuriousStartError reports whether err, from starting a child process,
// is ERROR_INTERNAL_ERROR, which no bad argument of ours causes: Wine's
// CreateProcess failed so once, in a local CI run's Wine step, while
// TestSharedOpensAtOnce started a dozen children at once ("fork/exec ...:
// Internal error."), and the same test passed in the runs before and
// after. startChildFiles tries such a start again, up to five times, and
// logs each failure.
func spuriousStartError(err error) bool {
	var errno syscall.Errno
	return errors.As(err, &errno) && errno == 1359 // ERROR_INTERNAL_ERROR
}
