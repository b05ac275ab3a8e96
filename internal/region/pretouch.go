package region

import (
	"runtime"
	"sync"
)

// Pretoucher faults in a region's pages (Anon's, or a writable File's) ahead
// of the pushes that write them, on two CPUs at once: a helper goroutine works ahead of the
// vector while the vector's slow path faults its own window in, as Chronicle
// Queue's Pretoucher touches the pages of its next cycle.
//
// What a push into fresh memory costs is mostly the kernel's work per page
// (allocating, zeroing, charging to the memory cgroup and mapping it: four
// fifths of the time, BENCHMARKS.md), and the faults of different pages of
// one mapping run in parallel. So prefault hands out the region in chunks
// from one cursor, to its caller and to a helper, and the helper goes on
// past the caller's window, up to pretouchAhead bytes: that bounds the
// memory touched before it is written.
//
// Nothing waits for the helper but stop: faulting in is only a hint, and a
// page the helper has not reached yet faults in when it is written. stop,
// which Anon and File call before they resize, move, hint or unmap the
// region, returns once the helper has finished its chunk and returned, so
// that nothing touches the region after, and a closed vector leaves no
// goroutine behind.
//
// When the program runs one goroutine at a time (GOMAXPROCS 1), prefault
// faults its window in alone, in one call, as it did before there was a
// helper. Without bulk faulting (PopulateInBulk) the vector does not call
// it.
type Pretoucher struct {
	mu sync.Mutex
	// region is the region the cursor is in, set by prefault and cleared
	// by stop. The bytes of it below next are claimed: faulted in, or
	// being faulted in by whoever claimed them. The helper claims up to hi.
	region   []byte
	next, hi int
	running  bool // a helper goroutine runs
	// helper counts the helper goroutine while it runs. The vector's own
	// goroutine both starts it (prefault) and waits for it (stop), so the
	// two never race.
	helper sync.WaitGroup
	// Populate, if set, is called instead of the package's populate:
	// tests watch the helper with it.
	Populate func(b []byte)
}

// pretouchChunk is what one claim faults in with one system call: 128
// pages, about 0.15 ms of the kernel's work on this project's machines.
// Of the sizes tried (256 KiB to 1 MiB, with windows of 1 and 2 MiB), this
// one with 1 MiB windows was among the fastest and keeps what is touched
// ahead of the writes to 2 MiB, as it was before the helper.
const pretouchChunk = 512 << 10

// pretouchAhead is how far past the window its caller asked for the helper
// goes: one more window.
const pretouchAhead = PrefaultWindow

// prefault faults in the pages of region[off:off+n] for writing, sharing
// the work with the helper (see Pretoucher), and has the helper go on
// pretouchAhead bytes further. region is the whole region mapped, which
// stays the same until stop.
func (p *Pretoucher) Prefault(region []byte, off, n int) {
	start := off &^ (pageSize - 1) // whole pages: madvise refuses an unaligned start
	end := min(roundUp(off+n, pageSize), len(region))
	if start >= end {
		return
	}
	if runtime.GOMAXPROCS(0) < 2 {
		p.fault(region[start:end])
		return
	}
	p.mu.Lock()
	if p.region == nil { // since stop, which every change of the region calls first
		p.region, p.next, p.hi = region, start, start
	}
	p.next = max(p.next, start)
	p.hi = max(p.hi, min(end+pretouchAhead, len(region)))
	if !p.running && p.next < p.hi {
		p.running = true
		p.helper.Add(1)
		go p.help()
	}
	for p.next < end {
		b := p.claim()
		p.mu.Unlock()
		p.fault(b)
		p.mu.Lock()
	}
	p.mu.Unlock()
}

// fault faults in the pages of b for writing.
func (p *Pretoucher) fault(b []byte) {
	if p.Populate != nil {
		p.Populate(b)
	} else {
		populate(b)
	}
}

// claim returns the next chunk of the region, up to hi, and moves the
// cursor past it. It runs with mu held.
func (p *Pretoucher) claim() []byte {
	c := p.next
	p.next = min(c+pretouchChunk, p.hi)
	return p.region[c:p.next]
}

// help claims chunks and faults them in until the cursor reaches hi, which
// stop makes 0.
func (p *Pretoucher) help() {
	defer p.helper.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.next < p.hi {
		b := p.claim()
		p.mu.Unlock()
		p.fault(b)
		p.mu.Lock()
	}
	p.running = false
}

// stop keeps the helper from claiming more and waits until it has faulted
// in the chunk it holds, if any, and returned: after stop, nothing touches
// the region until the next prefault.
func (p *Pretoucher) Stop() {
	p.mu.Lock()
	p.region, p.next, p.hi = nil, 0, 0 // nothing left to claim
	p.mu.Unlock()
	p.helper.Wait()
}

// PrefaultWindow is how far ahead of the bytes being written a writer's
// pages are faulted in (see Pretoucher.Prefault).
const PrefaultWindow = 1 << 20

// PretouchChunk is what one claim faults in (see pretouchChunk).
const PretouchChunk = pretouchChunk

// HelperRuns reports whether the helper goroutine runs: for tests.
func (p *Pretoucher) HelperRuns() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}
