package format

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/memvec/memvec/internal/errs"
)

// Power loss.
//
// A process crash leaves the page cache as it was: every element the length
// counts is there, because the writer stores the length after the elements.
// A power loss (or an operating-system crash) does not: the kernel writes
// dirty pages back in any order, so the disk may hold a header whose length
// counts elements whose pages never got there, or a length past the end of
// a file whose growth never got there. Some words of the header make every
// state a power loss can leave open as a consistent vector (FORMAT.md,
// "Power loss", has the whole argument):
//
//   - The base length counts elements that were on the disk before the
//     header holding it was written: the writer never stores a base above
//     what a finished barrier (a Sync) made durable.
//   - Two checked lengths extend it, each with the CRC-32C of the elements
//     from the length before it: after a reboot, the vector counts as far as
//     the checksums hold, in order. Sync stores the base, as first checked
//     length the furthest a header on the disk may already count, and as
//     second the length; then it makes the elements and the header durable
//     in one barrier. A power loss in the middle leaves each stretch whole or
//     not, and its checksum says which; the first link keeps what an earlier
//     Sync, whose writer died before anyone knew it had finished, made
//     durable. Close stores the same without the barrier: a machine that
//     shuts down cleanly writes its page cache out, so after its reboot the
//     checksums hold and nothing is lost.
//   - Before anything at an index below what a header on the disk may count
//     is written again (a Set, an Insert, a Push after a Truncate, a Clip
//     that cuts the file), all of them go down to that index, and the header
//     is made durable first (overwrite): a rewrite never reaches the disk
//     under a header that counts it.
//   - The writer stores its machine's boot identifier when it opens the
//     region. A reader on a machine with the same boot identifier knows the
//     page cache the writer wrote into is still there (at most the writer's
//     process died) and trusts the length; one that finds another knows the
//     machine went down since, and trusts the checked lengths.
//
// Push's fast path does none of this: it only writes past the length. A
// drop below what a header may count (Pop, Truncate, Clear) lowers the
// capacity the fast path sees to the length, so that the next Push takes
// the slow path, which lowers the header first.

// TrustedLength returns how many elements region b holds, by the power-loss
// rule, on the machine whose boot identifier is boot: the length, or after a reboot as far as the checked lengths hold.
// It returns an error wrapping ErrCorrupt if that is more than the region
// holds.
func TrustedLength(b []byte, dataOffset int, size uintptr, boot uint64) (int, error) {
	c := uint64(CapacityOf(len(b), dataOffset, size))
	n, err := TrustedCount(b, c, boot, func(from, to uint64) (uint32, bool) {
		return CheckSum(b, dataOffset, size, int(from), int(to)), true
	})
	if err != nil {
		return 0, errs.Corruptf("%s, the %d-byte region holds at most %d", err, len(b), c)
	}
	return int(n), nil
}

// TrustedCount is the power-loss rule for any body: how many of its units
// (a vector's elements, a Bytes's records) region b counts on the machine
// whose boot identifier is boot, given the most the body has room for,
// capacity, and the checksum of units [from, to) that the body's format
// defines. The header's words are the same for every kind: the length,
// or after a reboot the base and as far as the checked lengths hold, each
// tested against its stored checksum. sum reports false for a stretch it
// cannot checksum (a Bytes whose offsets run backwards or past its data):
// the link then fails, as a checksum that does not match does.
//
// Its error, for a base or a length past the capacity, says which ("base
// length 9", "header counts 9 elements"), for the caller to complete with
// what holds the body.
func TrustedCount(b []byte, capacity, boot uint64, sum func(from, to uint64) (uint32, bool)) (uint64, error) {
	// No writer leaves the base past the end of the file: Clip lowers it,
	// durably, before it cuts the file.
	n := Word64At(b, OffBase).Load()
	if n > capacity {
		return 0, fmt.Errorf("base length %d", n)
	}
	if !Rebooted(b, boot) {
		l := Word64At(b, OffLength).Load()
		if l > capacity {
			return 0, fmt.Errorf("header counts %d elements", l)
		}
		return l, nil
	}
	ne := binary.NativeEndian
	for _, link := range [...]struct{ off, sum int }{{OffChecked1, OffSum1}, {OffChecked2, OffSum2}} {
		next := Word64At(b, link.off).Load()
		if next < n || next > capacity {
			break
		}
		if s, ok := sum(n, next); !ok || s != ne.Uint32(b[link.sum:]) {
			break
		}
		n = next
	}
	return n, nil
}

// Rebooted reports whether the machine, whose boot identifier is now now,
// has booted since the writer of region b opened it: whether the page cache the writer wrote into may be
// gone. A region whose boot identifier is zero (written by a tool that does
// not keep one), or a machine that gives none, counts as not rebooted.
func Rebooted(b []byte, now uint64) bool {
	stored := binary.NativeEndian.Uint64(b[OffBootID:])
	return stored != 0 && now != 0 && stored != now
}

// CheckSum returns the CRC-32C of the bytes of elements [from, to) of
// region b, whose elements of size bytes start at dataOffset: on several
// CPUs if they are many (see checksum).
func CheckSum(b []byte, dataOffset int, size uintptr, from, to int) uint32 {
	if size == 0 || to <= from {
		return 0
	}
	return checksum(b[dataOffset+from*int(size) : dataOffset+to*int(size)])
}

// Word64At returns the atomic 8-byte header word at off in region b.
func Word64At(b []byte, off int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&b[off]))
}
