package memvec

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
)

// TestOtherProgramCannotChangeMappedFile: on Windows another process can
// neither cut a file that memvec maps (ERROR_USER_MAPPED_FILE), whether a
// writer or only a follower maps it, nor remove it or rename it while
// memvec has it open (a sharing violation: memvec's handles do not share
// the file for deletion). So nothing changes under the writer, whose Sync
// and Close succeed, and its file keeps every element.
func TestOtherProgramCannotChangeMappedFile(t *testing.T) {
	dir := tempDir(t)
	path := filepath.Join(dir, "test.vec")
	w, err := Open[point](path)
	require.NoError(t, err)
	require.NoError(t, w.Append(pts(seq(10_000)...)...))
	require.NoError(t, w.Sync())
	half := strconv.FormatInt(fileSize(t, path)/2, 10)

	err = alterFile(t, path, "truncate", half)
	require.ErrorContains(t, err, windows.ERROR_USER_MAPPED_FILE.Error())
	err = alterFile(t, path, "remove")
	require.ErrorContains(t, err, windows.ERROR_SHARING_VIOLATION.Error())
	err = alterFile(t, path, "rename", filepath.Join(dir, "moved.vec"))
	require.ErrorContains(t, err, windows.ERROR_SHARING_VIOLATION.Error())

	require.NoError(t, w.Push(pt(10_000)))
	require.NoError(t, w.Sync())
	require.NoError(t, w.Grow(1<<20))
	require.NoError(t, w.Close())

	// A follower's view keeps the file whole too.
	f := follow[point](t, path)
	err = alterFile(t, path, "truncate", half)
	require.ErrorContains(t, err, windows.ERROR_USER_MAPPED_FILE.Error())
	n, err := f.Refresh()
	require.NoError(t, err)
	require.Equal(t, pts(seq(10_001)...), f.Slice()[:n])
}
