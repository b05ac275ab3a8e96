package memvec

import (
	"bytes"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestBytesDontNeedFreesPages: DontNeed on a Bytes's records drops the
// pages of their bytes and of their offsets from the process's memory
// (each mapping's Rss), for a reader as memvec export reads; the records
// read back as they were.
func TestBytesDontNeedFreesPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "records")
	w, err := OpenBytes(dir)
	require.NoError(t, err)
	record := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 1000) }
	const n = 8 << 20 / 1000 // 8 MB of records
	for i := range n {
		require.NoError(t, w.Push(record(i)))
	}
	require.NoError(t, w.Close())

	b, err := OpenBytes(dir, ReadOnly())
	require.NoError(t, err)
	defer b.Close()
	for i := range n {
		require.Equal(t, record(i), b.At(i)) // faults every page in
	}
	data := uintptr(unsafe.Pointer(unsafe.SliceData(b.At(0))))
	offsets := uintptr(unsafe.Pointer(&b.offs[0]))
	require.Greater(t, rssOf(t, data), 7<<20, "read, the records' pages are resident")
	require.Greater(t, rssOf(t, offsets), 32<<10, "and their offsets'")
	require.NoError(t, b.DontNeed(0, n))
	require.Less(t, rssOf(t, data), 1<<20, "DontNeed drops the records' pages")
	require.LessOrEqual(t, rssOf(t, offsets), 8<<10, "and the offsets' (but the header's page)")
	for i := range n {
		if !bytes.Equal(record(i), b.At(i)) {
			t.Fatalf("after DontNeed record %d differs", i)
		}
	}
	require.NoError(t, b.DontNeed(5, 5))
	require.Panics(t, func() { b.DontNeed(0, n+1) })
	require.NoError(t, b.Close())
	require.ErrorIs(t, b.DontNeed(0, 0), ErrClosed)
}
