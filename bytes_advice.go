package memvec

import (
	"fmt"

	"github.com/memvec/memvec/internal/region"
)

// DontNeed tells the system that the records [i:j] will not be read again
// soon, so that the pages of their bytes and of their offsets leave the
// process's memory now, as MemVec.DontNeed does for elements (the same
// hint, on each of the Bytes's two regions): they read back as they were,
// and a view from At stays valid. A program that reads a large Bytes once,
// in order, calls it behind its read point to keep its resident memory to
// a window (memvec export does). Only the pages wholly inside the range
// are given back. It panics if i < 0, j < i or j > Len(), and returns
// ErrClosed after Close or the system's error, wrapped.
func (b *Bytes) DontNeed(i, j int) error {
	if i < 0 || j < i || j > b.n {
		panic(fmt.Sprintf("memvec: dontneed %s: range [%d:%d] out of range with length %d", b.path, i, j, b.n))
	}
	if b.closed {
		return b.wrap("dontneed", ErrClosed)
	}
	if i == j {
		return nil
	}
	// The offsets entries of records [i:j] are offs[i+1:j+1], from byte
	// dataOffset of the index region; their bytes are data[offs[i]:offs[j]],
	// from byte 0 of the data region (clamped to the data, as At's views
	// are, for damaged offsets).
	lo, hi := min(max(b.offs[i], 0), int64(len(b.data))), min(max(b.offs[j], 0), int64(len(b.data)))
	if err := dontNeed(b.idx, b.dataOffset+8*(i+1), b.dataOffset+8*(j+1)); err != nil {
		return b.wrap("dontneed", err)
	}
	if err := dontNeed(b.dat, int(lo), int(max(lo, hi))); err != nil {
		return b.wrap("dontneed", err)
	}
	return nil
}

// dontNeed gives the DontNeed hint on the pages wholly inside bytes
// [lo:hi] of m's region, if m takes hints (File and Anon do; a ReadOnly
// Bytes without a data file has no m).
func dontNeed(m Memory, lo, hi int) error {
	h, ok := m.(hinter)
	if !ok {
		return nil
	}
	lo, hi = roundUp(lo, pageSize), hi&^(pageSize-1)
	if lo >= hi {
		return nil
	}
	return h.hint(region.HintDontNeed, m.Bytes()[lo:hi])
}
