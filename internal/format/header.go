// Package format is memvec's format layer: what every file of a memvec
// container holds before its body, and the rule by which a reader knows
// how much of the body counts.
//
// A region (a file, or anonymous memory) starts with a 128-byte header:
// the magic, the byte order, the format version, the kind of body (Kind),
// the element size, alignment and layout fingerprint, where the two layout
// slots and the body start, and a checksum of all that (Header, ReadStatic,
// WriteHeader); then the words that change while the region is in use: the
// length, the wake word, the layout word, the generation, and the
// power-loss words (see durable.go here: TrustedLength). Two layout slots follow,
// holding the stored layout (ReadSlot, WriteSlot), then the body, whose
// shape is the container's own.
//
// It knows nothing of an operating system: the machine's boot identifier
// and page size are parameters, given by the region layer
// (internal/region) through the containers.
package format

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/memvec/memvec/internal/errs"
)

// The header occupies the first HeaderSize bytes of every region; FORMAT.md
// documents it byte by byte. All integers are in the byte order of the
// machine that created the region, which the byte-order mark records.
//
// The first 64 bytes (one cache line) are written once, when the region is
// created, and covered by the checksum, but for the two words of Shared
// writers at 52 and 56, which change while they append. The next 64 are the words that
// change while the region is in use; they are not checksummed, and a reader
// validates them against the region instead.
//
//	off size field
//	  0   8 magic "\x89MEMVEC\n"
//	  8   4 byte-order mark 0x01020304
//	 12   4 format version (6)
//	 16   8 element size in bytes
//	 24   4 element alignment in bytes
//	 28   4 offset of element 0 from the start of the region
//	 32   8 layout fingerprint
//	 40   4 offset of the two layout slots (128)
//	 44   4 size of each layout slot in bytes
//	 48   4 kind: what the body holds (1 a vector; see Kind)
//	 52   4 append lock of Shared writers: 0 free, else the holder's id (atomic; see FORMAT.md)
//	 56   4 holder word of Shared writers: the holder's id while it pushes, and its push count (atomic)
//	 60   4 CRC-32C of bytes 0-51
//	 64   8 length: the number of elements published (atomic)
//	 72   4 wake word: bit 0 set while a follower sleeps; bits 1-31 count wake-ups (atomic)
//	 76   4 layout word: counts the relabels; its lowest bit is the slot of the current layout (atomic)
//	 80   8 generation: counts the writer's rewrites; odd while one is under way (atomic)
//	 88   8 base length: elements on the disk before this header was written (durable.go)
//	 96   8 first checked length: counted after a reboot if the first checksum holds
//	104   8 second checked length: counted if the second checksum holds too
//	112   8 boot identifier of the writer's machine when it opened the region
//	120   4 CRC-32C of the elements from the base to the first checked length
//	124   4 CRC-32C of the elements from the first to the second checked length
//
// The two layout slots follow the header, each holding, or having room for,
// the element layout as JSON (the root package's Layout): a CRC-32C of the
// rest of the slot's used bytes, the layout's length, and the layout. The
// layout word says which slot is current. A new region writes slot 0;
// Relabel writes the other one, makes it durable, and then flips the
// current slot with one store of the layout word, so that the layout
// changes all at once. The body starts after the slots, at the data offset.
const (
	HeaderSize    = 128
	Version       = 6
	ByteOrderMark = 0x01020304

	OffMagic       = 0
	OffBOM         = 8
	OffVersion     = 12
	OffElemSize    = 16
	OffElemAlign   = 24
	OffDataOffset  = 28
	OffFingerprint = 32
	OffSlots       = 40
	OffSlotSize    = 44
	OffKind        = 48
	OffAppendLock  = 52
	OffHolder      = 56
	OffChecksum    = 60
	StaticSize     = 64 // the static part: bytes 0-63, of which 0-51 are checksummed
	OffLength      = 64
	OffWake        = 72
	OffLayoutWord  = 76
	OffGeneration  = 80
	OffBase        = 88
	OffChecked1    = 96
	OffChecked2    = 104
	OffBootID      = 112
	OffSum1        = 120
	OffSum2        = 124

	// A layout slot: the CRC-32C of the slot's bytes from 4 to 8 plus the
	// layout's length (the length and the layout), the length, the layout.
	OffSlotSum     = 0
	OffSlotLen     = 4
	SlotHeaderSize = 8
)

// Magic opens every region. Like PNG's, its first byte has the high bit set
// and its last is a newline, so a 7-bit or line-ending conversion shows.
var Magic = [8]byte{0x89, 'M', 'E', 'M', 'V', 'E', 'C', '\n'}

// Castagnoli is the CRC-32C table; the header checksum uses it.
var Castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is a decoded header: its checksummed part. The words that change
// while the region is in use are not part of it: they live in the region
// and are read and written atomically (Word64At).
type Header struct {
	Kind        Kind   // what the body holds
	ElemSize    uint64 // the size of an element (a record's, a slot's) in bytes
	ElemAlign   uint32 // its alignment in bytes, a power of two up to 4096
	DataOffset  uint32 // where element 0 starts
	Fingerprint uint64 // the element layout's fingerprint
	Slots       uint32 // the offset of the two layout slots
	SlotSize    uint32 // the size of each
}

// Body describes what a new region holds after its header: its kind, its
// elements' size, alignment and layout fingerprint, and the stored layout
// (JSON, see the root package's Layout) that goes into its first slot.
type Body struct {
	Kind        Kind
	ElemSize    uint64
	ElemAlign   uint32
	Fingerprint uint64
	Layout      []byte
}

// NewRegionMax bounds a region that is new when all zero (IsBlank): what a
// creation stopped before its header leaves is at most this large, since a
// new vector's header and layout slots fit in it (MaxSlotSize). It does not
// depend on the page size, so every machine applies one rule.
const NewRegionMax = 64 << 10

// MaxSlotSize bounds a layout slot, so that the header and two slots fit in
// NewRegionMax bytes, and so does the data offset after them, rounded up to
// any alignment up to 4096: 32,704 bytes.
const MaxSlotSize = (NewRegionMax - HeaderSize) / 2 &^ 63

// SlotSizeFor returns the size of each layout slot of a new region whose
// layout takes n bytes: room for a layout twice as long plus 256 bytes
// (so that Relabel can store longer names), rounded up to 64 bytes, and at
// most MaxSlotSize.
func SlotSizeFor(n int) uint32 {
	return uint32(min(MaxSlotSize, roundUp(SlotHeaderSize+2*n+256, 64)))
}

// DataOffsetFor returns where element 0 starts for a body: after the
// header and the two layout slots, rounded up to 64 bytes (a cache line)
// or the element's alignment if larger.
func DataOffsetFor(body Body) uint32 {
	a := max(body.ElemAlign, 64)
	return (HeaderSize + 2*SlotSizeFor(len(body.Layout)) + a - 1) / a * a
}

// NewRegionSize is the size of a new region for a body: a page (of
// pageSize bytes, the system's), or the pages that its header and layout
// slots need.
func NewRegionSize(body Body, pageSize int) int {
	return max(pageSize, roundUp(int(DataOffsetFor(body)), pageSize))
}

// HeaderChecksum returns the CRC-32C of the header bytes it covers: the
// static part before the words of Shared writers (bytes 0-51), which
// change while they append.
func HeaderChecksum(b []byte) uint32 {
	return crc32.Checksum(b[:OffAppendLock], Castagnoli)
}

// WriteHeader writes a new header for body with length 0 into b, which must be
// at least HeaderSize bytes: the fields and the checksum first, the magic
// last. A creation interrupted before this leaves a blank region, which
// reads as new (IsBlank); one interrupted inside it, in these few stores,
// leaves fields without the magic, which ReadStatic reports as corrupt; and
// a follower, which may watch the header being written, waits for the
// magic and finds the whole header behind it.
func WriteHeader(b []byte, body Body) {
	ne := binary.NativeEndian
	clear(b[:HeaderSize])
	h := Header{Slots: HeaderSize, SlotSize: SlotSizeFor(len(body.Layout))}
	WriteSlot(b, h, 0, body.Layout)
	ne.PutUint32(b[OffSlots:], h.Slots)
	ne.PutUint32(b[OffSlotSize:], h.SlotSize)
	ne.PutUint32(b[OffBOM:], ByteOrderMark)
	ne.PutUint32(b[OffVersion:], Version)
	ne.PutUint64(b[OffElemSize:], body.ElemSize)
	ne.PutUint32(b[OffElemAlign:], body.ElemAlign)
	ne.PutUint32(b[OffDataOffset:], DataOffsetFor(body))
	ne.PutUint64(b[OffFingerprint:], body.Fingerprint)
	ne.PutUint32(b[OffKind:], uint32(body.Kind))
	var withMagic [StaticSize]byte // the checksum covers the magic, which is written last
	copy(withMagic[:], b[:StaticSize])
	copy(withMagic[OffMagic:], Magic[:])
	ne.PutUint32(b[OffChecksum:], HeaderChecksum(withMagic[:]))
	// One atomic store, after everything else: a follower that loads the
	// magic atomically and finds it sees the whole header.
	(*atomic.Uint64)(unsafe.Pointer(&b[OffMagic])).Store(ne.Uint64(Magic[:]))
}

// IsBlank reports whether b is what a creation stopped between sizing the
// region (to a page, or the few a large layout needs) and writing its
// header leaves: from HeaderSize bytes up to NewRegionMax, all zero. Such a region is new (FORMAT.md, "What a reader
// must check", step 1). A larger one with a zero header is not, nor is one
// with a nonzero byte past its zero header: it may hold elements whose
// header was lost, which a new vector would overwrite, so ReadStatic
// reports it as corrupt.
func IsBlank(b []byte) bool {
	if len(b) < HeaderSize || len(b) > NewRegionMax {
		return false
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// ReadStatic validates the checksummed half of the header at the start of
// b, the place of the layout slots and the current slot's checksum,
// whatever the element type, and returns the header and a copy of the
// current layout (see ReadSlot).
func ReadStatic(b []byte) (h Header, section []byte, err error) {
	if len(b) < HeaderSize {
		return h, nil, errs.Corruptf("region is %d bytes, shorter than the %d-byte header", len(b), HeaderSize)
	}
	if [StaticSize]byte(b[:StaticSize]) == [StaticSize]byte{} {
		if len(b) > NewRegionMax {
			return h, nil, errs.Corruptf("header is all zero, but the region is %d bytes, more than a new one (at most %d bytes): its header may have been lost", len(b), NewRegionMax)
		}
		return h, nil, errs.Corruptf("header is all zero, but the region is not: its header may have been lost")
	}
	if [8]byte(b[:8]) != Magic {
		return h, nil, errs.Corruptf("not a memvec region: magic is %q, want %q", b[:8], Magic[:])
	}
	ne := binary.NativeEndian
	switch bom := ne.Uint32(b[OffBOM:]); bom {
	case ByteOrderMark:
	case 0x04030201:
		return h, nil, errs.Corruptf("region was written with the other byte order (mark %#08x); this machine is %s", bom, EndianName())
	default:
		return h, nil, errs.Corruptf("bad byte-order mark %#08x", bom)
	}
	if v := ne.Uint32(b[OffVersion:]); v != Version {
		return h, nil, errs.Corruptf("format version %d, this library reads version %d", v, Version)
	}
	if got, want := ne.Uint32(b[OffChecksum:]), HeaderChecksum(b); got != want {
		return h, nil, errs.Corruptf("header checksum is %#08x, header hashes to %#08x", got, want)
	}
	h = Header{
		Kind:        Kind(ne.Uint32(b[OffKind:])),
		ElemSize:    ne.Uint64(b[OffElemSize:]),
		ElemAlign:   ne.Uint32(b[OffElemAlign:]),
		DataOffset:  ne.Uint32(b[OffDataOffset:]),
		Fingerprint: ne.Uint64(b[OffFingerprint:]),
		Slots:       ne.Uint32(b[OffSlots:]),
		SlotSize:    ne.Uint32(b[OffSlotSize:]),
	}
	switch {
	case !h.Kind.known():
		return h, nil, errs.Corruptf("kind %d is none this library knows (1 a vector, 2 bytes, 3 a map)", uint32(h.Kind))
	case h.ElemAlign == 0 || h.ElemAlign&(h.ElemAlign-1) != 0 || h.ElemAlign > 4096:
		return h, nil, errs.Corruptf("element alignment %d is not a power of two up to 4096", h.ElemAlign)
	case h.ElemSize%uint64(h.ElemAlign) != 0:
		return h, nil, errs.Corruptf("element size %d is not a multiple of its alignment %d", h.ElemSize, h.ElemAlign)
	case h.DataOffset < HeaderSize || h.DataOffset%h.ElemAlign != 0:
		return h, nil, errs.Corruptf("data offset %d is inside the header or not aligned to %d", h.DataOffset, h.ElemAlign)
	case uint64(h.DataOffset) > uint64(len(b)):
		return h, nil, errs.Corruptf("data offset %d is past the end of the %d-byte region", h.DataOffset, len(b))
	case h.SlotSize < SlotHeaderSize || h.SlotSize > MaxSlotSize || h.Slots%8 != 0 || h.SlotSize%8 != 0:
		return h, nil, errs.Corruptf("layout slots of %d bytes at %d: want multiples of 8, slots of %d to %d bytes", h.SlotSize, h.Slots, SlotHeaderSize, MaxSlotSize)
	case h.Slots < HeaderSize || uint64(h.Slots)+2*uint64(h.SlotSize) > uint64(h.DataOffset):
		return h, nil, errs.Corruptf("layout slots [%d, %d) are not between the header and the data offset %d", h.Slots, uint64(h.Slots)+2*uint64(h.SlotSize), h.DataOffset)
	}
	section, err = ReadSlot(b, h)
	return h, section, err
}

// LayoutWord returns the layout word of region b: the number of relabels,
// whose lowest bit is the current layout slot.
func LayoutWord(b []byte) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&b[OffLayoutWord]))
}

// AppendLock returns the append lock of region b's Shared writers: 0
// free, else bits 0-15 the holder's id, and bit 31 set while the writer
// whose id is in bits 16-30 takes the lock over (FORMAT.md, "Shared
// writers").
func AppendLock(b []byte) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&b[OffAppendLock]))
}

// HolderWord returns the holder word of region b's Shared writers: bits
// 0-15 the id of the holder of the append lock while it is inside a push,
// 0 between pushes; bits 16-31 the count of its pushes, modulo 2^16.
func HolderWord(b []byte) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&b[OffHolder]))
}

// SlotAt returns slot k (0 or 1) of region b, whose header h is valid.
func SlotAt(b []byte, h Header, k uint32) []byte {
	off := h.Slots + k*h.SlotSize
	return b[off : off+h.SlotSize]
}

// ReadSlot returns a copy of the layout in the current slot of region b,
// whose header h is valid, once its length and checksum are checked.
//
// A follower holds no lock that keeps Relabel out, so the copy is made as
// a seqlock read: the layout word, the slot, the layout word again, until
// both loads agree. Relabel writes only the slot that is not current, and
// then stores the layout word, counting up: a copy between two equal loads
// is whole. A holder of the lock (a writer, ReadOnly) reads it at once.
// The slot is copied with atomic 8-byte loads, which keep the reads in
// order with the word's loads (slots start and end at multiples of 8).
func ReadSlot(b []byte, h Header) ([]byte, error) {
	word := LayoutWord(b)
	buf := make([]byte, h.SlotSize)
	var w uint32
	for try := 0; ; try++ {
		w = word.Load()
		slot := SlotAt(b, h, w&1)
		for i := 0; i < len(slot); i += 8 {
			binary.NativeEndian.PutUint64(buf[i:], (*atomic.Uint64)(unsafe.Pointer(&slot[i])).Load())
		}
		if word.Load() == w || try == snapshotTries {
			break
		}
		runtime.Gosched()
	}
	ne := binary.NativeEndian
	n := ne.Uint32(buf[OffSlotLen:])
	if uint64(n) > uint64(h.SlotSize-SlotHeaderSize) {
		return nil, errs.Corruptf("layout slot %d holds a layout of %d bytes, more than its %d bytes of room", w&1, n, h.SlotSize-SlotHeaderSize)
	}
	used := buf[OffSlotLen : SlotHeaderSize+n]
	if got, want := ne.Uint32(buf[OffSlotSum:]), crc32.Checksum(used, Castagnoli); got != want {
		return nil, errs.Corruptf("layout slot %d's checksum is %#08x, the slot hashes to %#08x", w&1, got, want)
	}
	return buf[SlotHeaderSize : SlotHeaderSize+n : SlotHeaderSize+n], nil
}

// WriteSlot writes the stored layout into slot k of region b: the
// layout, zeros to the end of the slot, its length, and the checksum of
// both.
func WriteSlot(b []byte, h Header, k uint32, section []byte) {
	ne := binary.NativeEndian
	slot := SlotAt(b, h, k)
	copy(slot[SlotHeaderSize:], section)
	clear(slot[SlotHeaderSize+len(section):])
	ne.PutUint32(slot[OffSlotLen:], uint32(len(section)))
	ne.PutUint32(slot[OffSlotSum:], crc32.Checksum(slot[OffSlotLen:SlotHeaderSize+len(section)], Castagnoli))
}

// CapacityOf returns how many elements of size bytes fit in a region of
// regionSize bytes whose data starts at dataOffset. Zero-size elements take
// no room: any count up to math.MaxInt fits.
func CapacityOf(regionSize, dataOffset int, size uintptr) int {
	if regionSize < dataOffset {
		return 0
	}
	if size == 0 {
		return math.MaxInt
	}
	return (regionSize - dataOffset) / int(size)
}

// EndianName names this machine's byte order.
func EndianName() string {
	var x uint16 = 1
	if *(*byte)(unsafe.Pointer(&x)) == 1 {
		return "little-endian"
	}
	return "big-endian"
}

// snapshotTries bounds the retries of ReadSlot's seqlock read: about as
// long as a relabel takes to write its slot, many times over.
const snapshotTries = 100

// roundUp rounds n up to a multiple of unit, a power of two.
func roundUp(n, unit int) int { return (n + unit - 1) &^ (unit - 1) }
