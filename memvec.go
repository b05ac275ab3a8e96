// Package memvec provides MemVec, a slice-like vector of plain-data elements
// that live in a memory-mapped region instead of the Go heap.
//
// The region comes from a Memory. Two are shipped: File, a shared mapping of
// a file guarded by an advisory lock, whose vector survives restarts and
// opens in O(1) with no decoding; and Anon, an anonymous private mapping for
// vectors of hundreds of millions of elements that the garbage collector
// never scans. Any other Memory (a heap []byte, a shared-memory segment)
// works through New.
//
// A vector file, created on the first run and found again by the next:
//
//	type Point struct{ X, Y, Z float64 }
//
//	v, err := memvec.Open[Point]("points.vec") // creates, locks and maps the file
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer v.Close()
//	if err := v.Push(Point{1, 2, 3}); err != nil { // a full disk is an error
//		log.Fatal(err)
//	}
//	for i, p := range v.All() { // the elements in place, no copy
//		fmt.Println(i, p)
//	}
//	// A crash or kill -9 of this process loses nothing pushed; Sync makes
//	// it survive a power loss or a reboot too.
//	if err := v.Sync(); err != nil {
//		log.Fatal(err)
//	}
//
// Make gives the same vector in anonymous memory; Follow reads a file
// beside its writer, as it grows.
//
// The vector keeps a 128-byte header at the start of the region: a magic
// number, format version, byte-order mark, the element size, alignment and
// layout fingerprint, the length, and the words that followers read; then
// the element layout in readable form (JSON: every field's name, kind and
// offset), for people and tools (see LayoutOf and OpenRaw). Opening an
// existing region validates all of it, so a file is never read as elements
// of another type (ErrTypeMismatch) and a damaged one is reported
// (ErrCorrupt), never trusted. FORMAT.md in the repository documents the
// format byte by byte.
//
// # Element types
//
// T must be plain data: booleans, integers, floats, complex numbers, and
// arrays and structs made only of those. Pointers, strings, slices, maps,
// channels, funcs, interfaces, unsafe.Pointer and uintptr are refused with
// ErrUnsupportedType: the garbage collector does not scan mapped memory, and
// such values mean nothing after a restart.
//
// Text goes in a fixed array of bytes tagged memvec:"string":
//
//	type Record struct {
//		Time int64
//		Msg  [55]byte `memvec:"string"`
//	}
//
// The file's layout then says the field is text (its bytes up to the first
// zero byte), so that the memvec command prints it as a string and numpy
// reads it as one; SetString stores a Go string in it and StringOf reads it
// back. The tag on any other type is ErrUnsupportedType, naming the field.
//
// A region records the layout of its element type: the size, the
// alignment, and every primitive field with its path ("Pos.X", "Tags[3]"),
// kind and offset, and which byte arrays hold text. A region written for
// one layout opens only with a type of the same layout (else
// ErrTypeMismatch, whose message names the first field that differs): a
// struct whose fields were renamed or reordered is another layout, and so
// are struct{ X, Y, Z float64 } and [3]float64, and bool and uint8. The
// names of Go types are not compared: the same struct under another name,
// in another program, opens the file. Explicit padding is a field: in
// struct{ A int32; _ [4]byte; B int64 }, the blank field is four uint8 at
// offsets 4 to 7 (paths _[0] to _[3]), while the 4 bytes of padding Go puts
// in struct{ A int32; B int64 } are no field at all. The two have the same
// size and offsets but different layouts, which matters to those who pad
// by hand to match a C struct or a numpy dtype: write the type the same way
// everywhere the file is opened. A field added inside explicit padding
// (Unit uint8; _ [3]byte in place of _ [4]byte) changes the layout too.
//
// A file's element type changes with Relabel or Migrate. Relabel stores the
// layout of a type that differs in names alone (a field renamed, the text
// tag added), in O(1), without touching the elements. Migrate rewrites the
// file as a vector of the new type, converting each element: how a struct
// gains a field. Both are all or nothing.
//
// # Concurrency
//
// A MemVec is not safe for concurrent use: like a slice, it needs one writer
// at a time, and readers must not run beside a writer. (With SyncEvery the
// vector syncs from a goroutine of its own, which it keeps out of the
// owner's calls itself.) A File's lock keeps
// other handles, in this process or another, from opening it for writing
// at the same time.
//
// To read a file while its writer appends to it, open a follower with the
// Follow option, in another process or in the goroutine that reads (one
// handle per goroutine): it sees the writer's progress at each Refresh or
// Wait, never an element half written, and never faults, whatever the
// writer does. See Follow.
//
// # Views
//
// Slice, the iterators and pointers such as &v.Slice()[i] point into the
// region itself, and stay valid until Close, also across growth: on Unix
// (and for anonymous memory on Windows) a region reserves address space when
// it is created (DefaultReserve, 64 GiB on 64-bit platforms; see the Reserve
// option) and grows in place inside it, never moving. Exactly two things
// move a region, invalidating every view taken before: growth past its
// reservation (the region moves to one twice as large), and, where a region
// cannot grow in place (a File on Windows; anonymous memory on Plan 9 and
// WebAssembly), any resize: a growth or a Clip. Elements past Len that a
// Truncate, Pop or Clip dropped may go on being read through an old view;
// after Clip, the bytes past the new end may fault. Reading or writing a
// view after Close faults, and so does writing through a view of a read-only
// vector: a fault is not a panic and cannot be recovered. On Unix the fault
// is certain, not a read or write of whatever is mapped there next: the
// address space given up stays reserved and inaccessible in a bounded
// quarantine (16 TiB or 1,024 ranges retired after it, less under a limit
// on address space or when a mapping would fail for want of it; see the
// README). On
// Windows the same holds for anonymous memory, and for a File's views (also
// those a resize leaves behind) unless another thread maps something at
// their address in the instant between the unmapping and the reservation.
//
// # Paging hints
//
// Paging hints tell the operating system how the region will be used, so
// that it reads ahead, keeps and drops pages to suit: what a program that
// streams a file larger than the memory needs (examples/largerthanram).
// They are hints: they never change the vector's elements nor its length,
// and a system that has no such hint ignores it.
//
// What each does, per platform:
//
//	                  Linux                     other Unix              Windows, others
//	Advise(a)         madvise(a)                madvise(a)              nothing
//	WillNeed          MADV_WILLNEED             MADV_WILLNEED           nothing
//	DontNeed, File    MADV_PAGEOUT (DONTNEED    MADV_DONTNEED           nothing
//	                  before Linux 5.4)
//	DontNeed, File    MADV_DONTNEED             MADV_DONTNEED           nothing
//	read-only
//	DontNeed, Anon    MADV_PAGEOUT (nothing     nothing                 nothing
//	                  before Linux 5.4)
//	Populate          MADV_POPULATE_READ, for   each page read          each page read
//	                  Anon _WRITE (a read of
//	                  each page before 5.14)
//
// A Memory other than File and Anon takes no hints: Advise does not apply
// to it, and WillNeed, DontNeed and Populate do nothing.
package memvec

import (
	"errors"
	"fmt"
	"iter"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
)

// MemVec is a vector of elements of type T stored in a Memory. Create one
// with Make (anonymous memory), Open (a file) or New (any Memory).
//
// Its methods follow the built-in slice and the slices package: indices out
// of range panic, and failures of the system (no memory, a full disk) are
// returned as errors. A Sync that fails is for good: from then on every
// Sync, Close and mutator that returns an error returns one wrapping
// ErrSyncFailed (see Sync). See the package documentation for which types T
// may be and how long views stay valid.
type MemVec[T any] struct {
	// s holds the elements in place: len(s) is the length, and cap(s) is
	// how many elements Push may write before it takes the slow path: the
	// capacity, or less for a memory that prefaults (see prefaulter), and
	// len(s) for a read-only vector, whose slow path refuses.
	s []T
	// length is the header's length word inside the region. It is stored
	// after the elements it counts are written, so that a crash never
	// leaves it ahead of them. Nil for a read-only vector without a header.
	length *atomic.Uint64

	mem        Memory
	layout     *layout
	dataOffset int
	faulted    int       // bytes of the region a prefaulter has faulted in
	follow     *follower // set for a vector opened with Follow
	readOnly   bool
	// persistent is set for a region that outlives the vector (any memory
	// but Anon): followers may see it, so rewrites bump the generation
	// (beginRewrite), and a power loss may cut it, so the durable length
	// is kept (durable.go).
	persistent bool
	// base is what this writer knows to be durable: a finished barrier
	// covered the elements below it. durable is what a header on the disk
	// may count: rewriting below it needs a barrier first (overwrite).
	base, durable int
	// changed is set once the vector's file is found changed by another
	// program (see checkFile): it wraps ErrFileChanged, and the vector
	// writes the file no more.
	changed error
	// failed is set once a barrier failed (see fail): every later Sync,
	// Close and mutator that returns an error returns it, and the length
	// stays at most durable, so that any drop clips the capacity (see
	// setLen) and nothing is pushed. lowered is set once the header that
	// counts only what the vector kept is durable (lowerHeader).
	failed  *syncFailure
	lowered bool
	closed  bool
	// raw is set for a Raw's vector, whose layout is the one the region
	// stores, whatever it is (open reads it).
	raw bool
	// waker wakes the followers a Push left asleep (see wakeFollowers).
	waker followerWaker
	// bg is the syncer of a vector opened with SyncEvery, nil otherwise.
	bg *backgroundSync
	// shared is set for a vector whose file was opened with Shared: its
	// appends go through the append lock (shared.go), never Push's fast
	// path (attach holds its capacity at its length), but a holder's own
	// (pushHeld) from Push's slow path.
	shared *sharedWriter
}

// prefaulter is implemented by a Memory that can fault in pages for
// writing in bulk, ahead of the writes, for less than a page fault each
// costs (Anon and File, on Linux with MADV_POPULATE_WRITE). The vector then
// lets Push run on its fast path only up to the pages faulted in, and
// faults in the next PrefaultWindow bytes from the slow path: two system
// calls per MiB instead of 256 page faults, shared with a helper goroutine
// that goes on pretouchAhead bytes further (see pretoucher), and at most
// 2 MiB of memory touched before it is written.
type prefaulter interface {
	prefault(off, n int)
}

// prefaulter returns the vector's memory as a prefaulter, or nil if it is
// none, its elements take no room, or the system cannot fault pages in in
// bulk (populateInBulk): then Push's fast path runs to the capacity.
func (v *MemVec[T]) prefaulter() prefaulter {
	pf, ok := v.mem.(prefaulter)
	if !ok || v.layout.size == 0 || !region.PopulateInBulk {
		return nil
	}
	return pf
}

// pageSize is the unit of growth: regions are sized in whole pages.
var pageSize = os.Getpagesize()

// growthStep bounds how much a region grows at once: it doubles until it is
// this large, and grows by this much after that, so that a big file does not
// reserve gigabytes of disk it may never use.
const growthStep = 1 << 30

// New returns a vector stored in mem. An empty region becomes a new, empty
// vector: New resizes it to one page (or the few pages large layout
// slots need) and writes a header and the layout. So does a
// region of 128 bytes (the header's size) up to 64 KiB whose bytes are all
// zero: what a creation interrupted before its header leaves. Every other
// region must hold a valid header: New returns an error wrapping
// ErrCorrupt for a region shorter than 128 bytes, for one whose first 64
// bytes are zero but that is longer than 64 KiB or not all zero (a lost
// header, whose elements a new one would overwrite), and for a region that
// is not a memvec region or whose header or stored layout is
// inconsistent; it returns ErrTypeMismatch, saying where the layouts first
// differ, for a region written for another element layout.
// FORMAT.md states the same rule. A read-only mem (see Memory) is never
// written.
//
// New does not close mem when it fails. It costs O(1) (the type check is
// done once per type and cached).
func New[T any](mem Memory) (_ *MemVec[T], err error) {
	if f, ok := mem.(*File); ok {
		// Another program may cut the file under the reads below.
		defer catchFault(f, "open", debug.SetPanicOnFault(true), &err)
	}
	l, err := layoutFor[T]()
	if err != nil {
		return nil, wrapError("open", mem, err)
	}
	// Anonymous memory and a TempDir's file outlive the vector in no one's
	// eyes: nobody follows them, and no power loss matters to them.
	_, anon := mem.(*Anon)
	_, scratch := mem.(*scratchFile)
	v := &MemVec[T]{mem: mem, layout: l, readOnly: isReadOnly(mem), persistent: !anon && !scratch, dataOffset: int(format.DataOffsetFor(l.body()))}
	b := mem.Bytes()
	if f, ok := mem.(*File); ok && f.r.Shared() {
		v.shared = newSharedWriter(f)
		v.shared.readyDead = v.readyDead
		if len(b) == 0 || format.IsBlank(b) {
			// Of Shared writers that open a new file at once, one
			// creates the vector, under the creation lock; the others
			// find its header once they have the lock.
			if err := f.r.LockCreation(); err != nil {
				return nil, v.wrap("create", err)
			}
			defer f.r.UnlockCreation()
			if err := f.growShared(0); err != nil {
				return nil, v.wrap("create", err)
			}
			b = mem.Bytes()
		}
	}
	if err := checkAligned(b, l); err != nil {
		return nil, v.wrap("open", err)
	}
	if _, ok := following(mem); ok {
		v.follow = newFollower(headerPending(b))
		if v.follow.pending {
			return v, nil
		}
		if err := v.open(b); err != nil {
			return nil, err
		}
		return v, nil
	}
	switch {
	case v.readOnly && (len(b) == 0 || format.IsBlank(b)):
		// A new vector that nobody may write: empty, without a header.
		return v, nil
	case len(b) == 0 || format.IsBlank(b):
		if size := format.NewRegionSize(l.body(), pageSize); len(b) < size {
			if err := mem.Resize(size); err != nil {
				return nil, v.wrap("create", err)
			}
			b = mem.Bytes()
			if err := checkAligned(b, l); err != nil {
				return nil, v.wrap("create", err)
			}
		}
		format.WriteHeader(b, l.body())
		v.attach(b, 0)
		v.claim(b, 0)
		if v.shared != nil {
			v.shared.lock.Store(v.shared.id) // a new header: the creator holds the lock
		}
		// The header reaches the disk before any element can: a power
		// loss never leaves elements under a header that is all zero,
		// which reads as damage (ErrCorrupt), not as a new vector.
		if v.persistent {
			if err := v.syncHeader(); err != nil {
				return nil, v.wrap("create", err)
			}
		}
	default:
		if err := v.open(b); err != nil {
			return nil, err
		}
	}
	v.startSyncer()
	return v, nil
}

// openingHook, when a test sets it, is called in the open of a Shared
// writer or a follower after the header is checked, before the length is
// read.
var openingHook func()

// open validates the header of region b and attaches the vector to the
// elements it counts, by the rule of format.TrustedLength. A writer then claims
// the region (see claim).
func (v *MemVec[T]) open(b []byte) error {
	var n int
	var err error
	if v.raw {
		// The layout is the one the region stores, read once: a
		// follower's may change under it (Relabel).
		if v.layout, err = rawLayout(b); err == nil {
			n, err = format.TrustedLength(b, int(binaryDataOffset(b)), v.layout.size, region.BootID())
		}
	} else if v.shared != nil || v.follow != nil {
		// Writers beside this one push, and grow the file, since it was
		// mapped: the length may count more than b holds. It is read
		// below, inside the append lock for a Shared writer, in a
		// snapshot for a follower, which then maps what it counts.
		_, err = checkHeader(b, v.layout)
		if openingHook != nil {
			openingHook()
		}
	} else {
		n, err = readHeader(b, v.layout)
	}
	if err != nil {
		return v.wrap("open", err)
	}
	v.dataOffset = int(binaryDataOffset(b))
	v.attach(b, n)
	switch {
	case v.follow != nil:
		// The writer may have pushed since readHeader looked.
		v.follow.gen, n, _ = v.snapshot()
		need, err := regionSize(v.dataOffset, n, v.layout.size)
		if err == nil {
			fm, _ := following(v.mem)
			err = fm.followTo(need)
		}
		if err != nil {
			return v.wrap("open", err)
		}
		v.attach(v.mem.Bytes(), n)
	case v.shared != nil:
		// What claim and keepTail store in the header, they store inside
		// the append lock, as Sync does.
		v.attach(b, n)
		v.shared.join()
		if err := v.shared.hold(); err != nil {
			return err
		}
		defer v.shared.letGo()
		// Others may have pushed, and grown the file, since readHeader
		// looked; after a reboot no writer has claimed the file yet if
		// its boot identifier is still the old one, and the length
		// word may count what the power loss took.
		if err := v.shared.file.growShared(0); err != nil {
			return v.wrap("open", err)
		}
		b = v.mem.Bytes()
		if n, err = format.TrustedLength(b, v.dataOffset, v.layout.size, region.BootID()); err != nil {
			return v.wrap("open", err)
		}
		v.claim(b, n)
		v.attach(b, n)
		if n > v.base {
			if err := v.keepTail(n); err != nil {
				return err
			}
		}
	case !v.readOnly:
		v.claim(b, n)
		v.attach(b, n)
		if v.persistent {
			v.wakeStranded()
			if n > v.base {
				if err := v.keepTail(n); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Make returns an empty vector in anonymous memory (see Anon) with room for
// capacity elements. It panics if capacity is negative, like make. It
// returns ErrUnsupportedType for a T that is not plain data and the system's
// error if the memory cannot be mapped. The memory is reserved, not touched:
// pages count against the process's RSS only when written. Of the options,
// only Reserve, Advise and TempDir apply: Make returns an error naming any other it is given,
// as in "memvec: make anonymous memory: option ReadOnly does not apply to
// anonymous memory". With TempDir the vector is in a file that no name
// reaches instead (see TempDir), and the capacity's disk blocks are
// reserved at once: a full disk is an error wrapping ENOSPC.
func Make[T any](capacity int, opts ...Option) (*MemVec[T], error) {
	o, name, err := makeOptions(opts)
	if capacity < 0 {
		panic(fmt.Sprintf("memvec: make %s: negative capacity %d", name, capacity))
	}
	if _, err := layoutFor[T](); err != nil {
		return nil, fmt.Errorf("memvec: make %s: %w", name, err)
	}
	if err != nil {
		return nil, err
	}
	var mem Memory
	if o.tempGiven {
		mem, err = newScratchFile(o, name)
	} else {
		mem, err = NewAnon(0, opts...)
	}
	if err != nil {
		return nil, err
	}
	v, err := New[T](mem)
	if err == nil {
		err = v.Grow(capacity)
	}
	if err != nil {
		mem.Close()
		return nil, err
	}
	return v, nil
}

// Open opens the vector stored in the file at path, creating the file if it
// is missing (unless ReadOnly, Follow or MustExist is given; with CreateNew,
// only if missing): OpenFile followed by New. It closes
// the file, releasing its lock, if New fails, and removes it if this open
// created it: a failed Open leaves no file behind that it made, so that
// trying again, with CreateNew too, can succeed. Opening costs O(1)
// whatever the file's size: nothing is read until used. A writer that
// opens a file whose last writer left elements past what a Sync made
// durable, in this boot (it was killed, or ended without a Sync), makes
// them durable before Open returns, so that a later power loss or reboot
// keeps them: two barriers (the file's, then the header's), whose cost
// follows what that writer left unsynced; none of the elements is read.
func Open[T any](path string, opts ...Option) (*MemVec[T], error) {
	if _, err := layoutFor[T](); err != nil {
		return nil, fmt.Errorf("memvec: open %s: %w", path, err)
	}
	f, err := OpenFile(path, opts...)
	if err != nil {
		return nil, notBytes("open", path, err)
	}
	v, err := New[T](f)
	if err != nil {
		if derr := f.r.Discard(); derr != nil && f.r.Created() {
			return nil, fmt.Errorf("%w (the file it created could not be removed: %v)", err, derr)
		}
		return nil, err
	}
	return v, nil
}

// attach points the vector at region b holding n elements: the typed view
// and the length word. It runs after New and after every resize, never on
// the hot path.
func (v *MemVec[T]) attach(b []byte, n int) {
	base := unsafe.Pointer(unsafe.SliceData(b))
	v.length = (*atomic.Uint64)(unsafe.Add(base, format.OffLength))
	c := format.CapacityOf(len(b), v.dataOffset, v.layout.size)
	if v.prefaulter() != nil {
		c = min(c, max(n, format.CapacityOf(v.faulted, v.dataOffset, v.layout.size)))
	}
	if v.shared != nil {
		// The header's words, and what the holder's fast path may reach
		// (pushHeld).
		v.shared.point(v.length)
		v.shared.data, v.shared.room = unsafe.Add(base, v.dataOffset), c
	}
	if v.readOnly || n < v.durable || v.changed != nil || v.failed != nil || v.shared != nil {
		// A Shared writer pushes through the append lock (shared.go);
		// otherwise nothing may be pushed; or not before the durable length goes
		// down (see overwrite); or not to a file another program changed
		// (see checkFile); or not after a failed barrier (see fail): Push
		// takes the slow path, which refuses.
		c = n
	}
	v.s = unsafe.Slice((*T)(unsafe.Add(base, v.dataOffset)), c)[:n]
}

// wrap puts an error from the memory or the format in the package's form,
// "memvec: <op> <region>: <what>" (see wrapError).
func (v *MemVec[T]) wrap(op string, err error) error { return wrapError(op, v.mem, err) }

// wrapError puts err in the package's form, "memvec: <op> <name>: <err>",
// with the name of mem (see memoryName), unless err is in that form
// already: the errors of File and Anon name their operation and path
// themselves, and a second prefix would only repeat them.
func wrapError(op string, mem Memory, err error) error {
	if strings.HasPrefix(err.Error(), "memvec: ") {
		return err
	}
	return fmt.Errorf("memvec: %s %s: %w", op, memoryName(mem), err)
}

// annotate adds to err, from the memory, what the vector was doing when it
// failed: "memvec: <op> <region>: <doing>: <err>", or, if err names its
// operation and region already (the shipped memories' errors do),
// "<err> (<doing>)", so that the prefix is never said twice.
func (v *MemVec[T]) annotate(op, doing string, err error) error {
	if strings.HasPrefix(err.Error(), "memvec: ") {
		return fmt.Errorf("%w (%s)", err, doing)
	}
	return v.wrap(op, fmt.Errorf("%s: %w", doing, err))
}

// panicf panics with a message in the package's form, naming op and the
// vector's region, as wrap does for errors.
func (v *MemVec[T]) panicf(op, format string, args ...any) {
	panic(fmt.Sprintf("memvec: %s %s: %s", op, memoryName(v.mem), fmt.Sprintf(format, args...)))
}

// checkAligned returns an error wrapping ErrUnaligned unless b starts at an
// address aligned for the header's atomic length and for the elements.
func checkAligned(b []byte, l *layout) error {
	a := max(uintptr(8), l.align)
	if p := uintptr(unsafe.Pointer(unsafe.SliceData(b))); len(b) > 0 && p%a != 0 {
		return fmt.Errorf("%w: region starts at %#x, need a multiple of %d", ErrUnaligned, p, a)
	}
	return nil
}

// binaryDataOffset reads the data offset of a validated header.
func binaryDataOffset(b []byte) uint32 {
	return *(*uint32)(unsafe.Pointer(&b[format.OffDataOffset]))
}

// regionSize returns the bytes a region needs for n elements of size bytes
// after dataOffset, or an error, for the caller to wrap, if that overflows
// an int.
func regionSize(dataOffset, n int, size uintptr) (int, error) {
	if size > 0 && n > (math.MaxInt-dataOffset-pageSize)/int(size) {
		return 0, fmt.Errorf("%d elements of %d bytes do not fit in an int", n, size)
	}
	return dataOffset + n*int(size), nil
}

// roundUp rounds n up to a multiple of unit, a power of two.
func roundUp(n, unit int) int { return (n + unit - 1) &^ (unit - 1) }

// Len returns the number of elements. It returns 0 after Close.
func (v *MemVec[T]) Len() int { return len(v.s) }

// Cap returns how many elements the vector holds before it must resize its
// memory. It returns 0 after Close. For a read-only vector it is the
// capacity of the region, though nothing can be added.
func (v *MemVec[T]) Cap() int {
	if v.closed {
		return 0
	}
	return max(len(v.s), format.CapacityOf(len(v.mem.Bytes()), v.dataOffset, v.layout.size))
}

// Push appends x. The element is written before the length, so a crash
// never leaves the length counting it unwritten, and a follower never sees
// it half written. Push is amortized O(1): it resizes the memory only when
// the capacity is used up (see Grow for the growth policy). It returns
// ErrReadOnly, ErrClosed, the memory's error when it cannot grow (a full
// disk, no memory), or once a Sync has failed an error wrapping
// ErrSyncFailed (see Sync); the vector is then unchanged. With SyncEvery,
// it returns the error of a background Sync that failed since the last
// call, once: the element is then dropped with the others that Sync
// covered.
func (v *MemVec[T]) Push(x T) error {
	if n := len(v.s); n < cap(v.s) {
		v.s = v.s[:n+1]
		v.s[n] = x
		if !v.persistent {
			// Anonymous memory: no other process maps it and no follower
			// reads its length, so a plain store will do. The atomic
			// store below is a locked instruction on amd64 (XCHG), which
			// waits for the element's stores to drain to the cache: it
			// made a push of warm memory 3.6 times slower (69.6 ms
			// against 19.1 ms for ten million, BENCHMARKS.md).
			*(*uint64)(unsafe.Pointer(v.length)) = uint64(n + 1)
			return nil
		}
		// Publish: the length after the element, then wake the followers
		// that sleep in Wait, if any (see wakeFollowers). The atomic
		// store is a full fence, which the load of the wake word cannot
		// pass: either this sees the bit a follower sets before it
		// sleeps, or the follower sees the length (see sleepOnWake).
		// Written out here rather than called, to keep the fast path one
		// function.
		v.length.Store(uint64(n + 1))
		if (*atomic.Uint32)(unsafe.Add(unsafe.Pointer(v.length), format.OffWake-format.OffLength)).Load()&1 != 0 {
			return v.woken()
		}
		return nil
	}
	return v.pushSlow(x)
}

// publish stores the length n, after the elements it counts, and wakes the
// followers sleeping in Wait, if any.
func (v *MemVec[T]) publish(n int) {
	v.length.Store(uint64(n))
	if v.wake().Load()&1 != 0 {
		v.wakeFollowers()
	}
}

// pushSlow makes room (growing the memory, or faulting in the next pages)
// and pushes x.
func (v *MemVec[T]) pushSlow(x T) error {
	if v.shared != nil {
		if v.pushHeld(x) {
			return nil
		}
		return v.appendShared("push", unsafe.Slice(&x, 1))
	}
	if err := v.roomForPush(); err != nil {
		return err
	}
	return v.Push(x)
}

// roomForPush is pushSlow's part that a background Sync must not run
// beside (see syncLock).
func (v *MemVec[T]) roomForPush() error {
	defer v.syncUnlock(v.syncLock())
	if err := v.backgroundErr("push"); err != nil {
		return err
	}
	if err := v.overwrite(len(v.s)); err != nil {
		return err
	}
	return v.makeRoom(len(v.s) + 1)
}

// Append appends xs, in one resize at most. All of xs are written before the
// length, so a crash leaves either none or all of them counted. It is
// O(len(xs)) amortized, and fails as Push does.
func (v *MemVec[T]) Append(xs ...T) error {
	if v.shared != nil {
		return v.appendShared("append", xs)
	}
	defer v.syncUnlock(v.syncLock())
	if err := v.backgroundErr("append"); err != nil {
		return err
	}
	return v.append(xs)
}

// append is Append, under syncLock.
func (v *MemVec[T]) append(xs []T) error {
	n := len(v.s)
	switch {
	case len(xs) == 0:
		return v.writable()
	case n+len(xs) < n:
		return v.wrap("append", fmt.Errorf("%d elements and %d more overflow int", n, len(xs)))
	}
	if err := v.overwrite(n); err != nil {
		return err
	}
	if n+len(xs) > cap(v.s) {
		xs = v.detach(xs)
		if err := v.makeRoom(n + len(xs)); err != nil {
			return err
		}
	}
	v.s = v.s[:n+len(xs)]
	copy(v.s[n:], xs)
	v.publish(len(v.s))
	return nil
}

// detach returns xs, or a copy of it on the heap if it points into the
// region, where a resize could move it or a shift overwrite it.
func (v *MemVec[T]) detach(xs []T) []T {
	b := v.mem.Bytes()
	if len(xs) == 0 || len(b) == 0 || v.layout.size == 0 {
		return xs
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	hi := lo + uintptr(len(b))
	if p := uintptr(unsafe.Pointer(unsafe.SliceData(xs))); p >= lo && p < hi {
		return append([]T(nil), xs...)
	}
	return xs
}

// Pop removes and returns the last element, and false if the vector is
// empty (or closed). It panics on a read-only vector. It is O(1).
func (v *MemVec[T]) Pop() (T, bool) {
	v.mustWrite("pop")
	defer v.syncUnlock(v.syncLock())
	n := len(v.s)
	if n == 0 {
		var zero T
		return zero, false
	}
	x := v.s[n-1]
	v.beginRewrite()
	v.setLen(n - 1)
	v.endRewrite()
	return x, true
}

// Insert inserts xs at index i, moving the elements from i on up to make
// room. It panics if i < 0 or i > Len(). It is O(Len()-i + len(xs)) and
// grows the memory at most once. Insert rewrites elements in place: a crash
// in the middle may leave the elements after i shifted or duplicated (the
// length stays consistent). It returns ErrReadOnly, ErrClosed or the
// memory's error, and the vector is then unchanged.
func (v *MemVec[T]) Insert(i int, xs ...T) error {
	defer v.syncUnlock(v.syncLock())
	if err := v.writable(); err != nil {
		return err
	}
	n := len(v.s)
	if i < 0 || i > n {
		v.panicf("insert", "index %d out of range [0:%d]", i, n)
	}
	if len(xs) == 0 {
		return nil
	}
	if n+len(xs) < n {
		return v.wrap("insert", fmt.Errorf("%d elements and %d more overflow int", n, len(xs)))
	}
	xs = v.detach(xs) // xs may point into the region: copy it before moving anything
	if err := v.overwrite(i); err != nil {
		return err
	}
	if err := v.makeRoom(n + len(xs)); err != nil {
		return err
	}
	s := v.s[:n+len(xs)]
	if i < n {
		// Moving elements a follower may see.
		v.beginRewrite()
		copy(s[i+len(xs):], s[i:n])
		copy(s[i:], xs)
		v.s = s
		v.length.Store(uint64(len(s)))
		v.endRewrite()
	} else {
		copy(s[i:], xs)
		v.s = s
	}
	v.publish(len(s))
	return nil
}

// Remove removes and returns the element at index i, moving the ones after
// it down: the order is kept. It panics if i is out of range or the vector
// is read-only. It is O(Len()-i). Like Insert, it is not atomic under a
// crash. Once a Sync has failed it returns the element and changes nothing
// (see Sync).
func (v *MemVec[T]) Remove(i int) T {
	v.mustWrite("remove")
	v.mustBeOpen("remove")
	defer v.syncUnlock(v.syncLock())
	x := v.s[i]
	if !v.rewritable(i) {
		return x
	}
	v.beginRewrite()
	copy(v.s[i:], v.s[i+1:])
	v.setLen(len(v.s) - 1)
	v.endRewrite()
	return x
}

// SwapRemove removes and returns the element at index i, moving the last
// element into its place: O(1), but the order is not kept. It panics if i is
// out of range or the vector is read-only. Once a Sync has failed it
// returns the element and changes nothing (see Sync).
func (v *MemVec[T]) SwapRemove(i int) T {
	v.mustWrite("remove")
	v.mustBeOpen("remove")
	defer v.syncUnlock(v.syncLock())
	x := v.s[i]
	last := len(v.s) - 1
	if !v.rewritable(i) {
		return x
	}
	v.beginRewrite()
	v.s[i] = v.s[last]
	v.setLen(last)
	v.endRewrite()
	return x
}

// Index returns the element at index i. It panics if i is out of range, as
// indexing a slice does (with the runtime's own error), or, after Close,
// with a message that says the vector is closed. It is O(1), inlined, and
// does not allocate; it loads the vector's slice header on every call, so
// a hot loop that reads many elements runs faster over Slice(), which stays
// valid as the vector grows.
func (v *MemVec[T]) Index(i int) T {
	if uint(i) >= uint(len(v.s)) {
		panic(v.outOfRange(i))
	}
	return v.s[i]
}

// outOfRange returns what Index panics with for index i, out of range: the
// runtime's error for indexing the elements, as a slice would panic with,
// or after Close a message in the package's form that says the vector is
// closed, as in "memvec: index /tmp/a.vec: closed" (a closed vector holds
// no elements, and the runtime's "index out of range [0] with length 0"
// would not say why). Kept out of line, so that Index stays within the
// inliner's budget; Index's panic of its result ends the branch, so the
// compiler drops the bounds check of the index that follows it.
//
//go:noinline
func (v *MemVec[T]) outOfRange(i int) (p any) {
	if v.closed {
		return fmt.Sprintf("memvec: index %s: %v", memoryName(v.mem), ErrClosed)
	}
	defer func() { p = recover() }()
	_ = v.s[i]
	return nil
}

// Set sets the element at index i to x. It panics if i is out of range or
// the vector is read-only. It is O(1). Once a Sync has failed it changes
// nothing (see Sync).
func (v *MemVec[T]) Set(i int, x T) {
	if v.readOnly || v.closed {
		v.mustWrite("set")
		v.mustBeOpen("set")
	}
	defer v.syncUnlock(v.syncLock())
	p := &v.s[i] // the index check, before the generation changes
	if v.shared != nil {
		// In place, as a write through Slice: other writers append
		// beside it, and the generation is no one's to bump.
		*p = x
		return
	}
	// A failed vector's length is at most durable, so that it never
	// writes here (see rewritable).
	if i < v.durable && !v.rewritable(i) {
		return
	}
	v.beginRewrite()
	*p = x
	v.endRewrite()
}

// Slice returns the elements in place, with len and cap equal to Len(): an
// append to it copies to the heap rather than writing past the length.
// Writes through it change the vector (and fault on a read-only one). It
// stays valid until Close, also across growth, unless the region moves:
// past its reservation, and at every resize (a growth or a Clip) for a File
// on Windows and for anonymous memory on Plan 9 and WebAssembly (see the
// package documentation on views). O(1).
func (v *MemVec[T]) Slice() []T { return v.s[:len(v.s):len(v.s)] }

// All returns an iterator over the indices and elements, in order: the
// elements the vector holds when the iteration starts, read in place, like
// ranging over Slice() (and as fast). Elements pushed during the iteration
// are not visited. Growth during the iteration is safe wherever views
// survive growth (see the package documentation on views), so not for a
// File on Windows, whose region moves when it grows; Clip or Close during
// the iteration is a fault, as for any view.
func (v *MemVec[T]) All() iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		for i, x := range v.s {
			if !yield(i, x) {
				return
			}
		}
	}
}

// Values returns an iterator over the elements, in order, like All without
// the indices.
func (v *MemVec[T]) Values() iter.Seq[T] {
	return func(yield func(T) bool) {
		for _, x := range v.s {
			if !yield(x) {
				return
			}
		}
	}
}

// Backward returns an iterator over the indices and elements from the last
// to the first, of the elements the vector holds when the iteration starts
// (see All).
func (v *MemVec[T]) Backward() iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		s := v.s
		for i := len(s) - 1; i >= 0; i-- {
			if !yield(i, s[i]) {
				return
			}
		}
	}
}

// Grow makes room for n more elements, so that the next n pushes do not
// resize the memory. It panics if n is negative. It returns ErrReadOnly,
// ErrClosed or the memory's error (and the vector is then unchanged).
//
// The growth policy, for Grow and for pushes past the capacity: the region
// doubles in size until it is 1 GiB, and grows by 1 GiB at a time after
// that, in whole pages, or more when more is asked for; when that step does
// not fit (a full disk, no memory), just the room asked for. Pushing n elements
// therefore resizes the memory O(log n) times while small and once per GiB
// after; the File backend reserves the disk blocks of each step.
func (v *MemVec[T]) Grow(n int) error {
	if n < 0 {
		v.panicf("grow", "negative count %d", n)
	}
	defer v.syncUnlock(v.syncLock())
	if err := v.writable(); err != nil {
		return err
	}
	if len(v.s)+n < len(v.s) {
		return v.wrap("grow", fmt.Errorf("%d elements and %d more overflow int", len(v.s), n))
	}
	return v.reserve(len(v.s) + n)
}

// Clip shrinks the memory so that the capacity is Len(), handing the spare
// bytes back (for a file, truncating it). It returns ErrReadOnly, ErrClosed
// or the memory's error, and the vector is then unchanged.
//
// A File that followers may map keeps its size (see File.Resize): cutting
// it would fault a follower that reads past the new end. Clip then still
// brings the capacity down to Len() (the next push grows the region back
// into the bytes the file kept, without reserving disk blocks again), but
// returns an error wrapping ErrFollowed, so that a caller that clipped to
// give the disk space back knows that it did not: the file keeps its size
// and its blocks until a Clip or a Close finds no follower attached (on
// macOS, the BSDs and Solaris, where the writer cannot see followers, that
// is never: those cut nothing).
func (v *MemVec[T]) Clip() error {
	defer v.syncUnlock(v.syncLock())
	if err := v.writable(); err != nil {
		return err
	}
	size, err := regionSize(v.dataOffset, len(v.s), v.layout.size)
	if err != nil {
		return v.wrap("clip", err)
	}
	// Cutting the file under the durable length would leave a durable
	// length past the end of a file that a power loss shortened.
	if err := v.overwrite(len(v.s)); err != nil {
		return err
	}
	if err := v.resize(size); err != nil {
		return err
	}
	if f, ok := v.mem.(*File); ok && f.FileSize() > int64(size) {
		return v.wrap("clip", fmt.Errorf("the capacity is down to %d elements, but the file keeps its %d bytes (%d past the region): %w",
			len(v.s), f.FileSize(), f.FileSize()-int64(size), ErrFollowed))
	}
	return nil
}

// Truncate shortens the vector to its first n elements. It panics if n < 0
// or n > Len(), or if the vector is read-only. It is O(1): the capacity and
// the bytes of the removed elements stay.
func (v *MemVec[T]) Truncate(n int) {
	v.mustWrite("truncate")
	defer v.syncUnlock(v.syncLock())
	if n < 0 || n > len(v.s) {
		v.panicf("truncate", "length %d out of range [0:%d]", n, len(v.s))
	}
	if n < len(v.s) {
		v.beginRewrite()
		v.setLen(n)
		v.endRewrite()
	}
}

// Clear removes all elements, keeping the capacity. It panics if the vector
// is read-only. O(1).
func (v *MemVec[T]) Clear() {
	v.mustWrite("clear")
	defer v.syncUnlock(v.syncLock())
	if len(v.s) > 0 {
		v.beginRewrite()
		v.setLen(0)
		v.endRewrite()
	}
}

// Sync makes the elements and the length durable, so that they survive a
// power loss or an operating-system crash: it records in the header what it
// is about to make durable, with a checksum of the elements written since
// the last Sync, and then makes the elements and the header durable in one
// barrier (for a File: msync, and fsync after the file's size changed; see
// File.Sync for macOS and Windows). After a power loss the file opens with
// every element a returned Sync covered, and counts no element that was not
// written whole (FORMAT.md, "Power loss"): elements pushed after the last
// Sync may be dropped. An in-place rewrite at index i after a Sync (Set,
// Insert, Remove and the like) first lowers what the header counts to i,
// durably, so after a power loss before the next Sync the vector keeps the
// elements below i. Sync's cost follows the bytes written since the last
// Sync, not the size of the vector. It returns ErrClosed after Close; it is
// a no-op for memory with nothing to make durable. For a file that another
// program has cut, removed or replaced under the vector, it returns an
// error wrapping ErrFileChanged and writes nothing (see File.Resize); the
// vector then writes the file no more.
//
// A Sync that returns nil means durable. One that fails (the disk's ENOSPC
// or EIO) may have lost what it covered, though the vector may still read
// it for a while: the system reports a failed write-back once, and may then
// drop those pages and read the disk's bytes in their place. So a failure
// is for good: the error wraps ErrSyncFailed and the system's error, and
// the vector drops the elements past what the last Sync to succeed made
// durable and lowers the file's header to them, durably as soon as the disk
// takes it, so that no length counts an element that may not be on the
// disk: not this vector's, a follower's, nor that of a reader once the page
// cache is dropped or after a reboot. Every later Sync and Close returns the
// same error, and so does every mutator that returns an error; Set, Remove
// and SwapRemove change nothing (Remove and SwapRemove return the element
// at i), while Pop, Truncate and Clear, which write no element, still drop
// them. Open the file again to go on: the new vector counts what the disk
// holds. The barrier a rewrite makes (above) fails the vector the same way,
// and so does the one Close makes after a drop, and a background Sync's
// (SyncEvery), whose error the next call returns.
func (v *MemVec[T]) Sync() error {
	if v.closed {
		return v.wrap("sync", ErrClosed)
	}
	if v.shared != nil {
		return v.syncShared()
	}
	defer v.syncUnlock(v.syncLock())
	if err := v.backgroundErr("sync"); err != nil {
		return err
	}
	return v.sync()
}

// sync is Sync, under syncLock.
func (v *MemVec[T]) sync() (err error) {
	if v.persistent && !v.readOnly && v.length != nil {
		// Sync reads the elements for their checksums and writes the
		// header: not those of a file another program changed, and a cut
		// just after the check is an error too, not a fault.
		if err := v.checkFile(); err != nil {
			return v.wrap("sync", err)
		}
		if f, ok := v.mem.(*File); ok {
			defer catchFault(f, "sync", debug.SetPanicOnFault(true), &err)
		}
		return v.syncDurable()
	}
	if err := v.mem.Sync(); err != nil {
		return v.wrap("sync", err)
	}
	return nil
}

// Close releases the memory (for a File: the mapping and the lock). A file
// is cut to its elements, rounded up to a page, if no follower is attached
// at that moment: the spare capacity that growth reserved on the disk (up
// to the data's size, or 1 GiB, past the data: see Grow) is given back, so
// that a closed file keeps at most a page (and the filesystem's last
// block) beyond its data. With followers attached the file keeps its size
// (a follower's view of elements the writer dropped may reach past the
// data), and so it does on macOS, the BSDs and Solaris, where the writer
// cannot see followers (see File.Resize); the next writer's Close cuts it.
// The next writer grows the file again as it pushes. Close does not sync: it records the length in the
// header with a checksum of the elements written since the last Sync, so
// that a machine that shuts down cleanly, which writes its page cache out,
// loses nothing after its reboot (a power loss may still drop what no Sync
// covered). If the vector dropped elements that an earlier Sync made
// durable, Close makes the header durable alone. After Close, Len and Cap
// return 0 and the mutators that return an error return ErrClosed; every
// view taken before is invalid. For a file that another program has cut,
// removed or replaced under the vector, Close records nothing, releases
// the file all the same, and returns an error wrapping ErrFileChanged. A
// second Close returns nil.
//
// With SyncEvery, Close first makes a last Sync of what is not yet
// durable, and stops the background Syncs; it returns the error of that
// Sync, or of a background one that no call returned yet.
//
// Once a barrier has failed (see Sync), Close returns an error wrapping
// ErrSyncFailed and the barrier's error, having released the memory all the
// same. Since Close makes no barrier of its own, a write-back that fails
// after it is reported to no one: call Sync before Close to know that the
// elements reached the disk.
func (v *MemVec[T]) Close() error {
	if f := v.waits(); f != nil {
		// A Wait in another goroutine returns first (see Wait).
		f.endWaits()
	}
	if v.closed {
		return nil
	}
	var err error
	bg := v.bg
	if bg != nil {
		// A last Sync, then the syncer stops: Close leaves nothing that
		// is not durable, as a Sync before it would.
		bg.mu.Lock()
		defer bg.done.Wait() // after the lock is let go, below
		v.adoptBehind()
		if err = v.backgroundErr("close"); err == nil && v.failed == nil && !v.allDurable() {
			err = v.sync()
		}
		bg.stopSyncer()
	}
	if v.shared != nil && v.length != nil {
		// A Shared writer records nothing at Close (other writers append
		// on; Sync makes theirs and its elements durable), and cuts
		// nothing (see File.TrimAtClose): it gives up the append lock.
		v.shared.release()
	} else if err == nil && v.persistent && !v.readOnly && v.length != nil && v.checkFile() == nil {
		err = v.recordCloseOrFault()
	}
	if f, ok := v.mem.(*File); errors.Is(err, ErrFileChanged) || ok && f.r.Changed() != nil && errors.Is(err, f.r.Changed()) {
		err = nil // the File's Close reports it, as it does a change checkFile found
	}
	if f, ok := v.mem.(*File); ok && err == nil && v.failed == nil && v.changed == nil && v.length != nil {
		// The elements, and those a header on the disk may count (see
		// overwrite), in whole pages: a power loss that keeps an older
		// header finds its elements in the file.
		if size, serr := regionSize(v.dataOffset, max(len(v.s), v.durable), v.layout.size); serr == nil {
			f.trimAtClose(roundUp(size, pageSize))
		}
	}
	v.closed = true
	v.s, v.length, v.base, v.durable = nil, nil, 0, 0
	v.waker.stop()
	err = errors.Join(err, v.mem.Close())
	if bg != nil {
		bg.mu.Unlock()
	}
	if err != nil {
		return v.wrap("close", err)
	}
	return nil
}

// Memory returns the memory the vector is stored in: the *File that Open
// opened, the *Anon that Make mapped, or the Memory given to New. It is
// there to be inspected, as a tool does:
//
//	if f, ok := v.Memory().(*memvec.File); ok {
//		fmt.Println(f.Name(), f.Reserved(), f.Mapped(), f.FileSize())
//	}
//
// The vector owns it: resizing, closing or writing it other than through
// the vector leaves the vector's view of it wrong. After Close it
// returns the closed memory, whose Reserved and Mapped are 0.
func (v *MemVec[T]) Memory() Memory { return v.mem }

// setLen shortens the vector to n and records it in the header. On a closed
// vector (whose length is 0, so n is 0) there is nothing to record.
func (v *MemVec[T]) setLen(n int) {
	v.s = v.s[:n]
	if n < v.durable {
		v.s = v.s[:n:n] // see attach
	}
	if v.length != nil {
		v.length.Store(uint64(n))
	}
}

// writable returns an error wrapping ErrClosed, ErrReadOnly or
// ErrFileChanged when the vector cannot change, as in "memvec: write
// /tmp/a.vec: closed", and the failure (wrapping ErrSyncFailed) once a
// barrier failed (see fail).
func (v *MemVec[T]) writable() error {
	switch {
	case v.closed:
		return v.wrap("write", ErrClosed)
	case v.readOnly:
		return v.wrap("write", ErrReadOnly)
	case v.shared != nil:
		return v.errShared("write")
	case v.changed != nil:
		return v.wrap("write", v.changed)
	case v.bg != nil && v.bg.owed.Load():
		return v.backgroundErr("write")
	case v.failed != nil:
		return v.wrap("write", v.failed)
	}
	return nil
}

// mustWrite panics if the vector is read-only, for the mutators that have
// no error to return, as in "memvec: pop /tmp/a.vec: read-only". A closed
// vector passes: it is empty, and the mutators that can act on an empty
// vector (Pop, Truncate, Clear) do.
func (v *MemVec[T]) mustWrite(op string) {
	if v.readOnly && !v.closed {
		v.panicf(op, "%v", ErrReadOnly)
	}
	if v.shared != nil && !v.closed {
		v.panicf(op, "%v: other writers append beside this one", ErrShared)
	}
}

// mustBeOpen panics if the vector is closed, for the mutators with an index
// and no error to return (Set, Remove, SwapRemove): an index into a closed
// vector is out of range, but the message says why, as in
// "memvec: set /tmp/a.vec: closed". On an open vector an index out of range
// panics as it does for a slice.
func (v *MemVec[T]) mustBeOpen(op string) {
	if v.closed {
		v.panicf(op, "%v", ErrClosed)
	}
}

// makeRoom readies the vector for writing elements up to n: it reserves the
// capacity and, for a prefaulter, faults in the pages up to element n and
// region.PrefaultWindow bytes beyond.
func (v *MemVec[T]) makeRoom(n int) error {
	if err := v.reserve(n); err != nil {
		return err
	}
	pf := v.prefaulter()
	if pf == nil || n <= cap(v.s) {
		return nil
	}
	b := v.mem.Bytes()
	// From the first element not yet written: the pages below hold
	// elements already (a file opened with its data), and faulting them in
	// could mean reading them all from the disk.
	from := max(v.faulted, v.dataOffset+len(v.s)*int(v.layout.size))
	if end := min(len(b), v.dataOffset+n*int(v.layout.size)+region.PrefaultWindow); end > from {
		pf.prefault(from, end-from)
		v.faulted = end
	}
	v.attach(b, len(v.s))
	return nil
}

// reserve makes the capacity at least n, growing the memory by the policy
// documented on Grow.
func (v *MemVec[T]) reserve(n int) error {
	if err := v.writable(); err != nil {
		return err
	}
	if n < 0 { // the length plus what is added overflowed: zero-size elements only
		return v.wrap("grow", fmt.Errorf("%d elements and more overflow int", len(v.s)))
	}
	if n <= cap(v.s) || n <= v.Cap() {
		return nil
	}
	want, err := regionSize(v.dataOffset, n, v.layout.size)
	if err != nil {
		return v.wrap("grow", err)
	}
	next := nextRegionSize(len(v.mem.Bytes()), want)
	err = v.resize(next)
	if err != nil && next > roundUp(want, pageSize) {
		// The policy's step did not fit (a full disk, no memory): the
		// room asked for may still fit, so that the disk fills up to its
		// last page before Push fails.
		if v.resize(roundUp(want, pageSize)) == nil {
			return nil
		}
	}
	return err
}

// nextRegionSize returns the size a region of have bytes grows to when it
// needs want: the policy documented on Grow.
func nextRegionSize(have, want int) int {
	next := roundUp(max(want, have+min(have, growthStep)), pageSize)
	if next < want { // overflow
		next = want
	}
	return next
}

// resize resizes the memory to size bytes and re-attaches the view. On
// failure the memory, and so the vector, is unchanged.
func (v *MemVec[T]) resize(size int) error {
	v.waker.stop()
	if err := v.mem.Resize(size); err != nil {
		// A Memory must leave the region as it was; attach again all the
		// same, so that the view never outlives a mapping that did change.
		if b := v.mem.Bytes(); checkAligned(b, v.layout) == nil && len(b) >= v.dataOffset {
			v.attach(b, min(len(v.s), format.CapacityOf(len(b), v.dataOffset, v.layout.size)))
		}
		if errors.Is(err, ErrFileChanged) {
			v.checkFile() // the vector stops writing too
		}
		return v.wrap("resize", err)
	}
	b := v.mem.Bytes()
	if err := checkAligned(b, v.layout); err != nil {
		return v.wrap("resize", err)
	}
	v.faulted = min(v.faulted, len(b))
	v.attach(b, len(v.s))
	return nil
}
