package memvec

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestBytesFullDisk fills a 4 MiB filesystem by pushing records: the push
// that finds no room returns ENOSPC (no SIGBUS) and leaves the Bytes as it
// was, every record pushed before reads back intact, now and after
// reopening, and the disk fills to its last pages first.
func TestBytesFullDisk(t *testing.T) {
	path := filepath.Join(smallDisk(t, "4m"), "full.bytes")
	b := openBytes(t, path)
	var err error
	n := 0
	for ; n < 1_000_000; n++ {
		if err = b.Push(record(n)); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, unix.ENOSPC)
	require.True(t, strings.HasPrefix(err.Error(), "memvec: resize "+path+string(filepath.Separator)), err)
	require.Equal(t, n, b.Len(), "a failed push must leave the Bytes unchanged")
	require.Greater(t, b.Size(), int64(3<<20), "growth must fall back to small steps and fill the disk")
	require.ErrorIs(t, b.Append(record(n), record(n+1)), unix.ENOSPC, "the disk is still full")
	require.Equal(t, n, b.Len(), "a failed append must leave the Bytes unchanged")
	requireRecords(t, b, n)
	b.Truncate(n - 1) // the room it has still works
	require.NoError(t, b.Push(record(n-1)))
	require.NoError(t, b.Sync())
	require.NoError(t, b.Close())
	b = openBytes(t, path)
	requireRecords(t, b, n)
}
