package region

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// A boot identifier that could not be read once (no descriptor left, /proc
// not yet mounted) is read again at the next call, not kept as "unknown"
// for the rest of the process; one that was read is kept.
func TestBootIDReadAgainAfterAFailedRead(t *testing.T) {
	id := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	reads, fail := 0, true
	c := bootCache{read: func() [16]byte {
		reads++
		if fail {
			return [16]byte{}
		}
		return id
	}}
	require.Zero(t, c.get(), "a failed read says unknown")
	fail = false
	require.Equal(t, fold(id), c.get(), "the next call reads again")
	fail = true
	require.Equal(t, fold(id), c.get(), "an identifier read is kept")
	require.Equal(t, 2, reads)
}

// This machine's boot identifier is known on Linux, and the same at every
// call.
func TestBootIDOfThisMachine(t *testing.T) {
	first := BootID()
	if runtime.GOOS == "linux" {
		require.NotZero(t, first, "/proc/sys/kernel/random/boot_id")
	}
	require.Equal(t, first, BootID())
}
