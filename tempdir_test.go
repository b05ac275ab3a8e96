package memvec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// tempDir returns a new temporary directory, removed when the test ends: the
// tests' t.TempDir. t.TempDir removes its directory with os.RemoveAll, which
// fails under Wine 8 (Go 1.26's RemoveAll on Windows asks for a
// file-information class Wine does not implement), failing every test that
// uses it there. This removes the entries one by one when RemoveAll fails.
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "memvec-test-")
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := removeTree(dir); err != nil {
			t.Errorf("remove the test's temporary directory: %v", err)
		}
	})
	return dir
}

// removeTree removes dir and everything in it, trying os.RemoveAll first
// and falling back to os.Remove of each entry, deepest first.
func removeTree(dir string) error {
	if os.RemoveAll(dir) == nil {
		return nil
	}
	var paths []string
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		paths = append(paths, path) // a directory comes before what it holds
		return err
	})
	var errs []error
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if err := os.Remove(paths[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
