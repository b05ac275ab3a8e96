//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package region

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestWriteBlocksAllocatesEveryBlock: the fallback reservation writes into
// every block of the range, also when the range starts and ends off a block
// boundary, and keeps the bytes that were there.
func TestWriteBlocksAllocatesEveryBlock(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "test.vec"))
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt([]byte{7}, 4000)
	require.NoError(t, err)

	require.NoError(t, writeBlocks(f, 4000, 4296)) // [4000, 8296): blocks 0, 1 and 2
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(int(f.Fd()), &st))
	require.EqualValues(t, 8296, st.Size)
	require.GreaterOrEqual(t, st.Blocks*512, int64(3*4096), "every block of the range must be allocated")
	b := make([]byte, 1)
	_, err = f.ReadAt(b, 4000)
	require.NoError(t, err)
	require.Equal(t, byte(7), b[0], "existing bytes are kept")
}

// TestReserveBlocksAllocatesGrowth: growth's reservation (fallocate on
// Linux, F_PREALLOCATE on macOS, written blocks elsewhere) extends the file
// and allocates every block of the new range, keeping the bytes before it.
func TestReserveBlocksAllocatesGrowth(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "test.vec"))
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write([]byte{7})
	require.NoError(t, err)

	require.NoError(t, reserveBlocks(f, 1, 5*4096-1))
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(int(f.Fd()), &st))
	require.EqualValues(t, 5*4096, st.Size)
	require.GreaterOrEqual(t, st.Blocks*512, int64(5*4096), "every block of the range must be allocated")
	b := make([]byte, 2)
	_, err = f.ReadAt(b, 0)
	require.NoError(t, err)
	require.Equal(t, []byte{7, 0}, b, "existing bytes are kept, new ones are zero")
}
