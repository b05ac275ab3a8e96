package memvec

// Map: a persistent hash map of plain-data keys and values.
//
// Design (FORMAT.md, "Map files", has every byte). One file, a region of
// the common format (kind 3) whose element, for the header's layout, is
// struct{ Key K; Value V }. After the header and the layout slots comes
// the map block (640 bytes at the data offset: the words below and a
// directory of 64 segments), then buckets, allocated from the end of the
// used space and never moved or freed:
//
//   - Linear hashing (Litwin 1980). The map has B buckets, 0 to B-1;
//     bucketOf(h, B) maps a key's hash to one. Growth splits one bucket at
//     a time: bucket B is created from its parent B - 2^l (2^l <= B <
//     2^(l+1)), and B becomes B+1, so no Put costs more than one bucket's
//     chain. Bucket b lives in segment bits.Len(b), which holds 2^(j-1)
//     buckets (one for segments 0 and 1) at the offset the directory gives.
//   - A bucket is 32 bytes of header (an overflow bucket's stamp; the link
//     to the next bucket of the chain, with the stamp it must find there),
//     then S slots as arrays: S control words, S checksum words, S keys,
//     S first copies of the value, S second copies. It is at most 4096
//     bytes and aligned to its size, so it lies in one page.
//   - A slot's control word is, in one atomic 8-byte store: occupied (bit
//     63), the copy that holds the value (bit 62), a version (bits 32-61,
//     counted up at every store) and the hash's high 32 bits (the tag).
//     Put writes the other copy and its checksum, then stores the control
//     word: a kill -9 at any instruction leaves the old control word with
//     its copy untouched, or the new one with its copy whole. A follower
//     reads a slot as a seqlock: control word, key, copy, control word
//     again, and retries if the two differ.
//   - A split copies the parent's keys that go to the child into the child
//     (not yet visible: the child is >= B), then stores B+1. The parent's
//     copies stay: they are stale (their keys' hash maps elsewhere, so no
//     lookup finds them) until a Sync has made the child durable; only then
//     may the writer reuse their slots, or at once in a chain at or above
//     D, which no reader after a power loss reads. (They are not emptied
//     at the split: a follower listing the map beside the writer still
//     finds there the keys its view counts.) A kill -9 inside a split
//     leaves B, so the half-made child is ignored and made again.
//
// Power loss: the kernel writes pages back in any order, but each page as
// it was at some moment (crashfs's model). Sync makes the file durable up
// to the end of the used space, then stores D = B and AD = the used end as
// what is durable, and makes the map block durable (two barriers). After
// a reboot (the boot identifier differs) a reader uses D buckets, not B:
// every bucket below D, and every chain as it was at that Sync, is on the
// disk; the parents of children at D and above still hold their keys'
// copies, at least as new as the last Sync. Each bucket's page is some
// version since the last Sync, whose slots are whole (a control word and
// its copy are in one page; the checksum of the key and the copy catches a
// disk that tears a page, and the other copy is read then). An overflow
// link counts only if the bucket it names carries the stamp the link
// expects: a link whose bucket did not reach the disk ends the chain. The
// first writer after the reboot makes B = D and allocates past everything
// the file holds. The number of keys is not known after a power loss: the
// first Len then counts them. Open reads the header and the map block
// only: O(1) whatever happened.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"iter"
	"math"
	"math/bits"
	"reflect"
	"runtime/debug"
	"sync/atomic"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
)

// Map is a hash map whose keys and values are plain data (as MemVec's
// elements are), kept in a memory-mapped file (OpenMap) or anonymous
// memory (MakeMap), off the Go heap.
//
// Keys are hashed and compared by their bytes, with a hash fixed by the
// file format, so every process and every run finds the same key in the
// same place. So keys with floating-point fields compare by their bits:
// a NaN key is found again by the same NaN, and -0.0 and +0.0 are two
// keys. Padding bytes inside a key are part of it: Go zeroes them in the
// values it makes, but a key built through unsafe may differ.
//
// A Put, Delete or split is never half done after a kill -9: every call
// that returned holds, and the key being written has its old value or its
// new one. After a power loss, everything a returned Sync covered holds;
// a key changed since has its value at that Sync or one written to it
// since, never a torn one. Opening costs O(1) whatever happened.
//
// A follower (Follow) reads beside the writer, and never sees a torn
// value. Its Get finds every key that was in the map at its last Refresh
// and that the writer has not deleted since, with the value it had then
// or one written to it since, however the writer's splits have moved it
// (a key deleted since may still be found, with a value it had). Len and
// All show the map as of the last Refresh, but All, beside a writer that
// goes on, may miss a key that a split since the Refresh moved, or list
// one deleted since: use Get for what must be exact.
//
// A Map is not safe for concurrent use.
type Map[K comparable, V any] struct {
	path       string
	mem        Memory
	readOnly   bool
	persistent bool
	closed     bool
	failed     error
	follower   bool // opened with Follow
	pending    bool // a follower's file has no header yet
	opts       options

	geo        mapGeometry
	entry      *layout
	dataOffset int
	b          []byte // the region
	// buckets is the number of buckets in use: the live B for a writer,
	// D after a reboot that no writer has claimed, a follower's snapshot.
	buckets  uint64
	rebooted bool // read as after a power loss: D buckets, checksums
	count    int
	counted  bool // count is known (not after a power loss)
	// durable is D as this writer last made it durable: a stale slot
	// whose key's bucket is below it may be reused.
	durable uint64
	dirty   bool // the flag word's dirty bit is set
	epoch   uint64
	bg      *backgroundSync // the syncer, with SyncEvery (map_syncevery.go)
	kbuf    []uint64
	vbuf    []uint64
}

// mapGeometry is where a bucket keeps its slots' parts, from the sizes of
// K and V.
type mapGeometry struct {
	ks, vs  int // the key's and the value's sizes
	kw, vw  int // the same rounded up to 8
	slots   int // S
	size    int // the bucket's size
	shift   int // log2 of size: a division by it on the hot paths is a shift
	keys    int // the offsets in a bucket of the keys, the first and second copies
	copy0   int
	copy1   int
	ctrlOff int
	crcOff  int
	perSlot int
}

// The map block's words, at the data offset, in units of 8 bytes.
const (
	mwBuckets    = 0  // B: the buckets in use
	mwDurable    = 1  // D: the buckets the last Sync made durable
	mwAlloc      = 2  // the end of the used space (bytes from the region's start)
	mwDurAlloc   = 3  // the end the last Sync made durable
	mwSerial     = 4  // the last overflow bucket's stamp
	mwFlags      = 5  // bit 0: changed since the last Sync; bit 1: count unknown
	mwEpoch      = 6  // the number of Syncs: a slot freed since the last may be taken by its own key only
	mwPendSlot   = 8  // a Put or Delete that changes the count: its control word's offset
	mwPendCtrl   = 9  // the control word it stores
	mwPendCount  = 10 // the count before it
	mwPendDelta  = 11 // +1 or -1 (as a two's complement u64)
	mwDirectory  = 16 // 64 segment offsets
	mapBlockSize = (mwDirectory + 64) * 8

	mapFlagDirty   = 1
	mapFlagUncount = 2

	bucketHeader = 32
	// bucket header words
	bwStamp      = 0
	bwLink       = 1
	bwLinkSerial = 2

	ctrlOccupied = 1 << 63
	ctrlSel      = 1 << 62
	ctrlFreed    = 1 << 61 // not occupied: freed by a Delete in the epoch in the checksum word
	ctrlVerShift = 32
	ctrlVerMask  = (1<<29 - 1) << ctrlVerShift

	maxBucketSize = 4096

	// A Put splits a bucket when the keys exceed this fraction of the
	// buckets' slots (overflow buckets not counted).
	mapLoadNum, mapLoadDen = 4, 5
)

// mapEntry is the element the header's layout describes: a key and its
// value, as Go lays out the struct (FORMAT.md, "Map files").
func mapEntryType[K comparable, V any]() reflect.Type {
	return reflect.StructOf([]reflect.StructField{
		{Name: "Key", Type: reflect.TypeFor[K]()},
		{Name: "Value", Type: reflect.TypeFor[V]()},
	})
}

// mapGeometryFor returns the buckets' geometry for keys of ks bytes and
// values of vs, or an error if a bucket of 4 slots exceeds 4096 bytes.
func mapGeometryFor(ks, vs int) (mapGeometry, error) {
	g := mapGeometry{ks: ks, vs: vs, kw: roundUp(ks, 8), vw: roundUp(vs, 8)}
	g.perSlot = 16 + g.kw + 2*g.vw
	need := bucketHeader + 8*g.perSlot
	g.size = 64
	for g.size < need && g.size < maxBucketSize {
		g.size *= 2
	}
	g.slots = (g.size - bucketHeader) / g.perSlot
	g.shift = bits.TrailingZeros(uint(g.size))
	if g.slots < 4 {
		return g, fmt.Errorf("a key of %d bytes and two copies of a value of %d bytes take %d bytes a slot, more than a 4096-byte bucket of 4 slots has room for: %w", ks, vs, g.perSlot, ErrUnsupportedType)
	}
	s := g.slots
	g.ctrlOff = bucketHeader
	g.crcOff = g.ctrlOff + 8*s
	g.keys = g.crcOff + 8*s
	g.copy0 = g.keys + g.kw*s
	g.copy1 = g.copy0 + g.vw*s
	return g, nil
}

// mapTypes checks K and V and returns the entry's layout and the geometry.
func mapTypes[K comparable, V any]() (*layout, mapGeometry, error) {
	var g mapGeometry
	if _, err := layoutFor[K](); err != nil {
		return nil, g, err
	}
	if _, err := layoutFor[V](); err != nil {
		return nil, g, err
	}
	l, err := computeLayout(mapEntryType[K, V]())
	if err != nil {
		return nil, g, err
	}
	g, err = mapGeometryFor(int(reflect.TypeFor[K]().Size()), int(reflect.TypeFor[V]().Size()))
	return l, g, err
}

// mapBody is what the header of a new map file records.
func mapBody(l *layout) format.Body {
	b := l.body()
	b.Kind = format.KindMap
	return b
}

// OpenMap opens the map file at path, creating it if missing (with the
// Mode option's permissions) unless ReadOnly or MustExist is given, and
// only if missing with CreateNew. It locks the file as Open does
// (exclusively, or shared with ReadOnly; LockTimeout as for Open). With
// SyncEvery(d) a writer syncs in the background as a vector does (see
// SyncEvery): within d of the first change not yet durable; a background
// Sync's error is returned by the next Put, Delete, Sync or Close, and a
// failed one fails the map as Sync does; every Put and Delete takes the
// lock a background Sync holds while it runs (a Map has no fast path
// without it; see map_syncevery.go). With
// Follow it opens a follower, which reads beside a live writer: Get, Len
// and All show the map as the writer left it at the follower's last
// Refresh (and values it updated in place since). The mapping has the
// advice AdviseRandom, a hash map's pattern of access, unless the Advise
// option gives another.
//
// It returns an error wrapping ErrUnsupportedType if K or V is not plain
// data, ErrTypeMismatch if the file holds another container or other key
// or value types, ErrCorrupt if its header or map block is damaged,
// ErrLocked as Open does, and the system's error otherwise. It reads the
// header and the map block only, whatever happened to the file before.
func OpenMap[K comparable, V any](path string, opts ...Option) (*Map[K, V], error) {
	o, err := fileOptions(path, opts)
	if err != nil {
		return nil, err
	}
	l, g, err := mapTypes[K, V]()
	if err != nil {
		return nil, fmt.Errorf("memvec: open %s: %w", path, err)
	}
	switch {
	case o.shared:
		return nil, fmt.Errorf("memvec: open %s: %w: the Shared option does not apply to a Map", path, errors.ErrUnsupported)
	case !o.adviceGiven:
		// A hash map's pages are read and written at random. Without
		// this advice the page cache reads ahead around each fault and
		// builds large folios (2 MiB on ext4), so that every write to a
		// clean one, after the kernel wrote it back, faults and marks all
		// its blocks again: at 5×10^7 entries two thirds of a Put's time
		// went there (BENCHMARKS.md, "Maps").
		o.advice = AdviseRandom
	}
	f, err := openFile(path, o)
	if err != nil {
		return nil, err
	}
	m := &Map[K, V]{path: path, mem: f, readOnly: o.readOnly || o.follow, persistent: true, follower: o.follow, opts: o, geo: g, entry: l}
	m.initBuffers()
	if err := m.open(); err != nil {
		f.Close()
		return nil, err
	}
	m.startSyncer(o.syncEvery)
	return m, nil
}

// MakeMap returns an empty Map in anonymous memory with room for capacity
// keys before its first split. Of the options only Reserve and Advise
// apply.
func MakeMap[K comparable, V any](capacity int, opts ...Option) (*Map[K, V], error) {
	if _, err := anonOptions("make", opts); err != nil {
		return nil, err
	}
	if capacity < 0 {
		return nil, fmt.Errorf("memvec: make anonymous memory: negative capacity %d", capacity)
	}
	l, g, err := mapTypes[K, V]()
	if err != nil {
		return nil, fmt.Errorf("memvec: make anonymous memory: %w", err)
	}
	a, err := NewAnon(0, opts...)
	if err != nil {
		return nil, err
	}
	m := &Map[K, V]{path: "anonymous memory", mem: a, geo: g, entry: l, counted: true}
	m.initBuffers()
	buckets := max(1, (capacity*mapLoadDen+g.slots*mapLoadNum-1)/(g.slots*mapLoadNum))
	if err := m.create(uint64(buckets)); err != nil {
		a.Close()
		return nil, err
	}
	return m, nil
}

func (m *Map[K, V]) initBuffers() {
	m.kbuf = make([]uint64, m.geo.kw/8)
	m.vbuf = make([]uint64, max(1, m.geo.vw/8))
}

// open validates the file or creates the map in it.
func (m *Map[K, V]) open() error {
	b := m.mem.Bytes()
	if m.follower && headerPending(b) {
		m.pending = true
		return nil
	}
	if len(b) == 0 || format.IsBlank(b) {
		if m.readOnly {
			m.counted = true
			return nil // an empty map nobody may write
		}
		m.counted = true
		return m.create(1)
	}
	if err := m.readHeader(b); err != nil {
		return err
	}
	m.b = b
	bk := m.word(mwBuckets).Load()
	if bk == 0 {
		// A creation that stopped before its map block: new.
		if m.follower {
			m.pending = true
			return nil
		}
		if m.readOnly {
			m.counted = true
			return nil
		}
		m.counted = true
		return m.create(1)
	}
	m.rebooted = format.Rebooted(b, region.BootID())
	if m.follower {
		return m.followView()
	}
	if err := m.checkBlock(); err != nil {
		return err
	}
	switch {
	case m.follower:
		return m.followView()
	case m.readOnly:
		m.snapshot()
		return nil
	case m.rebooted:
		return m.claim()
	}
	return m.recover()
}

// readHeader checks the header against the entry type and takes the data
// offset.
func (m *Map[K, V]) readHeader(b []byte) error {
	h, section, err := format.ReadStatic(b)
	if err != nil {
		return m.wrap("open", err)
	}
	if h.Kind != format.KindMap {
		return m.wrap("open", fmt.Errorf("%w: the file holds a %v, not a map", ErrTypeMismatch, h.Kind))
	}
	if !samePhysical(h, m.entry) || string(section) != string(m.entry.section) {
		stored, err := storedLayout(h, section)
		if err != nil {
			return m.wrap("open", err)
		}
		if err := compareLayouts(h, stored, m.entry); err != nil {
			return m.wrap("open", err)
		}
	}
	if int(h.DataOffset)%64 != 0 || int(h.DataOffset)+mapBlockSize > len(b) {
		return m.wrap("open", fmt.Errorf("%w: the %d-byte file has no room for the map block at %d", ErrCorrupt, len(b), h.DataOffset))
	}
	m.dataOffset = int(h.DataOffset)
	return nil
}

// start is where the first bucket may be: after the map block, aligned to
// the bucket's size.
func (m *Map[K, V]) start() uint64 {
	return uint64(roundUp(m.dataOffset+mapBlockSize, m.geo.size))
}

// checkBlock validates the map block's words against the file: O(1) (64
// directory entries at most).
func (m *Map[K, V]) checkBlock() error {
	size := uint64(len(m.b))
	bk, d := m.word(mwBuckets).Load(), m.word(mwDurable).Load()
	bs := uint64(m.geo.size)
	switch {
	case bk > 1<<48 || d > bk || d == 0:
		return m.wrap("open", fmt.Errorf("%w: the map block counts %d buckets, %d durable", ErrCorrupt, bk, d))
	case m.word(mwDurAlloc).Load() < m.start() || m.word(mwDurAlloc).Load() > size:
		// A Sync made the file this large on the disk before it stored
		// the end.
		return m.wrap("open", fmt.Errorf("%w: the durable used space ends at %d, outside the %d-byte file", ErrCorrupt, m.word(mwDurAlloc).Load(), size))
	case !m.rebooted && !m.follower && (m.word(mwAlloc).Load() < m.start() || m.word(mwAlloc).Load() > size):
		// The writer grows the file before it stores the end (a
		// follower may map less, and maps up to the end first).
		return m.wrap("open", fmt.Errorf("%w: the used space ends at %d, outside the %d-byte file", ErrCorrupt, m.word(mwAlloc).Load(), size))
	}
	use := bk
	if m.rebooted {
		use = d
	}
	for j := 0; j <= bits.Len64(use-1); j++ {
		off := m.word(mwDirectory + j).Load()
		first, n := segmentSpan(j)
		if first >= use {
			break
		}
		if off < m.start() || off%bs != 0 || off > size || n > (size-off)/bs {
			return m.wrap("open", fmt.Errorf("%w: segment %d of %d buckets at %d is outside the %d-byte file", ErrCorrupt, j, n, off, size))
		}
	}
	return nil
}

// segmentSpan returns the first bucket of segment j and how many it holds.
func segmentSpan(j int) (first, n uint64) {
	if j == 0 {
		return 0, 1
	}
	return 1 << (j - 1), 1 << (j - 1)
}

// create writes a new map with the given number of buckets into the
// region: the map block first, then the header, whose magic is stored
// last (a follower that sees the magic sees the block).
func (m *Map[K, V]) create(buckets uint64) error {
	body := mapBody(m.entry)
	m.dataOffset = int(format.DataOffsetFor(body))
	size := max(format.NewRegionSize(body, pageSize), int(m.start()))
	if len(m.mem.Bytes()) < size {
		if err := m.mem.Resize(size); err != nil {
			return m.wrap("create", err)
		}
	}
	m.b = m.mem.Bytes()
	clear(m.b[m.dataOffset : m.dataOffset+mapBlockSize])
	m.word(mwAlloc).Store(m.start())
	for j := 0; j <= bits.Len64(buckets-1); j++ {
		if err := m.allocSegment(j); err != nil {
			return m.wrap("create", err)
		}
	}
	m.word(mwBuckets).Store(buckets)
	m.word(mwDurable).Store(buckets)
	m.word(mwDurAlloc).Store(m.word(mwAlloc).Load())
	format.WriteHeader(m.b, body)
	m.buckets, m.durable, m.counted = buckets, buckets, true
	if m.persistent {
		binary.NativeEndian.PutUint64(m.b[format.OffBootID:], region.BootID())
		if err := syncPrefix(m.mem, int(m.word(mwAlloc).Load())); err != nil {
			return m.wrap("create", err)
		}
	}
	return nil
}

// claim is the first writer's open after a reboot: the map is what the
// last Sync made durable, with whatever reached the disk since in the
// buckets below D; B becomes D, and the space past everything the file
// holds is where allocation goes on. The count is unknown.
func (m *Map[K, V]) claim() error {
	d := m.word(mwDurable).Load()
	bs := uint64(m.geo.size)
	end := max(m.word(mwDurAlloc).Load(), uint64(len(m.b))/bs*bs)
	for j := bits.Len64(d-1) + 1; j < 64; j++ {
		if first, _ := segmentSpan(j); first >= d {
			m.word(mwDirectory + j).Store(0)
		}
	}
	m.word(mwBuckets).Store(d)
	m.word(mwAlloc).Store(end)
	m.word(mwSerial).Add(1 << 32) // no stamp written before the reboot is written again
	m.word(mwPendSlot).Store(0)
	m.word(mwFlags).Store(mapFlagUncount | mapFlagDirty)
	binary.NativeEndian.PutUint64(m.b[format.OffBootID:], region.BootID())
	m.rebooted = false
	m.buckets, m.durable, m.epoch = d, d, m.word(mwEpoch).Load()
	m.count = int(format.Word64At(m.b, format.OffLength).Load())
	m.counted = false
	m.dirty = true
	return m.sync()
}

// recover is a writer's open in the same boot as the last writer's: the
// count a killed Put or Delete may have left one off is set right from its
// pending record, and what the last writer left unsynced is made durable.
func (m *Map[K, V]) recover() error {
	binary.NativeEndian.PutUint64(m.b[format.OffBootID:], region.BootID())
	length := format.Word64At(m.b, format.OffLength)
	if m.word(mwPendSlot).Load() != 0 {
		length.Store(m.pendingCount(length.Load()))
		m.restoreSum()
		m.word(mwPendSlot).Store(0)
	}
	m.buckets = m.word(mwBuckets).Load()
	m.durable = m.word(mwDurable).Load()
	m.epoch = m.word(mwEpoch).Load()
	m.count = int(length.Load())
	m.counted = m.word(mwFlags).Load()&mapFlagUncount == 0
	if m.word(mwFlags).Load()&mapFlagDirty != 0 {
		m.dirty = true
		return m.sync()
	}
	return nil
}

// restoreSum undoes what a Delete killed after it stored the epoch into
// the slot's checksum word, and before its control word, left: the key is
// there, and its value's checksum is the epoch, which a reader after a
// power loss would take for a torn copy, dropping the key, even after a
// Sync that the key was in the map for. The half of the word that belongs
// to the copy the control word names is set back to that copy's checksum
// (the other half stays: it may describe no copy of this key). A pending
// record whose op took effect, or is not a Delete, or that names no slot
// in the file, is left alone.
func (m *Map[K, V]) restoreSum() {
	at := m.word(mwPendSlot).Load()
	if m.word(mwPendDelta).Load() != math.MaxUint64 || at%8 != 0 || at < m.start() || at > uint64(len(m.b)-8) {
		return
	}
	off := int(at) &^ (m.geo.size - 1)
	i := (int(at) - off - m.geo.ctrlOff) / 8
	if i < 0 || i >= m.geo.slots || off+m.geo.size > len(m.b) {
		return
	}
	c := m.ctrl(off, i).Load()
	if c == m.word(mwPendCtrl).Load() || c&ctrlOccupied == 0 {
		return
	}
	sel := c >> 62 & 1
	sums := m.at(off + m.geo.crcOff + 8*i)
	sums.Store(sums.Load()&^(0xFFFFFFFF<<(32*sel)) | uint64(m.slotSum(off, i, sel))<<(32*sel))
}

// snapshot takes a reader's view: B, or D after a reboot no writer has
// claimed, and the count.
func (m *Map[K, V]) snapshot() {
	m.rebooted = format.Rebooted(m.b, region.BootID())
	if m.rebooted {
		m.buckets = m.word(mwDurable).Load()
		m.counted = false
	} else {
		m.buckets = m.word(mwBuckets).Load()
		m.count = int(format.Word64At(m.b, format.OffLength).Load())
		m.counted = m.word(mwFlags).Load()&mapFlagUncount == 0
		if !m.follower {
			// A writer killed between a Put's or a Delete's slot and the
			// count left its pending record (see recover).
			m.count = int(m.pendingCount(uint64(m.count)))
		}
	}
}

// pendingCount returns the count as a killed writer's pending record, if
// any, sets it: the count before, changed if the slot holds the control
// word the op stored.
func (m *Map[K, V]) pendingCount(count uint64) uint64 {
	at := m.word(mwPendSlot).Load()
	if at == 0 {
		return count
	}
	count = m.word(mwPendCount).Load()
	if at%8 == 0 && at <= uint64(len(m.b)-8) && format.Word64At(m.b, int(at)).Load() == m.word(mwPendCtrl).Load() {
		count += m.word(mwPendDelta).Load()
	}
	return count
}

// word returns the map block's word i.
func (m *Map[K, V]) word(i int) *atomic.Uint64 {
	return format.Word64At(m.b, m.dataOffset+8*i)
}

// at returns the atomic word at byte offset off of the region.
func (m *Map[K, V]) at(off int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&m.b[off]))
}

// mapHash is the hash of a key's words (FORMAT.md, "Map files"): fixed,
// the same in every process and every run.
func mapHash(words []uint64, size int) uint64 {
	h := 0x9E3779B97F4A7C15 ^ uint64(size)
	for _, w := range words {
		h ^= w
		h *= 0xBF58476D1CE4E5B9
		h ^= h >> 31
	}
	h *= 0x94D049BB133111EB
	return h ^ h>>29
}

// bucketOf maps a hash to one of n buckets, by linear hashing.
func bucketOf(h, n uint64) uint64 {
	l := bits.Len64(n) - 1
	b := h & (1<<(l+1) - 1)
	if b >= n {
		b = h & (1<<l - 1)
	}
	return b
}

// loadKey puts k's bytes into kbuf, padded with zeros, and returns its hash.
func (m *Map[K, V]) loadKey(k K) uint64 {
	if m.geo.kw == 0 {
		return mapHash(nil, 0)
	}
	if m.geo.ks != m.geo.kw {
		clear(m.kbuf) // the padding
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&m.kbuf[0])), m.geo.kw), unsafe.Slice((*byte)(unsafe.Pointer(&k)), m.geo.ks))
	return mapHash(m.kbuf, m.geo.ks)
}

// bucketAt returns the offset of bucket i, or 0 if its segment is not in
// the region.
func (m *Map[K, V]) bucketAt(i uint64) int {
	j := bits.Len64(i)
	first, _ := segmentSpan(j)
	off := m.word(mwDirectory + j).Load()
	at := off + (i-first)*uint64(m.geo.size)
	if off == 0 || off%uint64(m.geo.size) != 0 || at < off || at > uint64(len(m.b)-m.geo.size) {
		return 0
	}
	return int(at)
}

// next returns the bucket after the one at off in its chain, or 0: a link
// counts only if the bucket it names is in the region and carries the
// stamp the link expects.
func (m *Map[K, V]) next(off int) int {
	link := m.at(off + 8*bwLink).Load()
	if link == 0 {
		return 0
	}
	serial := m.at(off + 8*bwLinkSerial).Load()
	if link%uint64(m.geo.size) != 0 || link < m.start() || link > uint64(len(m.b)-m.geo.size) || m.at(int(link)+8*bwStamp).Load() != serial {
		return 0
	}
	return int(link)
}

// maxHops bounds a chain's walk, so that damaged links cannot loop.
func (m *Map[K, V]) maxHops() int { return len(m.b)>>m.geo.shift + 1 }

func (m *Map[K, V]) ctrl(off, i int) *atomic.Uint64 { return m.at(off + m.geo.ctrlOff + 8*i) }

// keyEqual reports whether slot i of the bucket at off holds kbuf's key.
func (m *Map[K, V]) keyEqual(off, i int) bool {
	p := off + m.geo.keys + m.geo.kw*i
	for w, x := range m.kbuf {
		if m.at(p+8*w).Load() != x {
			return false
		}
	}
	return true
}

// copyAt returns the offset of copy c of slot i's value.
func (m *Map[K, V]) copyAt(off, i int, c uint64) int {
	if c == 0 {
		return off + m.geo.copy0 + m.geo.vw*i
	}
	return off + m.geo.copy1 + m.geo.vw*i
}

// readValue loads copy c of slot i into vbuf.
func (m *Map[K, V]) readValue(off, i int, c uint64) {
	p := m.copyAt(off, i, c)
	for w := range m.geo.vw / 8 {
		m.vbuf[w] = m.at(p + 8*w).Load()
	}
}

// slotSum is the checksum of slot i's key and copy c, as stored.
func (m *Map[K, V]) slotSum(off, i int, c uint64) uint32 {
	k := off + m.geo.keys + m.geo.kw*i
	v := m.copyAt(off, i, c)
	s := crc32.Update(0, format.Castagnoli, m.b[k:k+m.geo.kw])
	return crc32.Update(s, format.Castagnoli, m.b[v:v+m.geo.vw])
}

// value returns vbuf as a V.
func (m *Map[K, V]) value() V {
	if m.geo.vs == 0 {
		var v V
		return v
	}
	return *(*V)(unsafe.Pointer(&m.vbuf[0]))
}

// find returns the bucket and slot holding kbuf's key, whose hash is h,
// with its control word, and its value in vbuf if load. A follower reads
// each slot as a seqlock; a reader after a reboot checks the checksums.
func (m *Map[K, V]) find(h uint64, load bool) (off, slot int, c uint64, ok bool) {
	if m.buckets == 0 || len(m.b) == 0 {
		return 0, 0, 0, false
	}
	if !m.follower && !m.rebooted {
		off, slot, c, ok = m.findOwn(h)
		if ok && load {
			m.readValue(off, slot, c>>62&1)
		}
		return off, slot, c, ok
	}
	// Occupied with the key's tag, in one compare.
	want := ctrlOccupied | h>>32
	off = m.bucketAt(bucketOf(h, m.buckets))
	for hops := m.maxHops(); off != 0 && hops > 0; hops-- {
		for i := range m.geo.slots {
			for {
				c = m.ctrl(off, i).Load()
				if c&(ctrlOccupied|math.MaxUint32) != want || !m.keyEqual(off, i) {
					break
				}
				sel := c >> 62 & 1
				if m.rebooted {
					want := m.at(off + m.geo.crcOff + 8*i).Load()
					if m.slotSum(off, i, sel) != uint32(want>>(32*sel)) {
						if sel ^= 1; m.slotSum(off, i, sel) != uint32(want>>(32*sel)) {
							break // neither copy whole: no value to give
						}
					}
				}
				if load {
					m.readValue(off, i, sel)
				}
				if m.ctrl(off, i).Load() == c {
					return off, i, c, true
				}
			}
		}
		off = m.next(off)
	}
	return 0, 0, 0, false
}

// findOwn is find for a map that no other process writes while this one
// reads it (a writer's, a ReadOnly reader's under its shared lock, one in
// anonymous memory), read as in the boot that wrote it: no seqlock, no
// checksums, and the slots' words loaded through one pointer, the bucket's
// bounds checked once (by bucketAt and next). The map is not empty.
func (m *Map[K, V]) findOwn(h uint64) (off, slot int, c uint64, ok bool) {
	want := ctrlOccupied | h>>32
	base := unsafe.Pointer(unsafe.SliceData(m.b))
	g := &m.geo
	off = m.bucketAt(bucketOf(h, m.buckets))
	for hops := m.maxHops(); off != 0 && hops > 0; hops-- {
		ctrl := unsafe.Add(base, off+g.ctrlOff)
		for i := range g.slots {
			c = *(*uint64)(unsafe.Add(ctrl, 8*i))
			if c&(ctrlOccupied|math.MaxUint32) == want && m.keyIs(unsafe.Add(base, off+g.keys+g.kw*i)) {
				return off, i, c, true
			}
		}
		off = m.next(off)
	}
	return 0, 0, 0, false
}

// keyIs reports whether the key at p (a slot's) is kbuf's, by the words
// of keys of 8 and 16 bytes, the most common, and a loop otherwise.
func (m *Map[K, V]) keyIs(p unsafe.Pointer) bool {
	switch k := m.kbuf; len(k) {
	case 0:
		return true
	case 1:
		return *(*uint64)(p) == k[0]
	case 2:
		return *(*uint64)(p) == k[0] && *(*uint64)(unsafe.Add(p, 8)) == k[1]
	default:
		for w, x := range k {
			if *(*uint64)(unsafe.Add(p, 8*w)) != x {
				return false
			}
		}
		return true
	}
}

// Get returns the value of k, and whether k is in the map. On a follower
// it never returns a value that was not written to k whole.
func (m *Map[K, V]) Get(k K) (v V, ok bool) {
	if m.closed || m.pending {
		return v, false
	}
	h := m.loadKey(k)
	if !m.follower && !m.rebooted {
		// The value straight from its copy (its offset is a multiple of 8,
		// V's alignment at most 8).
		if m.buckets == 0 || len(m.b) == 0 {
			return v, false
		}
		off, i, c, ok := m.findOwn(h)
		if !ok || m.geo.vs == 0 {
			return v, ok
		}
		return *(*V)(unsafe.Pointer(&m.b[m.copyAt(off, i, c>>62&1)])), true
	}
	if m.follower {
		defer func() {
			if r := recover(); r != nil && !isFault(r) {
				panic(r)
			} else if r != nil {
				var zero V
				v, ok = zero, false
			}
		}()
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	}
	if _, _, _, ok = m.find(h, true); !ok && !(m.follower && !m.rebooted && m.findMoved(h)) {
		return v, false
	}
	return m.value(), true
}

// findMoved is a follower's second look for a key that its view did not
// find: the writer may have split the key's bucket since the Refresh,
// then reused the slot of the parent's stale copy for another key (after
// a Sync, or at once in a chain at or above D), leaving the key in a child
// the view does not count. It
// looks again with the writer's bucket count, as long as that count
// changes under it (a split is the only way a key leaves its bucket, and
// it copies the keys before it stores the count), and reports whether it
// found the key, with its value in vbuf. The view (the count Len and All
// use) stays the Refresh's; only the mapping may grow.
func (m *Map[K, V]) findMoved(h uint64) bool {
	seen := m.buckets
	for {
		live := m.word(mwBuckets).Load()
		if live == seen {
			return false
		}
		// The buckets live counts were allocated before it was stored.
		if end := m.word(mwAlloc).Load(); end > uint64(len(m.b)) {
			fm, _ := following(m.mem)
			if end > math.MaxInt/2 || fm.followTo(int(end)) != nil {
				return false
			}
			m.b = m.mem.Bytes()
		}
		view := m.buckets
		m.buckets = live
		_, _, _, ok := m.find(h, true)
		m.buckets = view
		if ok {
			return true
		}
		seen = live
	}
}

// Len returns the number of keys; 0 after Close. After a power loss it
// counts them, once, visiting every bucket (the count that survived is
// not to be trusted).
func (m *Map[K, V]) Len() int {
	if m.closed || m.pending {
		return 0
	}
	if !m.counted {
		n := 0
		for range m.All() {
			n++
		}
		m.count, m.counted = n, true
		if !m.readOnly {
			format.Word64At(m.b, format.OffLength).Store(uint64(n))
			m.word(mwFlags).And(^uint64(mapFlagUncount))
		}
	}
	return m.count
}

// All returns an iterator over the entries, each once, in no set order.
// If the loop's body changes the map, entries may be missed or repeated.
func (m *Map[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		if m.closed || m.pending || len(m.b) == 0 {
			return
		}
		n := m.buckets
		for bk := uint64(0); bk < n && !m.closed; bk++ {
			off := m.bucketAt(bk)
			for hops := m.maxHops(); off != 0 && hops > 0; hops-- {
				for i := range m.geo.slots {
					k, v, ok := m.entryAt(off, i, bk, n)
					if ok && !yield(k, v) {
						return
					}
					if m.closed || n != m.buckets {
						return
					}
				}
				off = m.next(off)
			}
		}
	}
}

// entryAt returns the entry in slot i of the bucket at off, a bucket of
// chain bk among n, if the slot holds one that belongs there (not a stale
// copy a split left) whole.
func (m *Map[K, V]) entryAt(off, i int, bk, n uint64) (k K, v V, ok bool) {
	for {
		c := m.ctrl(off, i).Load()
		if c&ctrlOccupied == 0 {
			return k, v, false
		}
		p := off + m.geo.keys + m.geo.kw*i
		for w := range m.kbuf {
			m.kbuf[w] = m.at(p + 8*w).Load()
		}
		h := mapHash(m.kbuf, m.geo.ks)
		sel := c >> 62 & 1
		if uint32(h>>32) != uint32(c) || bucketOf(h, n) != bk {
			return k, v, false
		}
		if m.rebooted {
			want := m.at(off + m.geo.crcOff + 8*i).Load()
			if m.slotSum(off, i, sel) != uint32(want>>(32*sel)) {
				if sel ^= 1; m.slotSum(off, i, sel) != uint32(want>>(32*sel)) {
					return k, v, false
				}
			}
		}
		m.readValue(off, i, sel)
		if m.ctrl(off, i).Load() != c {
			continue
		}
		if m.geo.ks > 0 {
			k = *(*K)(unsafe.Pointer(&m.kbuf[0]))
		}
		return k, m.value(), true
	}
}

// writable returns the error of a mutator that may not write.
func (m *Map[K, V]) writable(op string) error {
	if err := m.backgroundErr(op); err != nil {
		return err
	}
	switch {
	case m.closed:
		return m.wrap(op, ErrClosed)
	case m.readOnly:
		return m.wrap(op, ErrReadOnly)
	case m.failed != nil:
		return m.wrap(op, m.failed)
	}
	return nil
}

// markDirty sets the flag that tells the next writer's open that this one
// changed the map since its last Sync.
func (m *Map[K, V]) markDirty() {
	if !m.dirty && m.persistent {
		m.word(mwFlags).Or(mapFlagDirty)
		m.dirty = true
	}
}

// Put sets the value of k to v. It returns ErrReadOnly, ErrClosed, or the
// memory's error if the map cannot grow (a full disk): the map is then
// unchanged.
func (m *Map[K, V]) Put(k K, v V) error {
	defer m.syncUnlock(m.syncLock())
	if err := m.writable("put"); err != nil {
		return err
	}
	h := m.loadKey(k)
	if m.geo.vs != m.geo.vw {
		clear(m.vbuf) // the padding
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&m.vbuf[0])), m.geo.vw), unsafe.Slice((*byte)(unsafe.Pointer(&v)), m.geo.vs))
	m.markDirty()
	off, i, c, ok := m.seek(h)
	if ok {
		// The other copy, its checksum, then the control word.
		sel := c >> 62 & 1
		m.writeCopy(off, i, sel^1)
		m.stepHook()
		m.ctrl(off, i).Store(nextCtrl(c, true, sel^1, uint32(h>>32)))
		m.stepHook()
		return nil
	}
	if off == 0 {
		var err error
		if off, i, err = m.freeSlot(h); err != nil {
			return err
		}
	}
	if c := m.ctrl(off, i).Load(); c&ctrlOccupied != 0 {
		// A split's stale copy: emptied before its key is overwritten,
		// or a kill in between would leave the new key's bytes under
		// the old key's control word, a slot All would list.
		m.ctrl(off, i).Store(nextCtrl(c, false, 0, 0))
		m.stepHook()
	}
	m.writeKey(off, i)
	m.writeCopy(off, i, 0)
	m.stepHook()
	c = nextCtrl(m.ctrl(off, i).Load(), true, 0, uint32(h>>32))
	m.changeCount(off, i, c, 1)
	if uint64(m.count)*mapLoadDen > m.buckets*uint64(m.geo.slots)*mapLoadNum {
		return m.split()
	}
	return nil
}

// nextCtrl is the control word after c: occupied or not, the copy sel,
// the tag, and the version counted up.
func nextCtrl(c uint64, occupied bool, sel uint64, tag uint32) uint64 {
	n := (c+1<<ctrlVerShift)&ctrlVerMask | sel<<62 | uint64(tag)
	if occupied {
		n |= ctrlOccupied
	}
	return n
}

// changeCount stores control word c into slot i of the bucket at off and
// changes the count by delta, with a pending record that lets the next
// writer's open set the count right if a kill -9 comes between the two.
// For a Delete (delta -1) it stores the epoch into the slot's checksum
// word between the record and the control word, so that the next writer's
// open finds a Delete killed there, and restores the checksum (see
// recover).
func (m *Map[K, V]) changeCount(off, i int, c uint64, delta int) {
	if m.persistent {
		m.word(mwPendCount).Store(uint64(m.count))
		m.word(mwPendDelta).Store(uint64(int64(delta)))
		m.word(mwPendCtrl).Store(c)
		m.word(mwPendSlot).Store(uint64(off + m.geo.ctrlOff + 8*i))
	}
	if delta < 0 {
		// The slot keeps the key and, in its checksum word, the epoch:
		// until the next Sync only this key may take it again (see
		// freeSlot).
		m.at(off + m.geo.crcOff + 8*i).Store(m.epoch)
		m.stepHook()
	}
	m.ctrl(off, i).Store(c)
	m.stepHook()
	m.count += delta
	format.Word64At(m.b, format.OffLength).Store(uint64(m.count))
	if m.persistent {
		m.word(mwPendSlot).Store(0)
	}
}

// writeKey stores kbuf into slot i's key.
func (m *Map[K, V]) writeKey(off, i int) {
	p := off + m.geo.keys + m.geo.kw*i
	for w, x := range m.kbuf {
		m.at(p + 8*w).Store(x)
	}
}

// writeCopy stores vbuf into copy c of slot i, and the checksum of the key
// and that copy into its half of the slot's checksum word.
func (m *Map[K, V]) writeCopy(off, i int, c uint64) {
	p := m.copyAt(off, i, c)
	for w := range m.geo.vw / 8 {
		m.at(p + 8*w).Store(m.vbuf[w])
	}
	sums := m.at(off + m.geo.crcOff + 8*i)
	s := uint64(m.slotSum(off, i, c))
	sums.Store(sums.Load()&^(0xFFFFFFFF<<(32*c)) | s<<(32*c))
}

// seek is a writer's walk of the chain of kbuf's key, whose hash is h: it
// returns the key's slot and control word and true if the key is there;
// if not, the slot a new key takes if the walk saw one (freeSlot's first
// choices: the key's own slot freed since the last Sync, or else the first
// empty one that may be taken), or off 0 (freeSlot then looks further).
// One walk, where find and freeSlot make three.
func (m *Map[K, V]) seek(h uint64) (off, slot int, c uint64, ok bool) {
	want := ctrlOccupied | h>>32
	own := ctrlFreed | h>>32
	base := unsafe.Pointer(unsafe.SliceData(m.b))
	g := &m.geo
	freeOff, freeSlot, ownOff, ownSlot := 0, 0, 0, 0
	bk := bucketOf(h, m.buckets)
	loose := m.looseChain(bk)
	off = m.bucketAt(bk)
	for hops := m.maxHops(); off != 0 && hops > 0; hops-- {
		ctrl := unsafe.Add(base, off+g.ctrlOff)
		for i := range g.slots {
			c = *(*uint64)(unsafe.Add(ctrl, 8*i))
			switch {
			case c&(ctrlOccupied|math.MaxUint32) == want:
				if m.keyIs(unsafe.Add(base, off+g.keys+g.kw*i)) {
					return off, i, c, true
				}
			case c&ctrlOccupied != 0:
			case c&(ctrlFreed|math.MaxUint32) == own && ownOff == 0 && m.keyIs(unsafe.Add(base, off+g.keys+g.kw*i)):
				ownOff, ownSlot = off, i
			case freeOff == 0 && (c&ctrlFreed == 0 || loose || *(*uint64)(unsafe.Add(base, off+g.crcOff+8*i)) < m.epoch):
				freeOff, freeSlot = off, i
			}
		}
		off = m.next(off)
	}
	if ownOff != 0 {
		return ownOff, ownSlot, 0, false
	}
	return freeOff, freeSlot, 0, false
}

// freeSlot returns a slot for a new key of hash h in its chain: an empty
// one, or one holding a stale copy that a Sync has made needless, or one
// in a new overflow bucket.
func (m *Map[K, V]) freeSlot(h uint64) (int, int, error) {
	bk := bucketOf(h, m.buckets)
	tag := uint32(h >> 32)
	// The key's own slot, if a Delete since the last Sync freed it: after
	// a power loss the disk may hold that slot as it was before, so the
	// key must not be in another slot of the chain as well.
	for off, hops := m.bucketAt(bk), m.maxHops(); off != 0 && hops > 0; hops-- {
		for i := range m.geo.slots {
			if c := m.ctrl(off, i).Load(); c&(ctrlOccupied|ctrlFreed) == ctrlFreed && uint32(c) == tag && m.keyEqual(off, i) {
				return off, i, nil
			}
		}
		off = m.next(off)
	}
	// A stale copy in bk's chain belongs to a bucket split from bk, one
	// above it: none is reusable unless a Sync made such a bucket durable,
	// or bk's chain is loose (see looseChain).
	loose := m.looseChain(bk)
	stale := loose || bk+1 < m.durable
	off, last := m.bucketAt(bk), 0
	for hops := m.maxHops(); off != 0 && hops > 0; hops-- {
		for i := range m.geo.slots {
			c := m.ctrl(off, i).Load()
			if c&ctrlOccupied == 0 && (c&ctrlFreed == 0 || loose || m.at(off+m.geo.crcOff+8*i).Load() < m.epoch) || c&ctrlOccupied != 0 && stale && m.reusable(off, i, bk) {
				return off, i, nil
			}
		}
		last, off = off, m.next(off)
	}
	if last == 0 {
		return 0, 0, m.wrap("put", fmt.Errorf("%w: bucket %d is outside the file", ErrCorrupt, bk))
	}
	off, err := m.allocOverflow(last)
	return off, 0, err
}

// looseChain reports whether the chain of bucket bk is one that no reader
// after a power loss reads: in anonymous memory, or a bucket at or above
// D, which such a reader does not count (and the writer that claims the
// map after the reboot drops). In such a chain a stale copy and a slot a
// Delete freed since the last Sync may be taken at once: what they keep
// matters only to that reader. Without it, a file map written without a
// Sync kept every split's copies, and grew its chains of overflow buckets
// with them: 15% more bytes at 10^6 entries, and 8.6% of the keys past
// their chain's first overflow bucket, against 0.6% (BENCHMARKS.md, "Maps").
func (m *Map[K, V]) looseChain(bk uint64) bool {
	return !m.persistent || bk >= m.durable
}

// reusable reports whether slot i of bucket bk's chain holds a stale copy
// (its key's bucket is another) that may be taken: its key's bucket is one
// a Sync made durable, or bk's chain is loose.
func (m *Map[K, V]) reusable(off, i int, bk uint64) bool {
	var kb [64]uint64
	words := kb[:0]
	if len(m.kbuf) > len(kb) {
		words = make([]uint64, 0, len(m.kbuf))
	}
	p := off + m.geo.keys + m.geo.kw*i
	for w := range m.kbuf {
		words = append(words, m.at(p+8*w).Load())
	}
	to := bucketOf(mapHash(words, m.geo.ks), m.buckets)
	return to != bk && (to < m.durable || m.looseChain(bk))
}

// allocOverflow allocates an overflow bucket, stamps it and links it after
// the bucket at last. The link's stamp is stored before the link.
func (m *Map[K, V]) allocOverflow(last int) (int, error) {
	off, err := m.alloc(uint64(m.geo.size))
	if err != nil {
		return 0, err
	}
	serial := m.word(mwSerial).Add(1)
	clear(m.b[off : off+m.geo.size])
	m.at(off + 8*bwStamp).Store(serial)
	m.at(last + 8*bwLinkSerial).Store(serial)
	m.at(last + 8*bwLink).Store(uint64(off))
	return off, nil
}

// alloc takes n bytes at the end of the used space, growing the region.
func (m *Map[K, V]) alloc(n uint64) (int, error) {
	at := m.word(mwAlloc).Load()
	end := at + n
	if end > math.MaxInt/2 {
		return 0, m.wrap("put", fmt.Errorf("a map of %d bytes does not fit in this platform's address space", end))
	}
	if int(end) > len(m.b) {
		if err := m.grow(int(end)); err != nil {
			return 0, err
		}
	}
	m.word(mwAlloc).Store(end)
	return int(at), nil
}

// mapGrowthStep bounds a map's growth: a growth reserves the disk blocks
// it maps, in time that grows with its size (a gigabyte took 3 ms), and a
// Put's time must not grow with the map's (BENCHMARKS.md, "Maps").
var mapGrowthStep = 64 << 20 // a variable for the tests

// grow grows the region to hold need bytes, as a vector's would (doubled),
// but by at most mapGrowthStep past need.
func (m *Map[K, V]) grow(need int) error {
	exact := roundUp(need, pageSize)
	size := min(grownSize(len(m.b), need), max(exact, len(m.b)+mapGrowthStep))
	err := m.mem.Resize(size)
	if err != nil && size > exact {
		err = m.mem.Resize(exact) // a full disk may still have room for need
	}
	if err != nil {
		return m.wrap("put", err)
	}
	m.b = m.mem.Bytes()
	return nil
}

// growAhead grows the region toward want bytes by at most
// mapGrowthStep, if it is smaller. It is a hint: a failure (a full disk)
// leaves the region as it was, and the growth that needs the room reports
// it.
func (m *Map[K, V]) growAhead(want uint64) {
	if want < math.MaxInt/2 && int(want) > len(m.b) {
		if m.mem.Resize(min(roundUp(int(want), pageSize), len(m.b)+mapGrowthStep)) == nil {
			m.b = m.mem.Bytes()
		}
	}
}

// allocSegment allocates segment j and enters it in the directory.
func (m *Map[K, V]) allocSegment(j int) error {
	_, n := segmentSpan(j)
	off, err := m.alloc(n * uint64(m.geo.size))
	if err != nil {
		return err
	}
	m.word(mwDirectory + j).Store(uint64(off))
	return nil
}

// split creates bucket B from its parent: the parent's keys that go to it
// are copied into it, then B+1 is stored. The parent keeps its copies (see
// the design at the top).
func (m *Map[K, V]) split() error {
	nb := m.buckets
	if nb >= 1<<48 {
		return nil
	}
	if j := bits.Len64(nb); m.word(mwDirectory+j).Load() == 0 {
		if err := m.allocSegment(j); err != nil {
			return err
		}
	}
	// The next segment, which holds 2^j buckets, is allocated at once
	// when B reaches 2^j: the region grows toward it a step a split, so
	// that the segment finds it grown.
	m.growAhead(m.word(mwAlloc).Load() + uint64(m.geo.size)<<bits.Len64(nb))
	parent := nb - 1<<(bits.Len64(nb)-1)
	child := m.bucketAt(nb)
	if child == 0 {
		return m.wrap("put", fmt.Errorf("%w: bucket %d is outside the file", ErrCorrupt, nb))
	}
	// The child may hold what a split that a kill or a power loss undid
	// left: it starts empty.
	clear(m.b[child : child+m.geo.crcOff])
	dst, di := child, 0
	var kb [64]uint64
	words := kb[:0]
	if len(m.kbuf) > len(kb) {
		words = make([]uint64, len(m.kbuf))
	}
	words = words[:len(m.kbuf)]
	off := m.bucketAt(parent)
	for hops := m.maxHops(); off != 0 && hops > 0; hops-- {
		for i := range m.geo.slots {
			c := m.ctrl(off, i).Load()
			if c&ctrlOccupied == 0 {
				continue
			}
			p := off + m.geo.keys + m.geo.kw*i
			for w := range words {
				words[w] = m.at(p + 8*w).Load()
			}
			h := mapHash(words, m.geo.ks)
			if bucketOf(h, nb) != parent || bucketOf(h, nb+1) != nb {
				continue // stays, or a stale copy of an earlier split
			}
			if di == m.geo.slots {
				next, err := m.allocOverflow(dst)
				if err != nil {
					return err
				}
				dst, di = next, 0
			}
			// Copy the key and the value that counts into copy 0.
			q := dst + m.geo.keys + m.geo.kw*di
			for w, x := range words {
				m.at(q + 8*w).Store(x)
			}
			from, to := m.copyAt(off, i, c>>62&1), m.copyAt(dst, di, 0)
			for w := range m.geo.vw / 8 {
				m.at(to + 8*w).Store(m.at(from + 8*w).Load())
			}
			m.at(dst + m.geo.crcOff + 8*di).Store(uint64(m.slotSum(dst, di, 0)))
			m.ctrl(dst, di).Store(ctrlOccupied | 1<<ctrlVerShift | uint64(uint32(h>>32)))
			di++
			m.stepHook()
		}
		off = m.next(off)
	}
	m.stepHook()
	m.buckets = nb + 1
	m.word(mwBuckets).Store(nb + 1)
	return nil
}

// Delete removes k, and reports whether it was there. Its errors are
// Put's.
func (m *Map[K, V]) Delete(k K) (bool, error) {
	defer m.syncUnlock(m.syncLock())
	if err := m.writable("delete"); err != nil {
		return false, err
	}
	h := m.loadKey(k)
	off, i, c, ok := m.find(h, false)
	if !ok {
		return false, nil
	}
	m.markDirty()
	m.changeCount(off, i, nextCtrl(c, false, 0, uint32(h>>32))|ctrlFreed, -1)
	return true, nil
}

// Sync makes the map durable: after it returns, a power loss or a reboot
// keeps every entry as it is now. It returns an error wrapping
// ErrSyncFailed if the system reports a failed write-back; the map then
// refuses writes. It does nothing for anonymous memory or a ReadOnly map.
func (m *Map[K, V]) Sync() error {
	defer m.syncUnlock(m.syncLock())
	if err := m.backgroundErr("sync"); err != nil {
		return err
	}
	switch {
	case m.closed:
		return m.wrap("sync", ErrClosed)
	case m.failed != nil:
		return m.wrap("sync", m.failed)
	case !m.persistent || m.readOnly:
		return nil
	}
	return m.sync()
}

// sync makes everything up to the used end durable, then records B and
// the end as durable, then makes that record durable.
func (m *Map[K, V]) sync() error {
	if !m.dirty {
		return nil
	}
	bk, end := m.word(mwBuckets).Load(), m.word(mwAlloc).Load()
	if err := syncPrefix(m.mem, int(min(end, uint64(len(m.b))))); err != nil {
		m.failed = err
		return m.wrap("sync", err)
	}
	m.stepHook()
	m.word(mwDurable).Store(bk)
	m.word(mwDurAlloc).Store(end)
	m.word(mwEpoch).Store(m.epoch + 1)
	m.word(mwFlags).And(^uint64(mapFlagDirty))
	if err := syncPrefix(m.mem, m.dataOffset+mapBlockSize); err != nil {
		m.failed = err
		return m.wrap("sync", err)
	}
	m.durable, m.dirty, m.epoch = bk, false, m.epoch+1
	return nil
}

// Close makes the map durable if it changed (a Sync), and releases the
// lock and the mapping; with SyncEvery it stops the background Syncs. It
// returns the error of that Sync, or of a background one no call returned
// yet, or the failure a Sync left (see Sync). After Close, Len is 0 and
// the mutators return ErrClosed; a second Close returns nil.
func (m *Map[K, V]) Close() error {
	if m.closed {
		return nil
	}
	if bg := m.bg; bg != nil {
		bg.mu.Lock()
		defer bg.done.Wait() // after the lock is let go, below
		defer bg.mu.Unlock()
		bg.stopSyncer()
	}
	err := m.backgroundErr("close")
	switch {
	case err != nil:
	case m.failed != nil:
		err = m.wrap("close", m.failed)
	case m.persistent && !m.readOnly && len(m.b) > 0:
		err = m.sync()
	}
	m.closed = true
	m.b = nil
	return errors.Join(err, m.mem.Close())
}

// Refresh catches up with the writer, on a follower: Get, Len and All
// show the map the writer has published, and Refresh returns Len(). On a
// Map that is not a follower it returns (Len(), nil); after Close, (0,
// ErrClosed).
func (m *Map[K, V]) Refresh() (n int, err error) {
	if m.closed {
		return 0, m.wrap("refresh", ErrClosed)
	}
	if !m.follower {
		return m.Len(), nil
	}
	f := m.mem.(*File)
	defer catchFault(f, "refresh", debug.SetPanicOnFault(true), &err)
	fm, _ := following(m.mem)
	if m.pending {
		if err := fm.followTo(0); err != nil {
			return 0, m.wrap("refresh", err)
		}
		m.pending = false
		if err := m.open(); err != nil || m.pending {
			return 0, err
		}
	}
	if err := m.followView(); err != nil {
		return m.count, err
	}
	return m.Len(), nil
}

// followView takes a follower's snapshot (B, then the used end: every
// bucket B counts was allocated before B was stored) and maps the file up
// to that end.
func (m *Map[K, V]) followView() error {
	m.snapshot()
	end := m.word(mwAlloc).Load()
	if end > math.MaxInt/2 {
		return m.wrap("refresh", fmt.Errorf("%w: the used space ends at %d", ErrCorrupt, end))
	}
	if int(end) > len(m.b) {
		fm, _ := following(m.mem)
		if err := fm.followTo(int(end)); err != nil {
			return m.wrap("refresh", err)
		}
		m.b = m.mem.Bytes()
	}
	return m.checkBlock()
}

// stepHook, when a test sets mapStep, is called between the steps of a
// Put, a Delete, a split and a Sync: a child process kills itself there.
func (m *Map[K, V]) stepHook() {
	if mapStep != nil {
		mapStep()
	}
}

var mapStep func()

// wrap puts err in the package's form, "memvec: <op> <path>: <err>".
func (m *Map[K, V]) wrap(op string, err error) error {
	if !hasPrefix(err) {
		return fmt.Errorf("memvec: %s %s: %w", op, m.path, err)
	}
	return err
}
