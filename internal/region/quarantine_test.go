//go:build unix || windows

package region

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestQuarantineIsBounded: retired address space is released oldest first
// beyond the bounds, so it costs at most quarantineSpans mappings.
func TestQuarantineIsBounded(t *testing.T) {
	for range quarantineSpans + 10 {
		p, err := reserveAddressSpace(pageSize)
		require.NoError(t, err)
		require.NoError(t, retire(p, pageSize))
	}
	quarantine.Lock()
	defer quarantine.Unlock()
	require.LessOrEqual(t, len(quarantine.spans), quarantineSpans)
	require.LessOrEqual(t, quarantine.bytes, quarantineBytes)
}
