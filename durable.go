package memvec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
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

// A failed barrier.
//
// A barrier that fails (Sync's, or the one a rewrite or Close makes) may
// have lost what it covered for good, though the mapping still reads it:
// on Linux the kernel marks the pages whose write-back failed clean,
// reports the error once (the next msync or fsync returns nil, with nothing
// written again), and may drop them at any moment, after which the mapping
// reads what the disk holds there, zeros or older bytes (PostgreSQL's
// "fsyncgate"). Writing them again from the mapping could write those, so
// nothing tries. The failure is for good instead (fail):
//
//   - The vector drops what the failed barrier covered: its length, the
//     header's length word and the record (base and checked lengths) go
//     down to the base, what the last barrier that succeeded covered, so
//     that no length counts an element the failed write-back may have
//     lost: not this handle's, nor a follower's, nor a reader's once the
//     page cache is dropped, nor one after a reboot.
//   - It tries to make that header durable (lowerHeader), again at every
//     later Sync and Close until it is: the disk may hold a header that
//     counts the lost elements, written back before the failure.
//   - Every later Sync and Close, and every mutator that returns an error,
//     returns the failure; the mutators that cannot return it write
//     nothing (see rewritable). Only a new handle, which reads the header
//     from the disk, writes the file again.

// syncFailure is the failure of a vector whose barrier failed (see "A
// failed barrier"): what every later Sync, Close and mutator returns, with
// its op. It wraps ErrSyncFailed and the barrier's error.
type syncFailure struct {
	err  error  // the barrier's error, as the memory returned it
	what string // its text, without the "memvec: <op> <region>: " of the shipped memories' errors
	kept int    // the elements the vector still counts: the base, at most the length
}

func (e *syncFailure) Error() string {
	what := e.what
	if !errors.Is(e.err, ErrSyncFailed) {
		what += ": " + ErrSyncFailed.Error()
	}
	return fmt.Sprintf("%s; the vector now counts the %d elements the last successful sync made durable: open the file again", what, e.kept)
}

func (e *syncFailure) Unwrap() []error { return []error{ErrSyncFailed, e.err} }

// fail makes the vector failed, once a barrier returned err while it was
// doing what doing says (if anything): it drops the elements past the base,
// lowers the header and tries to make it durable (see "A failed barrier").
// It returns the failure, for op.
func (v *MemVec[T]) fail(op, doing string, err error) error {
	if v.failed == nil {
		v.failRecord(doing, err, len(v.s))
	}
	v.dropFailed()
	return v.wrap(op, v.failed)
}

// failRecord is the part of fail that a background Sync does itself (see
// SyncEvery) when its barrier fails, n being the length it synced: it keeps
// the failure, stores the length it keeps (a follower that counted more
// sees a rewrite) and lowers the header. The vector's own elements are
// dropped by the owner's next call (dropFailed): a background Sync never
// changes the vector's slice, which Push's fast path writes.
func (v *MemVec[T]) failRecord(doing string, err error, n int) {
	what := err.Error()
	if name := memoryName(v.mem) + ": "; strings.HasPrefix(what, "memvec: ") {
		if i := strings.Index(what, name); i >= 0 {
			what = what[i+len(name):]
		}
	}
	if doing != "" {
		what += " (" + doing + ")"
	}
	kept := min(v.base, n)
	v.failed = &syncFailure{err: err, what: what, kept: kept}
	v.beginRewrite()
	v.length.Store(uint64(kept))
	v.endRewrite()
	v.lowerHeader(kept)
}

// dropFailed drops, from a failed vector, the elements past what it kept,
// and holds its capacity at its length, so that no Push is made past it
// (see attach).
func (v *MemVec[T]) dropFailed() {
	n := len(v.s)
	if k := v.failed.kept; n > k {
		// A follower that counted the dropped elements sees a rewrite.
		v.beginRewrite()
		v.s = v.s[:k:k]
		v.length.Store(uint64(k))
		v.endRewrite()
		return
	}
	v.s = v.s[:n:n]
}

// lowerHeader stores, in a failed vector's header, the length n and, as
// base and both checked lengths, what the last barrier that succeeded
// covered, and makes the header durable, unless a call before did. If that
// barrier fails too, it stores the words once more: the failed write-back
// left the header's page clean, which the page cache may drop, while a
// dirty page stays until the kernel's own write-back, which retries it,
// succeeds. The next Sync or Close tries again.
func (v *MemVec[T]) lowerHeader(n int) {
	if v.lowered {
		return
	}
	store := func() {
		k := v.failed.kept
		v.record(k, k, k)
		// Also the boot: the page may have been read back from the disk,
		// from before this writer's open stored its boot there.
		binary.NativeEndian.PutUint64(v.mem.Bytes()[offBootID:], bootID())
		v.length.Store(uint64(n))
	}
	store()
	if v.syncHeader() == nil {
		v.lowered = true
		return
	}
	store()
}

// trustedLength returns how many elements region b holds, by the rule
// above: the length, or after a reboot as far as the checked lengths hold.
// It returns an error wrapping ErrCorrupt if that is more than the region
// holds.
func trustedLength(b []byte, dataOffset int, size uintptr) (int, error) {
	c := uint64(capacityOf(len(b), dataOffset, size))
	// No writer leaves the base past the end of the file: Clip lowers it,
	// durably, before it cuts the file.
	n := word64At(b, offBase).Load()
	if n > c {
		return 0, corrupt("base length %d, the %d-byte region holds at most %d", n, len(b), c)
	}
	if !rebooted(b) {
		l := word64At(b, offLength).Load()
		if l > c {
			return 0, corrupt("header counts %d elements, the %d-byte region holds at most %d", l, len(b), c)
		}
		return int(l), nil
	}
	ne := binary.NativeEndian
	for _, link := range [...]struct{ off, sum int }{{offChecked1, offSum1}, {offChecked2, offSum2}} {
		next := word64At(b, link.off).Load()
		if next < n || next > c || checkSum(b, dataOffset, size, int(n), int(next)) != ne.Uint32(b[link.sum:]) {
			break
		}
		n = next
	}
	return int(n), nil
}

// rebooted reports whether the machine has booted since the writer of
// region b opened it: whether the page cache the writer wrote into may be
// gone. A region whose boot identifier is zero (written by a tool that does
// not keep one), or a machine that gives none, counts as not rebooted.
func rebooted(b []byte) bool {
	stored, now := binary.NativeEndian.Uint64(b[offBootID:]), bootID()
	return stored != 0 && now != 0 && stored != now
}

// checkSum returns the CRC-32C of the bytes of elements [from, to) of
// region b, whose elements of size bytes start at dataOffset: on several
// CPUs if they are many (see checksum).
func checkSum(b []byte, dataOffset int, size uintptr, from, to int) uint32 {
	if size == 0 || to <= from {
		return 0
	}
	return checksum(b[dataOffset+from*int(size) : dataOffset+to*int(size)])
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

// syncElements makes the header and the elements durable: for a File, its
// first bytes, up to the end of the elements or of those a header on the
// disk may count (see overwrite); any other memory, or a type that wraps a
// File (its Sync is its own), is synced whole.
func (v *MemVec[T]) syncElements() error {
	if f, ok := v.mem.(*File); ok {
		return f.syncUpTo(v.dataOffset + max(len(v.s), v.durable)*int(v.layout.size))
	}
	return v.mem.Sync()
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
// as its length and every checked length; every region gets this writer's
// boot identifier, and an even generation (a writer that died in the middle
// of a rewrite leaves it odd). n is the trusted length. The writer then
// knows the base to be durable, and must protect as far as the checked
// lengths reach: a Close, or a Sync whose writer died, made no barrier that
// it knows of.
func (v *MemVec[T]) claim(b []byte, n int) {
	if v.persistent {
		if rebooted(b) {
			v.length.Store(uint64(n))
			v.record(n, n, n)
		}
		binary.NativeEndian.PutUint64(b[offBootID:], bootID())
		v.base = int(v.word64(offBase).Load())
		v.durable = max(v.base, int(v.word64(offChecked1).Load()), int(v.word64(offChecked2).Load()))
	}
	if g := v.word64(offGeneration); g.Load()&1 != 0 {
		g.Add(1)
	}
}

// record stores the base and the two checked lengths, with the checksums of
// the elements between them.
func (v *MemVec[T]) record(base, first, second int) {
	b := v.mem.Bytes()
	ne := binary.NativeEndian
	ne.PutUint32(b[offSum1:], checkSum(b, v.dataOffset, v.layout.size, base, first))
	ne.PutUint32(b[offSum2:], checkSum(b, v.dataOffset, v.layout.size, first, second))
	v.word64(offBase).Store(uint64(base))
	v.word64(offChecked1).Store(uint64(first))
	v.word64(offChecked2).Store(uint64(second))
}

// recordLength records the length as what to make durable: over the base
// the writer knows durable, through what a header on the disk may count
// already, to the length.
func (v *MemVec[T]) recordLength() {
	n := len(v.s)
	base := min(v.base, n)
	v.record(base, max(base, min(v.durable, n)), n)
}

// overwrite readies index i to be written again: if a header on the disk
// may count the element at i, the header goes down to i, durably, first, so
// that a power loss in the middle of the write never leaves a header that
// counts a torn element. Where the writer knows the elements below i are
// durable, making the header durable is enough; where it does not (past
// the base: what a Close recorded, or a Sync whose writer died), it makes
// everything durable first (as Sync does), so that no element a Sync
// covered is lost. It then re-attaches the view, whose capacity is held at
// the length while the length is below what a header may count (see
// attach). If a barrier fails, or failed before, the vector is failed (see
// fail): the failure is returned and i must not be written.
func (v *MemVec[T]) overwrite(i int) error {
	if v.failed != nil {
		return v.wrap("write", v.failed)
	}
	if i >= v.durable {
		return nil
	}
	// Not the checksums nor the header of a file another program changed.
	if err := v.checkFile(); err != nil {
		return v.wrap("sync", err)
	}
	if i > v.base {
		v.recordLength()
		if err := v.mem.Sync(); err != nil {
			return v.fail("sync", fmt.Sprintf("making the elements durable before rewriting at %d", i), err)
		}
		v.base = i
	}
	v.record(i, i, i)
	if err := v.syncHeader(); err != nil {
		return v.fail("sync", fmt.Sprintf("lowering the durable length to %d before a rewrite", i), err)
	}
	v.base, v.durable = i, i
	v.attach(v.mem.Bytes(), len(v.s))
	return nil
}

// rewritable is overwrite for the mutators that have no error to return
// (Set, Remove, SwapRemove): it reports whether they may write at i. They
// may not once a barrier failed, now or before (see fail): what they write
// could reach the disk torn under a header that counts it, or, if its
// write-back fails too, not at all. They then change nothing, and the
// failure comes back from the next Sync or Close, and from every mutator
// that returns an error.
func (v *MemVec[T]) rewritable(i int) bool { return v.overwrite(i) == nil }

// syncDurable is Sync for a persistent region: it records what it is about
// to make durable (recordLength), then makes the elements and the header
// durable in the memory's one barrier. Only then does the writer know the
// length durable. If the barrier fails, or one failed before, the vector
// is failed (see fail), and the failure is returned.
func (v *MemVec[T]) syncDurable() error {
	if v.failed != nil {
		v.lowerHeader(len(v.s))
		return v.wrap("sync", v.failed)
	}
	v.recordLength()
	if err := v.syncElements(); err != nil {
		return v.fail("sync", "", err)
	}
	// Known durable now: the header says so at once, so that a writer
	// that opens the file after this one dies knows it too.
	n := len(v.s)
	v.record(n, n, n)
	v.base, v.durable = n, n
	v.attach(v.mem.Bytes(), n)
	return nil
}

// keepTail makes durable, at a writer's open, the elements that the last
// writer left past the base in this boot (n is the length): it was killed,
// or it ended without a Sync, and they may still be only in the page cache,
// where a power loss or a reboot, even a clean one after a kill, would drop
// them. It makes them durable first (the memory's barrier), and only then
// stores n as the base and makes the header durable alone: the base rule
// (see "Power loss") without the checksums a Sync would compute, so that
// the open reads none of the elements, however many they are. A barrier
// that fails fails the vector (see fail), and the open with it.
func (v *MemVec[T]) keepTail(n int) error {
	if err := v.mem.Sync(); err != nil {
		return v.fail("open", "making the elements the last writer left durable", err)
	}
	v.record(n, n, n)
	if err := v.syncHeader(); err != nil {
		return v.fail("open", "making the elements the last writer left durable", err)
	}
	v.base, v.durable = n, n
	v.attach(v.mem.Bytes(), n)
	return nil
}

// recordClose records the length at Close, as Sync does but with no
// barrier: what a reboot after a clean shutdown verifies (see
// trustedLength). It costs a checksum of what was written since the last
// Sync. If the vector dropped elements a header on the disk may count, the
// lower record is made durable (the header alone): the next writer knows
// only this header, and must not write where an older one on the disk
// counts. A failed vector records nothing more (see fail): it makes its
// lowered header durable, if no call before did, and returns the failure.
func (v *MemVec[T]) recordClose() error {
	if v.failed != nil {
		v.lowerHeader(len(v.s))
		return v.wrap("close", v.failed)
	}
	v.recordLength()
	if len(v.s) < v.durable {
		if err := v.syncHeader(); err != nil {
			return v.fail("close", fmt.Sprintf("lowering the durable length to %d", len(v.s)), err)
		}
	}
	return nil
}

// recordCloseOrFault is recordClose, returning an error wrapping
// ErrFileChanged if another program cuts the file under its reads and
// writes (see catchFault).
func (v *MemVec[T]) recordCloseOrFault() (err error) {
	if f, ok := v.mem.(*File); ok {
		defer catchFault(f, "close", debug.SetPanicOnFault(true), &err)
	}
	return v.recordClose()
}
