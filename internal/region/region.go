// Package region is memvec's region layer: the machinery every container
// (a vector, and whatever else keeps its data in a mapped region) stands
// on, and the only place where code differs by operating system.
//
// It knows how a region of address space is reserved, committed, grown in
// place, moved, retired and quarantined (Anon, Reserve, Retire); how a file
// is opened and locked, mapped, extended with real disk blocks, synced, and
// watched for changes by other programs (File); how a waiter sleeps on a
// word of a shared mapping and a writer wakes it (SleepWhile, WakeAll,
// WakeUpTo); which boot this is (BootID); and how the system is told what
// pages will be needed (Advice, Hint).
//
// It knows nothing of elements, headers or layouts: a File is bytes, and
// the few places where the format shows (the size of the header read at
// open, the offset of the wake word) are parameters. The format layer
// (internal/format) knows nothing of an operating system. Errors wrap the
// sentinels of internal/errs, which the root package exports.
package region

import (
	"os"
	"sync/atomic"
)

// pageSize is the unit of mapping: regions are sized in whole pages.
var pageSize = os.Getpagesize()

// roundUp rounds n up to a multiple of unit, a power of two.
func roundUp(n, unit int) int { return (n + unit - 1) &^ (unit - 1) }

// Advice says how a region's pages will be read: the advice of
// madvise(2). The root package's Advice has the same values.
type Advice int

const (
	AdviseNormal Advice = iota
	AdviseSequential
	AdviseRandom
)

// Hint is one of the hints on a range of a region: the root package's
// WillNeed, DontNeed and Populate.
type Hint int

const (
	HintWillNeed Hint = iota
	HintDontNeed
	HintPopulate
	// HintRelease is DontNeed for a read-only view of a file: its pages
	// leave the mapping and stay in the page cache (MADV_DONTNEED).
	HintRelease
)

// String returns the hint's operation as errors name it.
func (h Hint) String() string {
	switch h {
	case HintWillNeed:
		return "willneed"
	case HintDontNeed, HintRelease:
		return "dontneed"
	}
	return "populate"
}

// Hint gives the hint h on b, page-aligned, of anonymous memory (see
// hintPages). The pages keep their contents.
func (a *Anon) Hint(h Hint, b []byte) error { return hintPages(h, b, false) }

// Hint gives the hint h on b, a page-aligned part of the file's mapping
// (see hintPages): the page cache keeps the file's data, whatever the
// mapping drops. DontNeed on a read-only view is Release.
func (f *File) Hint(h Hint, b []byte) error {
	if h == HintDontNeed && f.readOnly {
		h = HintRelease
	}
	return hintPages(h, b, true)
}

// TouchPages reads one byte of each page of b, so that each is faulted in:
// Populate where the system cannot fault pages in in bulk.
func TouchPages(b []byte) {
	var sum uint32
	for i := 0; i < len(b); i += pageSize {
		sum += uint32(b[i])
	}
	TouchSink.Store(sum)
}

// TouchSink keeps the compiler from dropping TouchPages' reads, which it
// may do with reads whose values go nowhere.
var TouchSink atomic.Uint32
