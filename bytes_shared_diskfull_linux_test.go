package memvec

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestBytesSharedFullDisk fills a 4 MiB filesystem with two Shared
// writers of one Bytes pushing by turns, records of 1,000 bytes: the push
// that finds no room returns ENOSPC (no SIGBUS) and counts nothing, for
// either writer, whose files both grow; every record pushed before reads
// back whole, in each handle, and after reopening.
func TestBytesSharedFullDisk(t *testing.T) {
	path := filepath.Join(smallDisk(t, "4m"), "full.bytes")
	a, err := OpenBytes(path, Shared())
	require.NoError(t, err)
	c, err := OpenBytes(path, Shared())
	require.NoError(t, err)
	rec := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 1000) }
	n := 0
	for ; n < 100_000; n++ {
		w := a
		if n%2 == 1 {
			w = c
		}
		if err = w.Push(rec(n)); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, unix.ENOSPC)
	require.Greater(t, n*1000, 3<<20, "growth must fall back to small steps and fill the disk")
	for _, w := range []*Bytes{a, c} {
		require.ErrorIs(t, w.Push(rec(n)), unix.ENOSPC, "the disk is still full")
		got, err := w.Refresh()
		require.NoError(t, err)
		require.Equal(t, n, got, "a failed push must count nothing")
		for i, p := range w.All() {
			require.Equal(t, rec(i), p, "record %d", i)
		}
	}
	require.NoError(t, a.Sync())
	require.NoError(t, a.Close())
	require.NoError(t, c.Close())
	b, err := OpenBytes(path, ReadOnly())
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, n, b.Len())
	require.NoError(t, b.Check())
	for i, p := range b.All() {
		require.Equal(t, rec(i), p, "record %d", i)
	}
}
