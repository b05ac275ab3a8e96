package memvec

// Bytes: records of any length.
//
// Design (FORMAT.md, "Bytes files", has every byte and the reasons at
// length). One path names a directory of two files: "offsets", a region
// of the common format (kind 2; elements of 8 bytes, aligned to 8) whose
// body is Arrow LargeBinary's offsets, Len()+1 int64 from the data offset,
// the first 0; and "data", the records' bytes back to back from byte 0,
// with no header. Two files because both arrays grow without bound: in one
// file, growing the first would move the second (O(n) appends, views that
// move), while each of two files grows in place inside its own reserved
// mapping, as a vector file does, and each is one contiguous buffer that
// numpy and Arrow map without a copy. The offsets file holds the header,
// the lock (one lock guards both files) and every word a vector file has:
// the length counts the records, and the power-loss words count records
// too, with a checksum that covers both the records' offsets and their
// bytes (bytesSum), so that the rule of format.TrustedCount, the vector's
// own, never counts a record whose offset or bytes a power loss garbled.
//
// A Push stores the record's bytes, then its end offset, then the length
// (one atomic store): a kill -9 at any instruction leaves a length that
// counts only records written whole. Everything else follows MemVec's
// durable.go, for two memories instead of one.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"iter"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
)

// Bytes is a vector of records of any length: byte strings, each a copy of
// what Push was given, stored back to back in a memory-mapped region, with
// their offsets in another. Create one with OpenBytes (a directory on
// disk, which survives the process) or MakeBytes (anonymous memory).
//
// The guarantees are MemVec's: Push never leaves a record half counted
// (after a kill -9 every record whose Push returned is there, and none
// that was not written whole); after a power loss every record a returned
// Sync covered is kept and none that was garbled is counted; a full disk
// is an error from Push; a damaged file is ErrCorrupt. Opening costs O(1)
// whatever the number of records.
//
// At and All give the records in place, without a copy: a view stays
// valid until Close, also across growth (on Unix; see MemVec's Views), and
// must not be written. A Bytes is not safe for concurrent use.
//
// The offsets and the bytes are Arrow's LargeBinary buffers (FORMAT.md,
// "Bytes files"), so that numpy and Arrow read them without a copy.
type Bytes struct {
	path string // the directory, or "anonymous memory"
	idx  Memory // the header and the offsets
	dat  Memory // the records' bytes; nil for a ReadOnly Bytes without a data file
	// offs are the offsets entries the index region has room for, in
	// place: offs[0] is 0 and offs[i+1] the end of record i, for i < n.
	offs []int64
	// data is the data region: the records' bytes are data[:offs[n]].
	data   []byte
	n      int // the number of records: what the length word counts
	length *atomic.Uint64
	// dataOffset is where offs[0] is in the index region.
	dataOffset int
	// room and entryRoom bound what Push's fast path writes: the data
	// bytes, and the offsets entries; the regions' ends, or less for a
	// memory that prefaults (see MemVec's prefaulter): then the bytes
	// faulted in, dataFaulted and idxFaulted, which the slow path extends.
	room                    int64
	entryRoom               int
	dataFaulted, idxFaulted int
	readOnly                bool
	persistent              bool // a file: followers and power loss concern it (see MemVec.persistent)
	closed                  bool
	// base and durable are MemVec's (see durable.go): what this writer
	// knows durable, and what a header on the disk may count.
	base, durable int
	// failed is set once a barrier failed: every later Sync, Close and
	// mutator that returns an error returns it (see MemVec's "A failed
	// barrier").
	failed error
	// follow, waker and bg are MemVec's (bytes_follow.go): the state of a
	// follower, the wake-ups of the writer's followers, and the syncer of
	// a writer opened with SyncEvery.
	follow *follower
	waker  followerWaker
	bg     *backgroundSync
	// failedBehind is set by the syncer when its barrier failed, under
	// bg.mu; the owner's next call makes it failed (adoptBehind).
	failedBehind *bytesFailure
	// shared is set for a Bytes opened with Shared: its appends go
	// through the append lock in the offsets file's header
	// (bytes_shared.go), never Push's fast path (attach holds its room at
	// none).
	shared *sharedWriter
}

// The offsets file's body: one int64 per entry, aligned to 8 on every
// platform (also where Go aligns int64 to 4: Arrow needs 8, and so do the
// 64-bit atomic loads of the words of the header next to them).
var bytesBody = format.Body{
	Kind:        format.KindBytes,
	ElemSize:    8,
	ElemAlign:   8,
	Fingerprint: 0x6d3adf8e7411730e, // FNV-1a 64 of "size=8;align=8;i64@0*1;"
	Layout:      []byte(`{"size":8,"align":8,"type":{"kind":"i64"}}`),
}

// The names of the two files under a Bytes's path.
const (
	bytesOffsetsName = "offsets"
	bytesDataName    = "data"
)

// OpenBytes opens the Bytes at path, a directory, creating it (and its
// two files, with the Mode option's permissions) if missing unless
// ReadOnly or MustExist is given, and only if missing with CreateNew. It
// locks it (exclusively, or shared with ReadOnly; LockTimeout as for
// Open) and maps its files. See FORMAT.md, "Bytes files", for what is
// under the path.
//
// It returns an error wrapping ErrTypeMismatch if path holds a vector
// file (or a Bytes's offsets file holds a vector), ErrCorrupt if the Bytes
// is damaged (its header, its length, or the last record's offsets against
// the data; the other offsets are checked by Check, not at open, which
// costs O(1)), ErrLocked as Open does, and the system's error otherwise.
//
// With Follow it opens a follower, which reads beside a live writer as a
// MemVec's does (see Follow, Refresh and Wait): the directory and its
// offsets file must exist. With SyncEvery the writer makes its records
// durable in the background, as a MemVec does (see SyncEvery). With
// Shared it opens one of any number of Shared writers of the Bytes, as
// Open does for a vector (see Shared): Push, PushString, PushFunc and
// Append from them all land once and whole, each handle sees the others'
// records after Refresh or Wait, and Truncate is refused (ErrShared).
// PushFunc's function then runs holding the Shared writers' append lock:
// the others wait for it.
func OpenBytes(path string, opts ...Option) (_ *Bytes, err error) {
	o, err := fileOptions(path, opts)
	if err != nil {
		return nil, err
	}
	if o.follow {
		return openBytesFollower(path, o)
	}
	made, err := bytesDirectory(path, o)
	if err != nil {
		return nil, err
	}
	defer func() {
		// Not a directory other Shared writers may have opened since.
		if err != nil && made && !o.shared {
			os.RemoveAll(path)
		}
	}()
	idx, err := openFile(filepath.Join(path, bytesOffsetsName), o)
	if err != nil {
		return nil, err
	}
	b := &Bytes{path: path, idx: idx, readOnly: o.readOnly, persistent: true}
	dataOpts := o
	dataOpts.mustExist, dataOpts.createNew = false, false
	dataPath := filepath.Join(path, bytesDataName)
	if _, serr := os.Stat(dataPath); !o.readOnly || serr == nil {
		dat, err := openFile(dataPath, dataOpts)
		if err != nil {
			idx.Close()
			return nil, err
		}
		b.dat = dat
	}
	open := b.open
	if o.shared {
		open = b.openShared
	}
	if err := open(made); err != nil {
		b.discardMemories()
		return nil, err
	}
	b.startSyncer(o.syncEvery)
	return b, nil
}

// bytesDirectory readies the directory at path for OpenBytes with options
// o: it makes it if missing and o allows (made says so), and refuses a
// path that is not a directory, naming a vector file as such.
func bytesDirectory(path string, o options) (made bool, err error) {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		if o.createNew {
			return false, fmt.Errorf("memvec: open %s: %w", path, fs.ErrExist)
		}
		return false, nil
	case err == nil:
		if kind, ok := fileKind(path); ok && kind != format.KindBytes {
			return false, fmt.Errorf("memvec: open %s: %w: the file holds a %v, not bytes", path, ErrTypeMismatch, kind)
		} else if ok {
			return false, fmt.Errorf("memvec: open %s: %w: the file is a Bytes's offsets file; open the Bytes by its directory, %s", path, ErrTypeMismatch, filepath.Dir(path))
		}
		return false, fmt.Errorf("memvec: open %s: %w: not a directory, which a Bytes is (see FORMAT.md, \"Bytes files\")", path, ErrCorrupt)
	case !errors.Is(err, fs.ErrNotExist) || o.readOnly || o.mustExist:
		return false, fmt.Errorf("memvec: open %s: %w", path, err)
	}
	// Search permission for whoever may read: 0644 files, a 0755 directory.
	if err := os.Mkdir(path, o.mode|(o.mode&0o444)>>2); err != nil {
		if errors.Is(err, fs.ErrExist) && o.shared && !o.createNew {
			// Another Shared writer made it in between: it is theirs too.
			return bytesDirectory(path, o)
		}
		return false, fmt.Errorf("memvec: open %s: %w", path, err)
	}
	return true, nil
}

// fileKind returns the kind in the header of the file at path, if it has
// a memvec header whose checksum holds.
func fileKind(path string) (format.Kind, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var head [format.HeaderSize]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return 0, false
	}
	h, _, err := format.ReadStatic(head[:])
	if err != nil && h.Kind == 0 {
		return 0, false
	}
	return h.Kind, true
}

// isBytesDirectory reports whether path is a Bytes's directory: what Open
// of a vector refuses as ErrTypeMismatch.
func isBytesDirectory(path string) bool {
	kind, ok := fileKind(filepath.Join(path, bytesOffsetsName))
	return ok && kind == format.KindBytes
}

// notBytes returns err, the error of opening path as a vector file (by
// Open, OpenRaw or Relabel), or, if path is a Bytes's directory, an error
// that says so and wraps ErrTypeMismatch: the system's "is a directory"
// would not tell the user what is there, nor match the error a vector file
// of another type gives.
func notBytes(op, path string, err error) error {
	if isBytesDirectory(path) {
		return fmt.Errorf("memvec: %s %s: %w: the path holds bytes (a Bytes's directory), not a vector", op, path, ErrTypeMismatch)
	}
	return err
}

// MakeBytes returns an empty Bytes in anonymous memory (see Anon), or with
// TempDir in two files that no name reaches, one for each of its regions
// (see TempDir). Of the other options only Reserve and Advise apply, to
// each of its two regions; it returns an error naming any other.
func MakeBytes(opts ...Option) (*Bytes, error) {
	o, name, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	newRegion := func() (Memory, error) { return NewAnon(0, opts...) }
	if o.tempGiven {
		name = "unnamed files in " + o.tempDir
		newRegion = func() (Memory, error) { return newScratchFile(o, name) }
	}
	idx, err := newRegion()
	if err != nil {
		return nil, err
	}
	dat, err := newRegion()
	if err != nil {
		idx.Close()
		return nil, err
	}
	b := &Bytes{path: name, idx: idx, dat: dat}
	if err := b.open(true); err != nil {
		b.closeMemories()
		return nil, err
	}
	return b, nil
}

// open validates the index region, or writes a new header into it, and
// attaches the Bytes to the records it counts; a writer then claims it
// (see MemVec.claim) and makes durable what the last writer left past the
// base (keepTail). made says that the directory is new: its parent is
// synced with the new header.
func (b *Bytes) open(made bool) error {
	ib := b.idx.Bytes()
	b.dataOffset = int(format.DataOffsetFor(bytesBody))
	if len(ib) == 0 || format.IsBlank(ib) {
		if b.readOnly {
			// A new Bytes that nobody may write: empty, without a header.
			return nil
		}
		if size := format.NewRegionSize(bytesBody, pageSize); len(ib) < size {
			if err := b.idx.Resize(size); err != nil {
				return b.wrap("create", err)
			}
			ib = b.idx.Bytes()
		}
		format.WriteHeader(ib, bytesBody)
		b.attach()
		b.claim(0)
		if b.persistent {
			// The header reaches the disk before any record can, and the
			// directory's name with it.
			if err := b.syncHeader(); err != nil {
				return b.wrap("create", err)
			}
			if made {
				if err := region.SyncDirectory(filepath.Dir(filepath.Clean(b.path))); err != nil {
					return b.wrap("create", err)
				}
			}
		}
		return nil
	}
	if err := b.readHeader(ib); err != nil {
		return err
	}
	b.attach()
	c := uint64(len(b.offs) - 1)
	n64, err := format.TrustedCount(ib, c, region.BootID(), b.sum)
	if err != nil {
		return b.wrap("open", fmt.Errorf("%w: %v records, the %d-byte offsets file holds at most %d", ErrCorrupt, err, len(ib), c))
	}
	n := int(n64)
	switch end := b.offs[n]; {
	case b.offs[0] != 0:
		return b.wrap("open", fmt.Errorf("%w: the first offset is %d, not 0", ErrCorrupt, b.offs[0]))
	case end < 0 || end > int64(len(b.data)):
		return b.wrap("open", fmt.Errorf("%w: the %d records end at byte %d, past the end of the %d-byte data file", ErrCorrupt, n, end, len(b.data)))
	case n > 0 && b.offs[n-1] > end:
		return b.wrap("open", fmt.Errorf("%w: record %d starts at byte %d, after its end %d", ErrCorrupt, n-1, b.offs[n-1], end))
	}
	b.n = n
	if !b.readOnly {
		b.claim(n)
		if b.persistent {
			wakeStranded(b.wake())
			if n > b.base {
				return b.keepTail(n)
			}
		}
	}
	return nil
}

// readHeader checks the offsets region ib's header, which must be a
// Bytes's, and takes its data offset.
func (b *Bytes) readHeader(ib []byte) error {
	h, section, err := format.ReadStatic(ib)
	switch {
	case err != nil:
		return b.wrap("open", err)
	case h.Kind != format.KindBytes:
		return b.wrap("open", fmt.Errorf("%w: the file holds a %v, not bytes", ErrTypeMismatch, h.Kind))
	case h.ElemSize != bytesBody.ElemSize || h.ElemAlign != bytesBody.ElemAlign || h.Fingerprint != bytesBody.Fingerprint || string(section) != string(bytesBody.Layout):
		return b.wrap("open", fmt.Errorf("%w: the offsets are not 8-byte integers: element size %d, alignment %d, layout %s", ErrCorrupt, h.ElemSize, h.ElemAlign, section))
	case int(h.DataOffset)%8 != 0 || format.CapacityOf(len(ib), int(h.DataOffset), 8) == 0:
		return b.wrap("open", fmt.Errorf("%w: the %d-byte offsets file has no room for the first offset at %d", ErrCorrupt, len(ib), h.DataOffset))
	}
	b.dataOffset = int(h.DataOffset)
	return nil
}

// attach points the Bytes at its two regions as they are now: after the
// open and after every resize, never on the hot path.
func (b *Bytes) attach() {
	ib := b.idx.Bytes()
	b.length = format.Word64At(ib, format.OffLength)
	entries := format.CapacityOf(len(ib), b.dataOffset, 8)
	b.offs = unsafe.Slice((*int64)(unsafe.Pointer(&ib[b.dataOffset:][:1][0])), entries)
	b.data = nil
	if b.dat != nil {
		b.data = b.dat.Bytes()
	}
	b.room, b.entryRoom = int64(len(b.data)), len(b.offs)
	if b.shared != nil {
		// A Shared writer pushes through the append lock (appendShared).
		b.shared.point(b.length)
		b.room, b.entryRoom = 0, 0
		return
	}
	if bytesPrefaulter(b.dat) != nil {
		b.room = int64(min(len(b.data), b.dataFaulted))
	}
	if bytesPrefaulter(b.idx) != nil {
		b.entryRoom = min(len(b.offs), max(0, (b.idxFaulted-b.dataOffset)/8))
	}
	b.holdBelowDurable()
}

// holdBelowDurable keeps Push off its fast path while the length is below
// what a header on the disk may count, so that its slow path lowers that
// header first (overwrite). Push's fast path then reads no field that the
// syncer writes (durable; see bytes_follow.go).
func (b *Bytes) holdBelowDurable() {
	if b.n < b.durable {
		b.entryRoom = min(b.entryRoom, b.n+1)
	}
}

// sum is the checksum of records [from, to) that the power-loss words
// keep (FORMAT.md, "Bytes files"): the CRC-32C of their offsets entries,
// from+1 to to, continued over their bytes. It reports false for a stretch
// whose offsets run backwards or past the data, which no checksum covers.
// to < len(b.offs).
func (b *Bytes) sum(from, to uint64) (uint32, bool) {
	if to <= from {
		return 0, true
	}
	s, e := b.offs[from], b.offs[to]
	if s < 0 || e < s || e > int64(len(b.data)) {
		return 0, false
	}
	ends := b.offs[from+1 : to+1]
	crc := crc32.Update(0, format.Castagnoli, unsafe.Slice((*byte)(unsafe.Pointer(&ends[0])), 8*len(ends)))
	return crc32.Update(crc, format.Castagnoli, b.data[s:e]), true
}

// Len returns the number of records; 0 after Close.
func (b *Bytes) Len() int { return b.n }

// Size returns the bytes the records hold, all together; 0 after Close.
func (b *Bytes) Size() int64 {
	if b.n == 0 {
		return 0
	}
	return b.offs[b.n]
}

// Push appends one record, a copy of p (empty is allowed). It returns
// ErrReadOnly, ErrClosed, or the memory's error if a region cannot grow
// (a full disk): the Bytes is then unchanged.
func (b *Bytes) Push(p []byte) error {
	n := b.n
	if err := b.writable("push"); err != nil {
		return err
	}
	start := b.offs[n]
	end := start + int64(len(p))
	if n+2 > b.entryRoom || end > b.room {
		if b.shared != nil {
			return b.appendShared("push", [][]byte{p})
		}
		// A record of this Bytes's own (At's view) is copied first: a
		// region that cannot grow in place (a File on Windows) moves.
		p = b.detach(p)
		if err := b.makeRoom("push", n+1, end); err != nil {
			return err
		}
	}
	// The bytes, then the offset that ends them, then the length that
	// counts them: a kill -9 between any two leaves the record uncounted.
	copy(b.data[start:end], p)
	if pushStep != nil {
		pushStep()
	}
	b.offs[n+1] = end
	if pushStep != nil {
		pushStep()
	}
	b.n = n + 1
	b.length.Store(uint64(n + 1))
	if pushStep != nil {
		pushStep()
	}
	// Followers asleep in Wait, or the syncer, set bit 0 of the wake word
	// (see MemVec's Push): the store of the length above is a full fence.
	if b.wake().Load()&1 != 0 {
		return b.woken()
	}
	return nil
}

// PushString appends one record holding the bytes of s.
func (b *Bytes) PushString(s string) error {
	return b.Push(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// PushFunc appends one record that f writes in place, without the copy
// Push makes: f gets an empty slice whose capacity is the free space at
// the end of the records' bytes (at least spareRoom bytes, where the
// memory can grow), appends the record to it, and returns the result, as
// append and encoding.BinaryAppender's AppendBinary do — so an encoder's
// AppendBinary method can be passed as it is. A record that outgrows the
// capacity (append then returns a new array) is copied in, as Push would.
//
// If f returns an error, nothing is appended and PushFunc returns it,
// wrapped. The slice f gets must not be kept after f returns, and f must
// not call the Bytes's methods. A kill -9 while f runs leaves the Bytes as
// it was: the bytes f writes are not counted until f returns. Its other
// errors are Push's.
func (b *Bytes) PushFunc(f func(buf []byte) ([]byte, error)) error {
	n := b.n
	if err := b.writable("push"); err != nil {
		return err
	}
	start := b.offs[n]
	if want := start + spareRoom; n+2 > b.entryRoom || want > b.room {
		if b.shared != nil {
			return b.pushFuncShared(f)
		}
		// Room for the spare bytes if the memory can grow by them, else
		// (a nearly full disk) whatever is there: a longer record is
		// then copied in by Push, which grows by what it needs alone.
		if err := b.makeRoom("push", n+1, want); err != nil {
			if err := b.makeRoom("push", n+1, start); err != nil {
				return err
			}
		}
	}
	spare := b.data[start:start:len(b.data)]
	p, err := f(spare)
	if err != nil {
		return b.wrap("push", fmt.Errorf("the record's writer: %w", err))
	}
	if len(p) > 0 && (len(p) > cap(spare) || &p[0] != &b.data[start]) {
		return b.Push(p) // f outgrew the space, or returned other bytes
	}
	// The bytes are in place: then the offset that ends them, then the
	// length that counts them, as in Push.
	if pushStep != nil {
		pushStep()
	}
	b.offs[n+1] = start + int64(len(p))
	if pushStep != nil {
		pushStep()
	}
	b.n = n + 1
	b.length.Store(uint64(n + 1))
	if pushStep != nil {
		pushStep()
	}
	if b.wake().Load()&1 != 0 { // followers asleep, or the syncer (see Push)
		return b.woken()
	}
	return nil
}

// spareRoom is the free space PushFunc gives its function at least, where
// the memory can grow by it: more than most records need, so that they are
// written in place, and little beside a region's growth steps.
const spareRoom = 64 << 10

// Append appends the records ps, in order, all or none: the length counts
// them all at once, after every one is written. Its errors are Push's.
func (b *Bytes) Append(ps ...[]byte) error {
	if b.shared != nil {
		return b.appendShared("append", ps)
	}
	n := b.n
	if err := b.writable("append"); err != nil {
		return err
	}
	if len(ps) == 0 {
		return nil
	}
	end := b.offs[n]
	for _, p := range ps {
		if end += int64(len(p)); end < 0 {
			return b.wrap("append", errors.New("the records' bytes overflow int64"))
		}
	}
	cloned := false
	for i, p := range ps {
		q := b.detach(p)
		if len(q) == 0 || &q[0] == &p[0] {
			continue
		}
		if !cloned {
			ps, cloned = slices.Clone(ps), true // the caller's slice stays as it was
		}
		ps[i] = q
	}
	if err := b.makeRoom("append", n+len(ps), end); err != nil {
		return err
	}
	at := b.offs[n]
	for _, p := range ps {
		copy(b.data[at:], p)
		at += int64(len(p))
	}
	if pushStep != nil {
		pushStep()
	}
	at = b.offs[n]
	for i, p := range ps {
		at += int64(len(p))
		b.offs[n+1+i] = at
	}
	if pushStep != nil {
		pushStep()
	}
	b.n = n + len(ps)
	b.length.Store(uint64(b.n))
	if pushStep != nil {
		pushStep()
	}
	if b.wake().Load()&1 != 0 {
		return b.woken()
	}
	return nil
}

// pushStep, when a test sets it, is called by Push and Append after each
// of their three steps: the bytes, the offsets, the length. A child
// process kills itself there (TestBytesKilledAtEveryStep).
var pushStep func()

// makeRoom readies the Bytes for writing records up to count whose bytes
// end at end: it lowers the durable header below the first record to be
// written, if a header on the disk may count it (overwrite), and grows
// either region that is too small.
func (b *Bytes) makeRoom(op string, count int, end int64) error {
	defer b.syncUnlock(b.syncLock())
	if err := b.backgroundErr(op); err != nil {
		return err
	}
	if b.failed != nil {
		return b.wrap(op, b.failed)
	}
	start := b.offs[b.n]
	if start < 0 || start > int64(len(b.data)) {
		return b.wrap(op, fmt.Errorf("%w: record %d starts at byte %d, outside the %d-byte data file", ErrCorrupt, b.n, start, len(b.data)))
	}
	if err := b.overwrite(b.n); err != nil {
		return err
	}
	if end > math.MaxInt || count > (math.MaxInt-b.dataOffset)/8-1 {
		return b.wrap(op, fmt.Errorf("%d records of %d bytes do not fit in this platform's address space", count, end))
	}
	if int(end) > len(b.data) || b.dataOffset+8*(count+1) > len(b.idx.Bytes()) {
		// No wake-up may use the wake word while its region moves.
		b.waker.stop()
	}
	if int(end) > len(b.data) {
		if err := growRegion(b.dat, int(end)); err != nil {
			return b.wrap(op, err)
		}
	}
	if need := b.dataOffset + 8*(count+1); need > len(b.idx.Bytes()) {
		if err := growRegion(b.idx, need); err != nil {
			b.attach()
			return b.wrap(op, err)
		}
	}
	// Fault the pages to be written in, in bulk, from the first byte not
	// yet written (the pages below hold records already).
	if pf := bytesPrefaulter(b.dat); pf != nil {
		from := max(b.dataFaulted, int(start))
		if to := min(len(b.dat.Bytes()), int(end)+region.PrefaultWindow); to > from {
			pf.prefault(from, to-from)
			b.dataFaulted = to
		}
	}
	if pf := bytesPrefaulter(b.idx); pf != nil {
		from := max(b.idxFaulted, b.dataOffset+8*(b.n+1))
		if to := min(len(b.idx.Bytes()), b.dataOffset+8*(count+1)+region.PrefaultWindow); to > from {
			pf.prefault(from, to-from)
			b.idxFaulted = to
		}
	}
	b.attach()
	return nil
}

// bytesPrefaulter returns m as a prefaulter, or nil if it is none or the
// system cannot fault pages in in bulk.
func bytesPrefaulter(m Memory) prefaulter {
	if pf, ok := m.(prefaulter); ok && region.PopulateInBulk {
		return pf
	}
	return nil
}

// detach returns p, or a copy of it if it lies in the data region, which
// a growth may move (see Push).
func (b *Bytes) detach(p []byte) []byte {
	if len(p) == 0 || len(b.data) == 0 {
		return p
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b.data)))
	if at := uintptr(unsafe.Pointer(unsafe.SliceData(p))); at >= start && at < start+uintptr(len(b.data)) {
		return slices.Clone(p)
	}
	return p
}

// growRegion grows m to hold need bytes: by the growth policy
// (grownSize), or, if that does not fit (a full disk, no memory), to need
// alone in pages, so that the disk fills up to its last page before Push
// fails. It returns the first error: the policy's step's.
func growRegion(m Memory, need int) error {
	next := grownSize(len(m.Bytes()), need)
	err := m.Resize(next)
	if err != nil && next > roundUp(need, pageSize) && m.Resize(roundUp(need, pageSize)) == nil {
		return nil
	}
	return err
}

// grownSize returns the size a region of size bytes grows to so as to hold
// need: doubled until it does, by at most growthStep at a time, in pages.
func grownSize(size, need int) int {
	size = max(size, pageSize)
	for size < need {
		size += min(size, growthStep)
	}
	return roundUp(size, pageSize)
}

// At returns record i in place: a view whose capacity is its length, so
// that appending to it never writes into the Bytes. It must not be
// written. It panics if i is out of range (every i after Close, with a
// message that says so). A record whose stored offsets are damaged (see
// Check) reads as empty: At never reads outside the data. It is inlined:
// two loads of offsets, two compares and the view.
func (b *Bytes) At(i int) []byte {
	if uint(i) >= uint(b.n) {
		panic(&atRangeError{b.path, i, b.n, b.closed})
	}
	o := b.offs[i : i+2 : i+2]
	if s, e := o[0], o[1]; uint64(s) <= uint64(e) && uint64(e) <= uint64(len(b.data)) {
		return b.data[s:e:e]
	}
	return nil
}

// atRangeError is what At panics with for an index out of range: an
// error, as the runtime's own index errors are, whose message is made only
// when asked for, so that At's panic costs no call and At stays within the
// inliner's budget (a call to a formatting function would not).
type atRangeError struct {
	path   string
	i, n   int
	closed bool
}

func (e *atRangeError) Error() string {
	if e.closed {
		return fmt.Sprintf("memvec: at %s: %v", e.path, ErrClosed)
	}
	return fmt.Sprintf("memvec: at %s: index %d out of range [0:%d]", e.path, e.i, e.n)
}

// String returns a copy of record i as a string. It panics if i is out of
// range.
func (b *Bytes) String(i int) string { return string(b.At(i)) }

// All returns an iterator over the records in place, with their indices,
// as At gives them. The records pushed while it runs are not yielded; nor
// are those Truncate drops, nor any after Close: the length is read again
// before each record, and the Bytes's fields too, which a growth during
// the loop (a Push in its body) may change.
func (b *Bytes) All() iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		n := b.n
		for i := 0; i < n && i < b.n; i++ {
			if !yield(i, b.At(i)) {
				return
			}
		}
	}
}

// Check reads every offset and returns an error wrapping ErrCorrupt if
// one runs backwards or past the data: what OpenBytes, which costs O(1),
// does not check (FORMAT.md, "Bytes files"). memvec never writes such
// offsets; only damage by something else does.
func (b *Bytes) Check() error {
	prev := int64(0)
	for i := 1; i <= b.n; i++ {
		e := b.offs[i]
		if e < prev || e > int64(len(b.data)) {
			return b.wrap("check", fmt.Errorf("%w: record %d runs from byte %d to %d, in a %d-byte data file", ErrCorrupt, i-1, prev, e, len(b.data)))
		}
		prev = e
	}
	return nil
}

// Truncate keeps the first n records and drops the rest. It panics if n
// < 0 or n > Len(), or if the Bytes is read-only. The bytes of the dropped
// records stay in the data file until later records overwrite them.
func (b *Bytes) Truncate(n int) {
	if b.readOnly && !b.closed {
		panic(fmt.Sprintf("memvec: truncate %s: %v", b.path, ErrReadOnly))
	}
	if b.shared != nil && !b.closed {
		// Records of other writers may follow the first n.
		panic(b.errShared("truncate").Error())
	}
	if n < 0 || n > b.n {
		panic(fmt.Sprintf("memvec: truncate %s: length %d out of range [0:%d]", b.path, n, b.n))
	}
	if n == b.n {
		return
	}
	defer b.syncUnlock(b.syncLock())
	n = min(n, b.n) // a failed background sync may have dropped some
	// A follower that could see the dropped records sees a rewrite.
	gen := format.Word64At(b.idx.Bytes(), format.OffGeneration)
	gen.Add(1)
	b.n = n
	b.length.Store(uint64(n))
	gen.Add(1)
	b.holdBelowDurable()
}

// Sync makes the records durable: after it returns, a power loss or a
// reboot keeps them. It makes the data file durable, and the offsets
// file with the header. A failure is for good, as MemVec's Sync's is: it
// wraps ErrSyncFailed, the Bytes then counts only what the last successful
// Sync covered, and every later Sync, Close and Push returns it. It
// returns ErrClosed after Close and does nothing for anonymous memory or
// a ReadOnly Bytes.
//
// With SyncEvery, Sync returns first the error of a background Sync that
// no call returned yet.
func (b *Bytes) Sync() error {
	if b.closed {
		return b.wrap("sync", ErrClosed)
	}
	if b.shared != nil {
		return b.syncShared()
	}
	defer b.syncUnlock(b.syncLock())
	if err := b.backgroundErr("sync"); err != nil {
		return err
	}
	return b.sync()
}

// sync is Sync, under syncLock.
func (b *Bytes) sync() error {
	switch {
	case b.closed:
		return b.wrap("sync", ErrClosed)
	case b.failed != nil:
		return b.wrap("sync", b.failed)
	case !b.persistent || b.readOnly || b.length == nil:
		return nil
	}
	b.recordLength()
	if err := b.barrier(b.n); err != nil {
		return b.fail("sync", err)
	}
	n := b.n
	b.record(n, n, n)
	b.base, b.durable = n, n
	return nil
}

// barrier makes both files durable: the data and the offsets with the
// header, at once, each on its own goroutine, so that a Sync waits for one
// disk flush's time, not two in a row. Their order does not matter: a
// checked length counts records only if the checksum of both their
// offsets and their bytes holds (FORMAT.md, "Bytes files"), and the base,
// which no checksum covers, is stored after both have returned, to be
// written by the next barrier.
//
// Of each file it syncs only what the records a header on the disk may
// count need (as MemVec.syncElements does): a Sync of the whole mapping
// would also write back the pages past them that the pretoucher made dirty
// ahead of the pushes, and write them again once the pushes reach them
// (BENCHMARKS.md, "Bytes"): the first n records, and those a header on
// the disk may count. n is the caller's count: the owner's b.n, or the
// syncer's load of the length word, since the owner's pushes change b.n
// without a lock.
func (b *Bytes) barrier(n int) error {
	upto := min(max(n, b.durable), len(b.offs)-1)
	dataEnd := int(min(max(b.offs[upto], 0), int64(len(b.data))))
	if dataEnd == 0 {
		return syncPrefix(b.idx, b.dataOffset+8*(upto+1))
	}
	dataErr := make(chan error, 1)
	go func() { dataErr <- syncPrefix(b.dat, dataEnd) }()
	err := syncPrefix(b.idx, b.dataOffset+8*(upto+1))
	return errors.Join(<-dataErr, err)
}

// syncPrefix makes the first n bytes of m durable: a File's, in whole
// pages; all of another memory.
func syncPrefix(m Memory, n int) error {
	if f, ok := m.(*File); ok {
		return f.syncUpTo(n)
	}
	return m.Sync()
}

// Close records the length for a reboot after a clean shutdown (as
// MemVec's Close does), cuts the files to what the records need, and
// releases the lock and the mappings. It does not sync (see Sync), but
// with SyncEvery it makes a last Sync and stops the background ones, as
// MemVec's Close does, and returns the error of that Sync or of a
// background one no call returned yet. After Close, Len is 0 and the
// mutators return ErrClosed; a second Close returns nil. On a follower,
// Close may be called while another goroutine is in Wait (see Wait).
func (b *Bytes) Close() error {
	if f := b.waits(); f != nil {
		// A Wait in another goroutine returns first (see Wait).
		f.endWaits()
	}
	if b.closed {
		return nil
	}
	var err error
	if bg := b.bg; bg != nil {
		// A last Sync, then the syncer stops.
		bg.mu.Lock()
		defer bg.done.Wait() // after the lock is let go, below
		defer bg.mu.Unlock()
		b.adoptBehind()
		if err = b.backgroundErr("close"); err == nil && b.failed == nil && !b.allDurable() {
			err = b.sync()
		}
		bg.stopSyncer()
	}
	switch {
	case err != nil:
		// Returned below, after the regions are released.
	case b.shared != nil:
		b.closeShared()
		if b.failed != nil {
			err = b.wrap("close", b.failed)
		}
	case b.persistent && !b.readOnly && b.length != nil && b.failed == nil:
		b.recordLength()
		if b.n < b.durable {
			// The next writer knows only this header, and must not write
			// where an older one on the disk counts.
			if err = b.syncHeader(); err != nil {
				err = b.fail("close", err)
			}
		}
		if err == nil {
			b.idx.(*File).trimAtClose(roundUp(b.dataOffset+8*(b.n+1), pageSize))
			b.dat.(*File).trimAtClose(max(pageSize, roundUp(int(b.offs[b.n]), pageSize)))
		}
	case b.failed != nil:
		err = b.wrap("close", b.failed)
	}
	b.closed = true
	b.waker.stop()
	err = errors.Join(err, b.closeMemories())
	b.n, b.offs, b.data, b.length = 0, nil, nil, nil
	return err
}

// closeMemories closes the data region, then the offsets region, which
// holds the lock.
func (b *Bytes) closeMemories() error {
	var err error
	if b.dat != nil {
		err = b.dat.Close()
	}
	return errors.Join(err, b.idx.Close())
}

// discardMemories closes the regions of a Bytes that could not be opened,
// removing the files that this open created.
func (b *Bytes) discardMemories() {
	for _, m := range []Memory{b.dat, b.idx} {
		if f, ok := m.(*File); ok {
			f.r.Discard()
		} else if m != nil {
			m.Close()
		}
	}
}

// writable returns the error of a mutator that may not write: ErrClosed,
// ErrReadOnly, or a failed barrier's.
func (b *Bytes) writable(op string) error {
	switch {
	case b.closed:
		return b.wrap(op, ErrClosed)
	case b.readOnly:
		return b.wrap(op, ErrReadOnly)
	case b.failed != nil:
		return b.wrap(op, b.failed)
	}
	return nil
}

// wrap puts err in the package's form, "memvec: <op> <path>: <err>",
// unless it is in that form already (the memories' errors are).
func (b *Bytes) wrap(op string, err error) error {
	if !hasPrefix(err) {
		return fmt.Errorf("memvec: %s %s: %w", op, b.path, err)
	}
	return err
}

// hasPrefix reports whether err is in the package's form already.
func hasPrefix(err error) bool {
	s := err.Error()
	return len(s) > 8 && s[:8] == "memvec: "
}

// The power-loss words, as durable.go keeps them for a vector, with
// records in place of elements and sum as the checksum.

// claim is MemVec.claim: a region left before a reboot gets the length
// that survived as length and every checked length; every region gets
// this writer's boot identifier and an even generation.
func (b *Bytes) claim(n int) {
	ib := b.idx.Bytes()
	if b.persistent {
		if format.Rebooted(ib, region.BootID()) {
			b.length.Store(uint64(n))
			b.record(n, n, n)
		}
		binary.NativeEndian.PutUint64(ib[format.OffBootID:], region.BootID())
		b.base = int(format.Word64At(ib, format.OffBase).Load())
		b.durable = max(b.base, int(format.Word64At(ib, format.OffChecked1).Load()), int(format.Word64At(ib, format.OffChecked2).Load()))
	}
	if g := format.Word64At(ib, format.OffGeneration); g.Load()&1 != 0 {
		g.Add(1)
	}
}

// record is MemVec.record: the base first, then the checked lengths, then
// both checksums in one store.
func (b *Bytes) record(base, first, second int) {
	ib := b.idx.Bytes()
	var sums [8]byte
	s1, _ := b.sum(uint64(base), uint64(first))
	s2, _ := b.sum(uint64(first), uint64(second))
	binary.NativeEndian.PutUint32(sums[:4], s1)
	binary.NativeEndian.PutUint32(sums[4:], s2)
	format.Word64At(ib, format.OffBase).Store(uint64(base))
	format.Word64At(ib, format.OffChecked1).Store(uint64(first))
	format.Word64At(ib, format.OffChecked2).Store(uint64(second))
	format.Word64At(ib, format.OffSum1).Store(binary.NativeEndian.Uint64(sums[:]))
}

// recordLength is MemVec.recordLength: over the base, through what a
// header on the disk may count, to the length.
func (b *Bytes) recordLength() {
	n := b.n
	base := min(b.base, n)
	b.record(base, max(base, min(b.durable, n)), n)
}

// overwrite is MemVec.overwrite: before record i is written again where
// a header on the disk may count it, the header goes down to i, durably
// (after a barrier over everything, if i is past the base).
func (b *Bytes) overwrite(i int) error {
	if i >= b.durable || !b.persistent {
		return nil
	}
	if i > b.base {
		b.recordLength()
		if err := b.barrier(b.n); err != nil {
			return b.fail("sync", err)
		}
		b.base = i
	}
	b.record(i, i, i)
	if err := b.syncHeader(); err != nil {
		return b.fail("sync", err)
	}
	b.base, b.durable = i, i
	return nil
}

// keepTail is MemVec.keepTail: what the last writer left past the base,
// in this boot, is made durable before the open returns.
func (b *Bytes) keepTail(n int) error {
	if err := b.barrier(n); err != nil {
		return b.fail("open", err)
	}
	b.record(n, n, n)
	if err := b.syncHeader(); err != nil {
		return b.fail("open", err)
	}
	b.base, b.durable = n, n
	return nil
}

// syncHeader makes the offsets file's header durable alone.
func (b *Bytes) syncHeader() error {
	if f, ok := b.idx.(*File); ok {
		return f.syncHeader()
	}
	return b.idx.Sync()
}

// fail makes the Bytes failed after a barrier returned err (see MemVec's
// "A failed barrier"): it drops the records past the base, stores that in
// the header and tries to make the header durable. It returns the failure.
func (b *Bytes) fail(op string, err error) error {
	if b.failed == nil {
		kept := min(b.base, b.n)
		b.failed = fmt.Errorf("%w; the Bytes now counts the %d records the last successful sync made durable: open it again", err, kept)
		if !errors.Is(err, ErrSyncFailed) {
			b.failed = fmt.Errorf("%w: %w", b.failed, ErrSyncFailed)
		}
		gen := format.Word64At(b.idx.Bytes(), format.OffGeneration)
		gen.Add(1)
		b.n = kept
		b.length.Store(uint64(kept))
		gen.Add(1)
		b.record(kept, kept, kept)
		b.syncHeader()
	}
	return b.wrap(op, b.failed)
}
