package memvec

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestSyncWritesOnlyTheElements: a vector's Sync writes back its header and
// its elements, and leaves the pages past them as they are. A page past the
// elements that is dirty (the pretoucher dirties pages ahead of the pushes)
// stays dirty, to be written once, when the pushes have filled it, not once
// as zeros and again with the elements (BENCHMARKS.md, "Durable appends").
// The file is on a loop-mounted ext4 (tmpfs writes nothing back); the
// pages' dirty flags are the kernel's (/proc/self/pagemap and
// /proc/kpageflags, which need root). AdviseRandom keeps each page in a
// folio of its own, so that a page's flag is that page's.
func TestSyncWritesOnlyTheElements(t *testing.T) {
	mnt := mountLoopFS(t, loopFilesystems[0])
	v := openVec[point](t, filepath.Join(mnt, "sync.vec"), Advise(AdviseRandom))
	require.NoError(t, v.Grow(200_000))
	// The first Sync after a change of the file's size fsyncs it, which
	// writes back every page: the one after is the barrier of a push.
	require.NoError(t, v.Sync())
	for i := range 1000 {
		require.NoError(t, v.Push(point{float64(i), 1, 2}))
	}
	b := v.mem.Bytes()
	past := unsafe.Pointer(&b[len(b)-1]) // megabytes past the elements
	*(*byte)(past) = 1
	require.True(t, pageDirty(t, past))
	elem := unsafe.Pointer(&v.s[500])
	require.True(t, pageDirty(t, elem))

	require.NoError(t, v.Sync())
	require.False(t, pageDirty(t, elem), "Sync left an element's page dirty")
	require.True(t, pageDirty(t, past), "Sync wrote back a page past the elements")
}

// pageDirty reports whether the page mapped at p is dirty: the page frame
// that /proc/self/pagemap gives for it, and its flags in /proc/kpageflags.
func pageDirty(t *testing.T, p unsafe.Pointer) bool {
	t.Helper()
	const present, pfnMask, kpfDirty = 1 << 63, 1<<55 - 1, 1 << 4
	entry := readWord(t, "/proc/self/pagemap", int64(uintptr(p)/uintptr(pageSize))*8)
	require.NotZero(t, entry&present, "the page is not mapped")
	pfn := entry & pfnMask
	require.NotZero(t, pfn, "/proc/self/pagemap gives no page frames (it needs CAP_SYS_ADMIN)")
	return readWord(t, "/proc/kpageflags", int64(pfn)*8)&kpfDirty != 0
}

// readWord reads the little-endian 8-byte word at off in the file at path.
func readWord(t *testing.T, path string, off int64) uint64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var w [8]byte
	_, err = f.ReadAt(w[:], off)
	require.NoError(t, err)
	return binary.LittleEndian.Uint64(w[:])
}
