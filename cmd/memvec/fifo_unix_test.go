//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestCommandsRefuseANamedPipe: a named pipe (FIFO) at FILE is no vector
// file. Every command says so and exits with status 1, at once, rather
// than wait in open(2) for a writer to the pipe that never comes: the
// command runs as a process that the test kills, and fails, if it has not
// ended within 30 seconds.
func TestCommandsRefuseANamedPipe(t *testing.T) {
	path := filepath.Join(tempDir(t), "pipe.vec")
	require.NoError(t, unix.Mkfifo(path, 0o644))
	for _, args := range [][]string{{"check"}, {"info"}, {"dump"}, {"dump", "-follow"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := memvecCmd(t, ctx, append(args, path)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		require.NoError(t, ctx.Err(), "memvec %s of a named pipe did not end within 30 s", strings.Join(args, " "))
		cancel()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "memvec %s: %v", strings.Join(args, " "), err)
		require.Equal(t, 1, exit.ExitCode(), args)
		require.Empty(t, out.String(), args)
		require.Equal(t, "memvec: open "+path+": corrupt region: a named pipe (FIFO), not a regular file\n", errOut.String(), args)
	}
}
