package memvec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestCreateOnFullDiskLeavesNothing: on a full disk, an open that creates
// a vector file fails to reserve the blocks of its header (ENOSPC), and
// removes the file it created: nothing is left at the path, and an open
// with CreateNew succeeds once there is room.
func TestCreateOnFullDiskLeavesNothing(t *testing.T) {
	dir := smallDisk(t, "64k")
	fill := filepath.Join(dir, "fill")
	f, err := os.Create(fill)
	require.NoError(t, err)
	_, err = f.Write(make([]byte, 1<<20))
	require.ErrorIs(t, err, unix.ENOSPC)
	require.NoError(t, f.Close())

	for _, opts := range [][]Option{{CreateNew()}, nil} {
		path := filepath.Join(dir, "new.vec")
		_, err := Open[point](path, opts...)
		require.ErrorIs(t, err, unix.ENOSPC)
		require.NoFileExists(t, path)
	}
	require.NoError(t, os.Remove(fill))
	openVec[point](t, filepath.Join(dir, "new.vec"), CreateNew())
}
