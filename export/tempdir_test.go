package export

import (
	"testing"

	"github.com/memvec/memvec/internal/testdir"
)

// tempDir returns a new temporary directory, removed when the test ends,
// also under Wine (see package testdir).
func tempDir(t *testing.T) string {
	t.Helper()
	return testdir.New(t, "memvec-export-test-")
}
