package memvec

import (
	"fmt"
	"runtime/debug"

	"github.com/memvec/memvec/internal/region"
)

// Advice says how a region's pages will be read, so that the system reads
// ahead and frees pages to suit: the advice of madvise(2). Give it with the
// Advise option.
type Advice int

const (
	// AdviseNormal is the system's default: a moderate read-ahead around
	// each page fault.
	AdviseNormal Advice = iota
	// AdviseSequential says the elements will be read in order, each once
	// (MADV_SEQUENTIAL): the system reads ahead aggressively and may free
	// pages soon after they are read.
	AdviseSequential
	// AdviseRandom says the elements will be read in no order
	// (MADV_RANDOM): the system reads only the page that faults, no more,
	// which saves the reads a read-ahead would waste.
	AdviseRandom
)

// String returns the constant's name without its prefix: "normal",
// "sequential" or "random".
func (a Advice) String() string {
	switch a {
	case AdviseNormal:
		return "normal"
	case AdviseSequential:
		return "sequential"
	case AdviseRandom:
		return "random"
	}
	return fmt.Sprintf("Advice(%d)", int(a))
}

// Advise gives the region advice a about how its pages will be read (see
// Advice), for Open, OpenFile, Make and NewAnon. The advice covers the whole
// region and the address space it may grow into, and is kept across growth,
// also when the region moves past its reservation: it is a property of the
// vector, not of the bytes mapped when it was given. The default is
// AdviseNormal, and AdviseRandom for a map file (see OpenMap).
//
// On Linux and the other Unix systems it is madvise(2) over the mapping; on
// Windows, which has no such advice for a mapped view, and for a Memory other
// than File and Anon, it does nothing. A system that refuses the advice is
// not an error: the region then works without it.
func Advise(a Advice) Option {
	return func(o *options) { o.advice, o.adviceGiven = a, true }
}

// hinter is a Memory that takes hints on ranges of its region: File and
// Anon. b is a part of the region (Bytes) that starts on a page boundary.
type hinter interface {
	hint(h region.Hint, b []byte) error
}

// WillNeed tells the system that the elements v[i:j] will be read soon, so
// that it starts reading them from the file (or swap) now, in the
// background (MADV_WILLNEED), and returns without waiting. It panics if
// i < 0, j < i or j > Len(), and returns ErrClosed after Close or the
// system's error, wrapped. It costs one system call; the reads happen
// afterwards. Where the system has no such hint (Windows) it does nothing.
//
// Read-ahead that the access pattern already triggers (see
// AdviseSequential) makes WillNeed redundant, and can make it dearer: on a
// sequential scan of a file larger than the memory, WillNeed on the window
// ahead made the scan three times slower (BENCHMARKS.md). Measure.
func (v *MemVec[T]) WillNeed(i, j int) error { return v.hintRange(region.HintWillNeed, i, j) }

// DontNeed tells the system that the elements v[i:j] will not be used for a
// while, so that it frees the memory under them now rather than under
// pressure. It never loses an element: they read back as they were, from
// the file or swap. It panics if i < 0, j < i or j > Len(), and returns
// ErrClosed after Close or the system's error, wrapped. Only the pages
// wholly inside the range are freed, so that the header's page and the
// pages shared with elements outside the range stay.
//
// For a File on Linux it is MADV_PAGEOUT: the pages leave the process's
// memory at once; clean ones are reclaimed, and dirty ones stay in the page
// cache, marked to be reclaimed as soon as the kernel has written them back
// as usual (which is no Sync: only Sync makes them survive a power loss).
// Pages that another process maps too stay where they are. Before Linux 5.4
// it is MADV_DONTNEED, which on a shared file mapping drops only the
// mapping's page-table entries: the dirty pages stay in the page cache, to
// be written back as usual. For a read-only File (ReadOnly, Follow,
// OpenRaw) on Linux it is MADV_DONTNEED too: the pages leave the process's
// memory whoever else maps them, as a follower's pages are mapped by its
// writer, and stay in the page cache for the writer and the other readers. On the other Unix systems
// it is MADV_DONTNEED, which there lowers the pages' priority. For Anon on
// Linux it is MADV_PAGEOUT, which swaps the pages out if there is swap (and
// otherwise keeps them); never MADV_DONTNEED, which would zero them, nor
// MADV_FREE, which may. Elsewhere, for Anon, and on Windows (whose
// OfferVirtualMemory and DiscardVirtualMemory may discard the contents) it
// does nothing.
//
// Calling it behind the write point of a long Push keeps a file vector's
// resident memory to the window between calls (examples/largerthanram).
func (v *MemVec[T]) DontNeed(i, j int) error { return v.hintRange(region.HintDontNeed, i, j) }

// Populate faults in the pages under the elements v[i:j] now, reading them
// from the file (or swap) and waiting for them, so that reading them later
// takes no page fault. It panics if i < 0, j < i or j > Len(), and returns
// ErrClosed after Close or the system's error (such as EFAULT for pages past
// the end of a file cut by another program; where Populate reads each page,
// an error wrapping ErrFileChanged), wrapped. It costs one system call on
// Linux 5.14 or later (MADV_POPULATE_READ), and a read of each page
// elsewhere.
//
// A File's pages are faulted in for reading only, also for a writable
// vector: faulting them in for writing would mark every page dirty and have
// it written back to the disk unchanged, and Sync's cost follows the pages
// written. The first write to each page then takes a minor fault, without
// I/O. Anon's pages are faulted in for writing (MADV_POPULATE_WRITE),
// since a read of anonymous memory maps only the shared zero page; their
// contents do not change.
func (v *MemVec[T]) Populate(i, j int) error { return v.hintRange(region.HintPopulate, i, j) }

// hintRange gives the hint h on the pages under v[i:j]: those that overlap
// the range for WillNeed and Populate, those wholly inside it for
// DontNeed.
func (v *MemVec[T]) hintRange(h region.Hint, i, j int) error {
	if i < 0 || j < i || j > len(v.s) {
		v.panicf(h.String(), "range [%d:%d] out of range with length %d", i, j, len(v.s))
	}
	if v.closed {
		return v.wrap(h.String(), ErrClosed)
	}
	m, ok := v.mem.(hinter)
	size := 0
	if v.layout != nil {
		// The layout's size, not T's: a Raw's T stands for elements of
		// any size.
		size = int(v.layout.size)
	}
	if !ok || i == j || size == 0 {
		return nil
	}
	b := v.mem.Bytes()
	lo, hi := v.dataOffset+i*size, v.dataOffset+j*size
	if h == region.HintDontNeed {
		lo, hi = roundUp(lo, pageSize), hi&^(pageSize-1)
	} else {
		lo, hi = lo&^(pageSize-1), min(roundUp(hi, pageSize), len(b))
	}
	if lo >= hi {
		return nil
	}
	if err := m.hint(h, b[lo:hi]); err != nil {
		return v.wrap(h.String(), err)
	}
	return nil
}

// hint gives the hint h on b, a page-aligned part of the file's region. The
// page cache keeps a file's data whatever the mapping drops (see DontNeed).
func (f *File) hint(h region.Hint, b []byte) (err error) {
	if f.r.Closed() {
		return ErrClosed
	}
	f.touch.Stop() // so that no page it drops is faulted in again behind it
	if h == region.HintPopulate {
		// Where Populate reads each page, a page past the end of a file
		// cut by another program faults: an error, as
		// MADV_POPULATE_READ's EFAULT is.
		defer catchFault(f, h.String(), debug.SetPanicOnFault(true), &err)
	}
	return f.r.Hint(h, b)
}

// hint gives the hint h on b, a page-aligned part of the region. Anonymous
// memory has no copy but its pages: DontNeed must keep them (see DontNeed).
func (a *Anon) hint(h region.Hint, b []byte) error {
	if a.closed {
		return ErrClosed
	}
	a.touch.Stop() // so that no page it drops is faulted in again behind it
	return a.r.Hint(h, b)
}
