//go:build !linux

package memvec

import "testing"

// newMremapRegion skips: mremap, BenchmarkGrowth's baseline, is Linux's.
func newMremapRegion(b *testing.B) Memory {
	b.Skip("mremap is Linux-only")
	return nil
}
