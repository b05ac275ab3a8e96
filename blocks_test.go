//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package memvec

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestWriteBlocksAllocatesEveryBlock: the fallback reservation writes into
// every block of the range, also when the range starts and ends off a block
// boundary, and keeps the bytes that were there.
func TestWriteBlocksAllocatesEveryBlock(t *testing.T) {
	f, err := os.Create(vecPath(t))
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
