package memvec

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync/atomic"
	"unsafe"
)

// Power loss.
//
// A process crash leaves the page cache as it was: every element the length
// counts is there, because the writer stores the length after the elements.
// A power loss (or an operating-system crash) does not: the kernel writes
// dirty pages back in any order, so the disk may hold a header whose length
// counts elements whose pages never got there, or a length past the end of
// a file whose growth never got there. Four words of the header make every
// state a power loss can leave open as a consistent vector (FORMAT.md,
// "Power loss", has the whole argument):
//
//   - The base length counts elements that were on the disk before the
//     header holding it was written: the writer never stores a base above
//     what a finished barrier (a Sync) made durable.
//   - The durable length, with the CRC-32C of the elements from the base
//     to it, is what the last Sync or Close meant to make durable. Sync
//     stores the three and then makes the elements and the header durable
//     in one barrier: a power loss in the middle leaves the elements past
//     the base whole, and the checksum holds, or not, and then the base
//     counts. Close stores the same without the barrier: a machine that
//     shuts down cleanly writes its page cache out, so after its reboot the
//     checksum holds and nothing is lost.
//   - Before anything at an index below what the writer holds durable is
//     written again (a Set, an Insert, a Push after a Truncate, a Clip that
//     cuts the file), the base and the durable length go down to that index,
//     and the header is made durable first (overwrite): a rewrite never
//     reaches the disk under a base that counts it.
//   - The writer stores its machine's boot identifier when it opens the
//     region. A reader on a machine with the same boot identifier knows the
//     page cache the writer wrote into is still there (at most the writer's
//     process died) and trusts the length; one that finds another knows the
//     machine went down since, and trusts the durable length if its
//     checksum holds, the base otherwise.
//
// Push's fast path does none of this: it only writes past the length. A
// drop below what the writer holds durable (Pop, Truncate, Clear) lowers
// the capacity the fast path sees to the length, so that the next Push
// takes the slow path, which lowers the base first.

// trustedLength returns how many elements region b holds, by the rule
// above: the length, or after a reboot the durable or the base length. It
// returns an error wrapping ErrCorrupt if that is more than the region
// holds.
func trustedLength(b []byte, dataOffset int, size uintptr) (int, error) {
	c := uint64(capacityOf(len(b), dataOffset, size))
	// No writer leaves the base past the end of the file: Clip lowers it,
	// durably, before it cuts the file.
	base := word64At(b, offBase).Load()
	if base > c {
		return 0, corrupt("base length %d, the %d-byte region holds at most %d", base, len(b), c)
	}
	if !rebooted(b) {
		n := word64At(b, offLength).Load()
		if n > c {
			return 0, corrupt("header counts %d elements, the %d-byte region holds at most %d", n, len(b), c)
		}
		return int(n), nil
	}
	d := word64At(b, offDurable).Load()
	if base <= d && d <= c && deltaSum(b, dataOffset, size, int(base), int(d)) == binary.NativeEndian.Uint32(b[offDeltaSum:]) {
		return int(d), nil
	}
	return int(base), nil
}

// rebooted reports whether the machine has booted since the writer of
// region b opened it: whether the page cache the writer wrote into may be
// gone. A region whose boot identifier is zero (written by a tool that does
// not keep one), or a machine that gives none, counts as not rebooted.
func rebooted(b []byte) bool {
	stored, now := [16]byte(b[offBootID:offBootID+16]), bootID()
	return stored != [16]byte{} && now != [16]byte{} && stored != now
}

// deltaSum returns the CRC-32C of the bytes of elements [from, to) of
// region b, whose elements of size bytes start at dataOffset.
func deltaSum(b []byte, dataOffset int, size uintptr, from, to int) uint32 {
	return crc32.Checksum(b[dataOffset+from*int(size):dataOffset+to*int(size)], castagnoli)
}

// word64At returns the atomic 8-byte header word at off in region b.
func word64At(b []byte, off int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&b[off]))
}

// headerSyncer is implemented by a Memory that can make its header durable
// without the rest (a File: msync of the first page).
type headerSyncer interface {
	syncHeader() error
}

// syncHeader makes the header durable: the memory's own way, or a whole
// Sync.
func (v *MemVec[T]) syncHeader() error {
	if hs, ok := v.mem.(headerSyncer); ok {
		return hs.syncHeader()
	}
	return v.mem.Sync()
}

// claim readies a writer's open region after validation: a region its
// writer left before the machine went down gets the length that survived
// as its length, base and durable length; every region gets this writer's
// boot identifier, and an even generation (a writer that died in the
// middle of a rewrite leaves it odd). n is the trusted length. What the
// writer then holds durable is the base: the durable length past it may
// not have reached the disk (a Close makes no barrier).
func (v *MemVec[T]) claim(b []byte, n int) {
	if v.persistent {
		if rebooted(b) {
			v.length.Store(uint64(n))
			v.setDurable(n, n)
		}
		id := bootID()
		copy(b[offBootID:offBootID+16], id[:])
		v.durable = int(v.word64(offBase).Load())
	}
	if g := v.word64(offGeneration); g.Load()&1 != 0 {
		g.Add(1)
	}
}

// setDurable stores the base and the durable length, with the checksum of
// the elements between them.
func (v *MemVec[T]) setDurable(base, d int) {
	var sum uint32
	if d > base && v.layout.size > 0 {
		sum = deltaSum(v.mem.Bytes(), v.dataOffset, v.layout.size, base, d)
	}
	binary.NativeEndian.PutUint32(v.mem.Bytes()[offDeltaSum:], sum)
	v.word64(offBase).Store(uint64(base))
	v.word64(offDurable).Store(uint64(d))
}

// overwrite readies index i to be written again: if the writer holds the
// element at i durable, the base and the durable length go down to i,
// durably, first, so that a power loss in the middle of the write never
// leaves a header that counts a torn element. It then re-attaches the view,
// whose capacity is held at the length while the length is below what the
// writer holds durable (see attach). If the header cannot be made durable,
// nothing changes and the error is returned: i must not be written.
func (v *MemVec[T]) overwrite(i int) error {
	if i >= v.durable {
		return nil
	}
	v.setDurable(i, i)
	if err := v.syncHeader(); err != nil {
		return v.annotate("sync", fmt.Sprintf("lowering the durable length to %d before a rewrite", i), err)
	}
	v.durable = i
	v.attach(v.mem.Bytes(), len(v.s))
	return nil
}

// overwriteOrRemember is overwrite for the mutators that have no error to
// return (Set, Remove, SwapRemove): they go ahead all the same, and the
// next Sync returns the error, since until a Sync succeeds a power loss may
// leave a torn element counted.
func (v *MemVec[T]) overwriteOrRemember(i int) {
	if err := v.overwrite(i); err != nil && v.syncErr == nil {
		v.syncErr = err
	}
}

// syncDurable is Sync for a persistent region: it records what it is about
// to make durable (a base no higher than what is durable already, the
// length, the checksum between them), then makes the elements and the
// header durable in the memory's one barrier. Only then does the writer
// hold the length durable.
func (v *MemVec[T]) syncDurable() error {
	n := len(v.s)
	base := min(v.durable, n)
	if v.syncErr != nil {
		// A rewrite went ahead without lowering the base (which index
		// is not kept): nothing is held durable before this barrier.
		base = 0
	}
	v.setDurable(base, n)
	if err := v.mem.Sync(); err != nil {
		return v.wrap("sync", err)
	}
	err := v.syncErr
	v.durable, v.syncErr = n, nil
	v.attach(v.mem.Bytes(), n)
	if err != nil {
		return fmt.Errorf("%w (made good by this Sync)", err)
	}
	return nil
}

// recordClose records, at Close, the length as the durable length over the
// base the writer holds durable, with the checksum of the elements between:
// what a reboot after a clean shutdown verifies (see trustedLength). It
// costs a checksum of what was written since the last Sync.
func (v *MemVec[T]) recordClose() {
	n := len(v.s)
	v.setDurable(min(v.durable, n), n)
}
