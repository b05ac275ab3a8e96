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
// a file whose growth never got there. Three words of the header, and the
// writer's boot identifier, make every state a power loss can leave open as
// a consistent vector (FORMAT.md, "Power loss", has the whole argument):
//
//   - The durable length D counts elements that are on the disk. Sync raises
//     it to the length, but only after the elements (and the file's size)
//     are durable, and then makes the header durable. Before anything at an
//     index below D is written again (a Set, an Insert, a Push after a
//     Truncate, a Clip that cuts the file), the writer lowers D to that
//     index and makes the header durable first (overwrite). So the elements
//     D counts are always on the disk, whatever else is.
//   - The writer stores its machine's boot identifier in the header when it
//     opens the region. A reader whose machine has the same boot identifier
//     knows the page cache the writer wrote into is still there (at most,
//     the writer's process died): it trusts the length. One that finds
//     another knows the machine went down since: it trusts D.
//   - Close records the length and a CRC-32C of the elements from D to it.
//     A machine that then shuts down cleanly writes the page cache out, so
//     after its reboot the elements are there and the checksum holds: the
//     length at Close is trusted. After a power loss it does not hold, and
//     D is.
//
// Push's fast path does none of this: it only writes past the length, which
// D never counts. A drop below D (Pop, Truncate, Clear) lowers the capacity
// the fast path sees to the length, so the next Push takes the slow path,
// which lowers D first.

// trustedLength returns how many elements region b holds, by the rule
// above: the length, or after a reboot the durable length or the closed
// one. It returns an error wrapping ErrCorrupt if that is more than the
// region holds.
func trustedLength(b []byte, dataOffset int, size uintptr) (int, error) {
	c := capacityOf(len(b), dataOffset, size)
	// No writer leaves the durable length past the end: Clip lowers it,
	// durably, before it cuts the file.
	d := word64At(b, offDurable).Load()
	if d > uint64(c) {
		return 0, corrupt("durable length %d, the %d-byte region holds at most %d", d, len(b), c)
	}
	if !rebooted(b) {
		n := word64At(b, offLength).Load()
		if n > uint64(c) {
			return 0, corrupt("header counts %d elements, the %d-byte region holds at most %d", n, len(b), c)
		}
		return int(n), nil
	}
	ne := binary.NativeEndian
	if ne.Uint32(b[offFlags:])&flagClosed != 0 {
		closed := ne.Uint64(b[offClosedLen:])
		switch {
		case closed <= d:
			return int(closed), nil
		case closed <= uint64(c) && tailSum(b, dataOffset, size, int(d), int(closed)) == ne.Uint32(b[offTailSum:]):
			return int(closed), nil
		}
	}
	return int(d), nil
}

// rebooted reports whether the machine has booted since the writer of
// region b opened it: whether the page cache the writer wrote into may be
// gone. A region whose boot identifier is zero (written by a tool that does
// not keep one), or a machine that gives none, counts as not rebooted.
func rebooted(b []byte) bool {
	stored, now := [16]byte(b[offBootID:offBootID+16]), bootID()
	return stored != [16]byte{} && now != [16]byte{} && stored != now
}

// tailSum returns the CRC-32C of the bytes of elements [from, to) of region
// b, whose elements of size bytes start at dataOffset.
func tailSum(b []byte, dataOffset int, size uintptr, from, to int) uint32 {
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
// (the durable or closed one) as its length and durable length, and every
// region this writer's boot identifier and no close record, and an even
// generation (a writer that died in the middle of a rewrite leaves it
// odd). n is the trusted length.
func (v *MemVec[T]) claim(b []byte, n int) {
	if v.persistent {
		if rebooted(b) {
			v.length.Store(uint64(n))
			v.word64(offDurable).Store(uint64(n))
		}
		id := bootID()
		copy(b[offBootID:offBootID+16], id[:])
		binary.NativeEndian.PutUint32(b[offFlags:], 0)
		v.durable = int(v.word64(offDurable).Load())
	}
	if g := v.word64(offGeneration); g.Load()&1 != 0 {
		g.Add(1)
	}
}

// overwrite readies index i to be written again: if a Sync made the element
// at i durable, the durable length goes down to i, durably, first, so that a
// power loss in the middle of the write never leaves a durable length that
// counts a torn element. It then re-attaches the view, whose capacity is
// held at the length while the length is below the durable length (see
// attach). If the header cannot be made durable, nothing changes and the
// error is returned: i must not be written.
func (v *MemVec[T]) overwrite(i int) error {
	if i >= v.durable {
		return nil
	}
	v.word64(offDurable).Store(uint64(i))
	if err := v.syncHeader(); err != nil {
		return v.wrap("sync", fmt.Errorf("lower the durable length to %d before rewriting: %w", i, err))
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

// publishDurable makes the vector's length its durable length, once the
// memory has made the elements durable (Sync): it stores it and makes the
// header durable.
func (v *MemVec[T]) publishDurable() error {
	n := len(v.s)
	if n == v.durable && v.syncErr == nil {
		return nil
	}
	v.word64(offDurable).Store(uint64(n))
	if err := v.syncHeader(); err != nil {
		return v.wrap("sync", err)
	}
	v.durable, v.syncErr = n, nil
	v.attach(v.mem.Bytes(), n)
	return nil
}

// recordClose writes the close record: the length, and the checksum of the
// elements past the durable length, which a reboot after a clean shutdown
// verifies (see trustedLength). It costs a checksum of what was written
// since the last Sync.
func (v *MemVec[T]) recordClose() {
	b := v.mem.Bytes()
	n := len(v.s)
	var sum uint32
	if n > v.durable && v.layout.size > 0 {
		sum = tailSum(b, v.dataOffset, v.layout.size, v.durable, n)
	}
	ne := binary.NativeEndian
	ne.PutUint64(b[offClosedLen:], uint64(n))
	ne.PutUint32(b[offTailSum:], sum)
	ne.PutUint32(b[offFlags:], flagClosed)
}
