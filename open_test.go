//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || windows

package memvec

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// specialOpens are the ways to open a path that openSpecialChild knows, by
// name: each returns the open's error, closing what it opened.
var specialOpens = map[string]func(path string) error{
	"Open":           func(path string) error { return closed(Open[point](path)) },
	"Open MustExist": func(path string) error { return closed(Open[point](path, MustExist())) },
	"Open ReadOnly":  func(path string) error { return closed(Open[point](path, ReadOnly())) },
	"Open Follow":    func(path string) error { return closed(Open[point](path, Follow())) },
	"OpenRaw":        func(path string) error { return closed(OpenRaw(path)) },
	"OpenRaw Follow": func(path string) error { return closed(OpenRaw(path, Follow())) },
	"Migrate":        func(path string) error { return Migrate(path, func(p point) point { return p }) },
}

// closed closes what an open returned, if it returned it, and returns the
// open's error.
func closed[C io.Closer](c C, err error) error {
	if err == nil {
		return c.Close()
	}
	return err
}

// TestOpenDeviceOrDirectory: a device at the path is no vector file
// either (ErrCorrupt), and a directory is EISDIR for a reader as it is for
// a writer, whose open(2) refuses it.
func TestOpenDeviceOrDirectory(t *testing.T) {
	for how, open := range specialOpens {
		err := open(os.DevNull)
		require.ErrorIs(t, err, ErrCorrupt, how)
		require.True(t, strings.HasSuffix(err.Error(), "open "+os.DevNull+": corrupt region: a character device, not a regular file"), "%s: %v", how, err)

		dir := tempDir(t)
		err = open(dir)
		require.ErrorIs(t, err, syscall.EISDIR, how)
		require.NotErrorIs(t, err, ErrCorrupt, how)
	}
}

// TestDiscardRemovesOnlyTheFileItCreated: a File whose vector could not be
// created removes the file if its open created it (CreateNew, or an open
// that found the file missing), and leaves a file that was there before,
// even empty (see File.discard).
func TestDiscardRemovesOnlyTheFileItCreated(t *testing.T) {
	path := filepath.Join(tempDir(t), "a.vec")

	f, err := OpenFile(path, CreateNew())
	require.NoError(t, err)
	require.NoError(t, f.r.Discard())
	require.NoFileExists(t, path)

	f, err = OpenFile(path) // creates it
	require.NoError(t, err)
	require.NoError(t, f.r.Discard())
	require.NoFileExists(t, path)

	require.NoError(t, os.WriteFile(path, nil, 0o644))
	f, err = OpenFile(path) // was there
	require.NoError(t, err)
	require.NoError(t, f.r.Discard())
	require.FileExists(t, path)
	require.ErrorIs(t, f.Sync(), ErrClosed, "discard closes the file")
}
