package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memvec/memvec"
	"github.com/stretchr/testify/require"
)

// followDump starts dump -follow with args on the file at path, and returns
// the command, a function that returns its next line of output (failing
// the test if there is none within ctx), and its standard error.
func followDump(t *testing.T, ctx context.Context, path string, args ...string) (*exec.Cmd, func() string, *bytes.Buffer) {
	t.Helper()
	cmd := memvecCmd(t, ctx, append(append([]string{"dump", "-follow"}, args...), path)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
	}()
	next := func() string {
		t.Helper()
		select {
		case l, ok := <-lines:
			require.True(t, ok, "the follower's output ended")
			return l
		case <-ctx.Done():
			t.Fatalf("no line from the follower: %v", ctx.Err())
		}
		return ""
	}
	return cmd, next, &stderr
}

// requireChangedExit requires that the memvec command cmd exits with
// status 1 and says, on standard error, that the file was cut under it:
// not a SIGBUS.
func requireChangedExit(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer, want string) {
	t.Helper()
	err := cmd.Wait()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "dump -follow exited with %v; standard error: %s", err, stderr)
	require.Equal(t, 1, exit.ExitCode(), "standard error: %s", stderr)
	require.Regexp(t, want, stderr.String())
	t.Log(strings.TrimSpace(stderr.String()))
}

// TestDumpFollowFileCutToZero: another program (this test) cuts the file
// to 0 bytes while dump -follow waits for more elements. dump exits with
// status 1 and memvec's error (ErrFileChanged) from its Wait, whose loads
// of the header fault: not with a SIGBUS.
func TestDumpFollowFileCutToZero(t *testing.T) {
	path := writeVec(t, Vec3{X: 0})
	w, err := memvec.Open[Vec3](path)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, w.Push(Vec3{X: 1}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, next, stderr := followDump(t, ctx, path)
	require.Equal(t, "X,Y,Z", next())
	require.Equal(t, "0,0,0", next())
	require.Equal(t, "1,0,0", next())

	require.NoError(t, os.Truncate(path, 0))
	requireChangedExit(t, cmd, stderr, `^memvec: wait `+regexp.QuoteMeta(path)+`: the file was cut to 0 bytes by another program, the vector had [0-9]+: file changed under this handle\n$`)
	require.ErrorIs(t, w.Close(), memvec.ErrFileChanged)
}

// TestDumpFollowElementsCut: dump -follow reads elements that another
// program (this test) cut from the file after the writer pushed them. The
// test stops dump (SIGSTOP) while it waits, has the writer push elements
// in a page of their own, cuts that page from the file and lets dump go
// on: it finds the new elements in the header, which the cut left, and
// reads them in the mapping, where they are no more. dump exits with status 1
// and an error wrapping ErrFileChanged: not with a SIGBUS.
func TestDumpFollowElementsCut(t *testing.T) {
	dir := tempDir(t)
	path := filepath.Join(dir, "test.vec")
	w, err := memvec.Open[Vec3](path)
	require.NoError(t, err)
	defer w.Close()
	const n = 60_000
	require.NoError(t, w.Grow(2*n)) // the file's size stays: dump maps it all at its open
	for i := range n {
		require.NoError(t, w.Push(Vec3{X: float64(i)}))
	}
	// The page that element n starts in, and those after it.
	page := int64(os.Getpagesize())
	r, err := memvec.OpenRaw(path, memvec.Follow())
	require.NoError(t, err)
	in, _ := r.Info()
	require.NoError(t, r.Close())
	cut := (int64(in.DataOffset) + n*24) / page * page
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, next, stderr := followDump(t, ctx, path, "-from", strconv.Itoa(n))
	require.Equal(t, "X,Y,Z", next()) // printed and flushed before its Wait

	require.NoError(t, cmd.Process.Signal(syscall.SIGSTOP))
	awaitStopped(t, cmd.Process.Pid)
	for i := n; i < n+10; i++ {
		require.NoError(t, w.Push(Vec3{X: float64(i)}))
	}
	require.NoError(t, os.Truncate(path, cut))
	require.NoError(t, cmd.Process.Signal(syscall.SIGCONT))

	requireChangedExit(t, cmd, stderr, `^memvec: dump `+regexp.QuoteMeta(path)+`: the file was cut to `+strconv.FormatInt(cut, 10)+` bytes by another program while dump read it: file changed under this handle\n$`)
	require.ErrorIs(t, w.Close(), memvec.ErrFileChanged)
}

// awaitStopped returns once the process pid is stopped by a signal (state
// T in /proc/pid/stat), or fails the test after a minute.
func awaitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		require.NoError(t, err)
		// "pid (comm) state ...", where comm may hold spaces and ")".
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && bytes.HasPrefix(b[i:], []byte(") T")) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("process %d did not stop", pid)
}
