//go:build unix || windows

package region

import (
	"strconv"
	"sync"
)

// Address space that a region gives up, at Close or when it moves past its
// reservation, is not handed back to the system at once. A view kept past
// that point (a Slice, a pointer into the region) must fault; but once the
// range is unmapped, the kernel maps the next thing asked for there, often
// the next vector's file, and the stale view would read and write that
// instead, silently. So the range is retired: mapped anew inaccessible and
// reserved (PROT_NONE, MAP_NORESERVE: no memory, no commit charge, one
// mapping), where a stale access faults, and released only when it has
// aged out of a bounded quarantine, oldest first.
//
// On Windows, anonymous memory is a reservation (VirtualAlloc, MEM_RESERVE)
// to begin with: retiring it decommits its pages and keeps the reservation.
// A file's view cannot be replaced in place: it is unmapped, and its range
// reserved again at once and retired (see File.unmapView), unless another
// thread mapped something there in between.
//
// The bounds keep the address space and the mappings it costs small next
// to what a process has: quarantineSpans mappings of the 65,530 Linux
// allows by default, and quarantineBytes of address space (16 TiB of the
// 128 TiB of a process on amd64: 256 closed vectors of the default
// reservation; 512 MiB of the 4 GiB of a 32-bit process), or an eighth of
// the process's RLIMIT_AS (ulimit -v) if that is less: retired ranges count
// against the limit as mapped ones do. A view used after more than that has
// been retired since may reach another mapping again.
//
// The bounds are not what the process has left, which nothing cheap tells,
// so a mapping can still fail for want of address space that the quarantine
// holds: every mapping a region makes is then tried once more after the
// quarantine has handed all its ranges back (see withAddressSpace). Address
// space is worth more than the fault a stale view would get.
const (
	quarantineSpans = 1024
	quarantineBytes = 16<<40*(strconv.IntSize/64) + 512<<20*(1-strconv.IntSize/64)
)

type span struct {
	p *byte
	n int
}

var quarantine struct {
	sync.Mutex
	spans []span
	bytes int
}

// retire gives up the n bytes of address space at p (page multiples; a
// mapping or a reservation): it makes them inaccessible, keeps them, and
// releases the oldest retired spans beyond the bounds. If the system will
// not map them anew, they are released at once.
func retire(p *byte, n int) error {
	if n == 0 {
		return nil
	}
	if decommit(p, n) != nil {
		return releaseAddressSpace(p, n)
	}
	q := &quarantine
	q.Lock()
	defer q.Unlock()
	q.spans = append(q.spans, span{p, n})
	q.bytes += n
	limit := quarantineLimit()
	var err error
	for len(q.spans) > quarantineSpans || q.bytes > limit && len(q.spans) > 0 {
		old := q.spans[0]
		q.spans = q.spans[1:]
		q.bytes -= old.n
		if e := releaseAddressSpace(old.p, old.n); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// quarantineLimit returns the most address space the quarantine keeps:
// quarantineBytes, or an eighth of the process's limit on address space if
// that is less. The limit is read at every retire, since the program may
// change it (setrlimit) at any time.
func quarantineLimit() int {
	if limit := addressSpaceLimit(); limit/8 < quarantineBytes {
		return int(limit / 8)
	}
	return quarantineBytes
}

// drainQuarantine hands every retired range back to the system, and reports
// whether there was any.
func drainQuarantine() bool {
	q := &quarantine
	q.Lock()
	defer q.Unlock()
	for _, s := range q.spans {
		releaseAddressSpace(s.p, s.n)
	}
	drained := len(q.spans) > 0
	q.spans, q.bytes = nil, 0
	return drained
}

// withAddressSpace runs mapping, a step that maps or reserves address
// space and on failure leaves things as they were. If it fails for want of
// address space (see outOfAddressSpace) while the quarantine holds ranges,
// it hands those back to the system and runs mapping once more.
func withAddressSpace(mapping func() error) error {
	err := mapping()
	if err != nil && outOfAddressSpace(err) && drainQuarantine() {
		err = mapping()
	}
	return err
}

// QuarantineBytes is the most address space the quarantine keeps where the
// process's limit on address space allows (see quarantineLimit).
const QuarantineBytes = quarantineBytes

// QuarantineHeld returns the address space the quarantine holds now and
// the most it may hold (see quarantineLimit), for tests and diagnostics.
func QuarantineHeld() (held, limit int) {
	quarantine.Lock()
	defer quarantine.Unlock()
	return quarantine.bytes, quarantineLimit()
}
