package export

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// tempDir returns a new temporary directory, removed when the test ends.
// t.TempDir's os.RemoveAll fails under Wine 8 (Go's RemoveAll on Windows
// asks for a file-information class Wine does not implement), which fails
// the test; this falls back to removing the entries one by one, deepest
// first.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "memvec-export-test-")
	require.NoError(t, err)
	t.Cleanup(func() {
		if os.RemoveAll(dir) == nil {
			return
		}
		var paths []string
		filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
			paths = append(paths, path)
			return nil
		})
		for i := len(paths) - 1; i >= 0; i-- {
			if err := os.Remove(paths[i]); err != nil {
				t.Errorf("remove the test's temporary directory: %v", err)
			}
		}
	})
	return dir
}
