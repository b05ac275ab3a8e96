// Package testdir gives the module's tests a temporary directory that is
// removed when the test ends, also under Wine: t.TempDir removes its
// directory with os.RemoveAll, which fails under Wine 8 (Go 1.26's
// RemoveAll on Windows asks for a file-information class Wine does not
// implement), failing every test that uses it there.
package testdir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// New returns a new temporary directory whose name begins with prefix,
// removed when the test ends (see RemoveTree); a removal that fails is a
// test error.
func New(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatalf("make a temporary directory: %v", err)
	}
	t.Cleanup(func() {
		if err := RemoveTree(dir); err != nil {
			t.Errorf("remove the test's temporary directory: %v", err)
		}
	})
	return dir
}

// RemoveTree removes dir and everything in it, trying os.RemoveAll first
// and falling back to os.Remove of each entry, deepest first.
func RemoveTree(dir string) error {
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
