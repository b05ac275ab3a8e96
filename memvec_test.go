package memvec

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// point is the element type most tests use: 24 bytes, three float64.
type point struct{ X, Y, Z float64 }

// vecPath returns the path of a new vector file in a fresh temporary
// directory.
func vecPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "test.vec")
}

// openFile opens a vector file, failing the test on error, and closes it
// when the test ends.
func openVec[T any](t testing.TB, path string, opts ...Option) *MemVec[T] {
	t.Helper()
	v, err := Open[T](path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { v.Close() })
	return v
}
