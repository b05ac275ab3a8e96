package memvec

import (
	"encoding/binary"
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/require"
)

// TestRelabelCostDoesNotGrowWithTheFile: Relabel of a file that counts 2^28
// elements (8 GiB, sparse: reading them would fault every page in, and a
// writer's open would allocate every block) faults in a few pages, not
// the elements', and allocates no block past the first 64 KiB, which hold
// the header and the layout slots.
func TestRelabelCostDoesNotGrowWithTheFile(t *testing.T) {
	if strconv.IntSize == 32 {
		t.Skip("an 8 GiB file does not fit in a 32-bit address space")
	}
	path := vecPath(t)
	writeVec(t, path, generate(10, readingAt))
	size := int64(8 << 30)
	require.NoError(t, os.Truncate(path, size))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	head := make([]byte, format.HeaderSize)
	_, err = f.ReadAt(head, 0)
	require.NoError(t, err)
	n := format.CapacityOf(int(size), int(binary.NativeEndian.Uint32(head[format.OffDataOffset:])), 32)
	binary.NativeEndian.PutUint64(head[format.OffLength:], uint64(n))
	binary.NativeEndian.PutUint64(head[format.OffBootID:], 0) // trust the length
	_, err = f.WriteAt(head, 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	v := openVec[readingTemp](t, path, ReadOnly())
	require.Equal(t, n, v.Len(), "premise: the file counts its capacity")
	require.NoError(t, v.Close())
	blocks := func() int64 {
		var st syscall.Stat_t
		require.NoError(t, syscall.Stat(path, &st))
		return st.Blocks
	}
	before := blocks()

	faults := func() int64 {
		var ru syscall.Rusage
		require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
		return int64(ru.Minflt) + int64(ru.Majflt)
	}
	f0 := faults()
	require.NoError(t, Relabel[readingCelsius](path))
	f1 := faults()
	t.Logf("Relabel of %d elements: %d page faults, %d blocks before, %d after", n, f1-f0, before, blocks())
	require.Less(t, f1-f0, int64(1000), "page faults of a Relabel of %d elements", n)
	require.LessOrEqual(t, blocks(), before+format.NewRegionMax/512, "Relabel allocated no more than the header's and the layout slots' 64 KiB")
	r := openVec[readingCelsius](t, path, ReadOnly())
	require.Equal(t, n, r.Len())
}
