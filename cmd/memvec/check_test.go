package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/memvec/memvec"
	"github.com/stretchr/testify/require"
)

// pushNoCloseEnv, set to a path, makes the test binary push 1000 Vec3 to
// the vector file there and exit without Sync or Close: a writer that
// leaves elements no Sync made durable.
const pushNoCloseEnv = "MEMVEC_TEST_PUSH_NO_CLOSE"

func init() {
	path := os.Getenv(pushNoCloseEnv)
	if path == "" {
		return
	}
	v, err := memvec.Open[Vec3](path)
	if err == nil {
		for i := range 1000 {
			if err = v.Push(Vec3{X: float64(i)}); err != nil {
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(0) // no Close
}

// TestCheckNonDurableTail: a writer process that exits without Sync or
// Close leaves 1000 elements that every reader counts on this boot but a
// reader after a reboot would not. check says so on its summary line and
// exits 0 (the file is valid); check -durable exits 3. Once a writer has
// closed the file, every element is durable: 0 for both.
func TestCheckNonDurableTail(t *testing.T) {
	path := filepath.Join(tempDir(t), "tail.vec")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := memvecCmd(t, ctx)
	w.Env = append(w.Env, pushNoCloseEnv+"="+path)
	out, err := w.CombinedOutput()
	require.NoError(t, err, "%s", out)

	in := fileInfo(t, path)
	require.Equal(t, 1000, in.Len)
	if in.Rebooted {
		t.Fatal("a file written on this boot reads as rebooted")
	}
	stdout, stderr, status := memvecRun(t, path, "check", path)
	require.Equal(t, 0, status, stderr)
	require.Equal(t, "FILE: valid, 1000 elements of main.Vec3; 1000 not durable yet: after a reboot, a reader would count 0 elements\n", stdout)
	require.Empty(t, stderr)
	stdout, stderr, status = memvecRun(t, path, "check", "-durable", path)
	require.Equal(t, 3, status, "check -durable of a file a reboot would cut: %s", stderr)
	require.Equal(t, "FILE: valid, 1000 elements of main.Vec3; 1000 not durable yet: after a reboot, a reader would count 0 elements\n", stdout)

	v, err := memvec.Open[Vec3](path)
	require.NoError(t, err)
	require.NoError(t, v.Close())
	for _, args := range [][]string{{"check", path}, {"check", "-durable", path}} {
		stdout, stderr, status = memvecRun(t, path, args...)
		require.Equal(t, 0, status, "%v: %s", args, stderr)
		require.Equal(t, "FILE: valid, 1000 elements of main.Vec3\n", stdout, args)
	}
}

// TestCheckSaysWhatReplacedThePath: a path that another program replaced
// by a directory between check's two opens is named as a directory with
// its mode as ls prints it, not as "d---------".
func TestCheckSaysWhatReplacedThePath(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows does not let another program remove a file that check has open")
	}
	path := writeVec(t, Vec3{1, 2, 3})
	checkReopens = func(path string) {
		require.NoError(t, os.Remove(path))
		require.NoError(t, os.Mkdir(path, 0o755))
	}
	defer func() { checkReopens = nil }()
	var stdout, stderr bytes.Buffer
	err := check(path, false, &stdout, &stderr)
	require.ErrorIs(t, err, memvec.ErrCorrupt)
	fi, serr := os.Stat(path)
	require.NoError(t, serr)
	require.Equal(t, fmt.Sprintf("memvec: check %s: the path names another file now, a directory (%v), not a regular file: corrupt region", path, fi.Mode()), err.Error())
	require.Regexp(t, `\(drwx`, err.Error())
}
