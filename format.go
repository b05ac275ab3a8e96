package memvec

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// The header occupies the first headerSize bytes of every region; FORMAT.md
// documents it byte by byte. All integers are in the byte order of the
// machine that created the region, which the byte-order mark records.
//
// The first 64 bytes (one cache line) are written once, when the region is
// created, and covered by the checksum. The next 64 are the words that
// change while the region is in use; they are not checksummed, and a reader
// validates them against the region instead.
//
//	off size field
//	  0   8 magic "\x89MEMVEC\n"
//	  8   4 byte-order mark 0x01020304
//	 12   4 format version (4)
//	 16   8 element size in bytes
//	 24   4 element alignment in bytes
//	 28   4 offset of element 0 from the start of the region
//	 32   8 layout fingerprint
//	 40   4 offset of the two layout slots (128)
//	 44   4 size of each layout slot in bytes
//	 48  12 reserved, zero
//	 60   4 CRC-32C of bytes 0-59
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
// the element layout as JSON (typeinfo.go): a CRC-32C of the rest of the
// slot's used bytes, the layout's length, and the layout. The layout word
// says which slot is current. A new region writes slot 0; Relabel writes
// the other one, makes it durable, and then flips the current slot with
// one store of the layout word, so that the layout changes all at once
// (relabel.go). The elements start after the slots, at the data offset.
const (
	headerSize    = 128
	formatVersion = 4
	byteOrderMark = 0x01020304

	offMagic       = 0
	offBOM         = 8
	offVersion     = 12
	offElemSize    = 16
	offElemAlign   = 24
	offDataOffset  = 28
	offFingerprint = 32
	offSlots       = 40
	offSlotSize    = 44
	offReserved    = 48
	offChecksum    = 60
	staticSize     = 64 // the checksummed part: bytes 0-63
	offLength      = 64
	offWake        = 72
	offLayoutWord  = 76
	offGeneration  = 80
	offBase        = 88
	offChecked1    = 96
	offChecked2    = 104
	offBootID      = 112
	offSum1        = 120
	offSum2        = 124

	// A layout slot: the CRC-32C of the slot's bytes from 4 to 8 plus the
	// layout's length (the length and the layout), the length, the layout.
	offSlotSum     = 0
	offSlotLen     = 4
	slotHeaderSize = 8
)

// magic opens every region. Like PNG's, its first byte has the high bit set
// and its last is a newline, so a 7-bit or line-ending conversion shows.
var magic = [8]byte{0x89, 'M', 'E', 'M', 'V', 'E', 'C', '\n'}

// castagnoli is the CRC-32C table; the header checksum uses it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is a decoded header. The length is not part of it: it lives in the
// region and is read and written atomically (MemVec.length points at it).
type header struct {
	elemSize    uint64
	elemAlign   uint32
	dataOffset  uint32
	fingerprint uint64
	slots       uint32 // the offset of the layout slots
	slotSize    uint32 // the size of each
}

// newRegionMax bounds a region that is new when all zero (isBlank): what a
// creation stopped before its header leaves is at most this large, since a
// new vector's header and layout slots fit in it (maxSlotSize). It does not
// depend on the page size, so every machine applies one rule.
const newRegionMax = 64 << 10

// maxSlotSize bounds a layout slot, so that the header and two slots fit in
// newRegionMax bytes, and so does the data offset after them, rounded up to
// any alignment up to 4096: 32,704 bytes.
const maxSlotSize = (newRegionMax - headerSize) / 2 &^ 63

// slotSizeFor returns the size of each layout slot of a new region whose
// layout takes n bytes: room for a layout twice as long plus 256 bytes
// (so that Relabel can store longer names), rounded up to 64 bytes, and at
// most maxSlotSize.
func slotSizeFor(n int) uint32 {
	return uint32(min(maxSlotSize, roundUp(slotHeaderSize+2*n+256, 64)))
}

// dataOffsetFor returns where element 0 starts for a layout: after the
// header and the two layout slots, rounded up to 64 bytes (a cache line)
// or the element's alignment if larger.
func dataOffsetFor(l *layout) uint32 {
	a := max(uint32(l.align), 64)
	return (headerSize + 2*slotSizeFor(len(l.section)) + a - 1) / a * a
}

// newRegionSize is the size of a new region for a layout: a page, or the
// pages that its header and layout slots need.
func newRegionSize(l *layout) int {
	return max(pageSize, roundUp(int(dataOffsetFor(l)), pageSize))
}

// headerChecksum returns the CRC-32C of the header bytes it covers: the
// static part before the checksum itself.
func headerChecksum(b []byte) uint32 {
	return crc32.Checksum(b[:offChecksum], castagnoli)
}

// writeHeader writes a new header for l with length 0 into b, which must be
// at least headerSize bytes: the fields and the checksum first, the magic
// last. A creation interrupted before this leaves a blank region, which
// reads as new (isBlank); one interrupted inside it, in these few stores,
// leaves fields without the magic, which readHeader reports as corrupt; and
// a follower, which may watch the header being written, waits for the
// magic (headerPending) and finds the whole header behind it.
func writeHeader(b []byte, l *layout) {
	ne := binary.NativeEndian
	clear(b[:headerSize])
	h := header{slots: headerSize, slotSize: slotSizeFor(len(l.section))}
	writeSlot(b, h, 0, l.section)
	ne.PutUint32(b[offSlots:], h.slots)
	ne.PutUint32(b[offSlotSize:], h.slotSize)
	ne.PutUint32(b[offBOM:], byteOrderMark)
	ne.PutUint32(b[offVersion:], formatVersion)
	ne.PutUint64(b[offElemSize:], uint64(l.size))
	ne.PutUint32(b[offElemAlign:], uint32(l.align))
	ne.PutUint32(b[offDataOffset:], dataOffsetFor(l))
	ne.PutUint64(b[offFingerprint:], l.fingerprint)
	var withMagic [staticSize]byte // the checksum covers the magic, which is written last
	copy(withMagic[:], b[:staticSize])
	copy(withMagic[offMagic:], magic[:])
	ne.PutUint32(b[offChecksum:], headerChecksum(withMagic[:]))
	// One atomic store, after everything else: a follower that loads the
	// magic atomically and finds it sees the whole header (headerPending).
	(*atomic.Uint64)(unsafe.Pointer(&b[offMagic])).Store(ne.Uint64(magic[:]))
}

// isBlank reports whether b is what a creation stopped between sizing the
// region (to a page, or the few a large layout needs) and writing its
// header leaves: from headerSize bytes up to newRegionMax, all zero. Such a region is new (FORMAT.md, "What a reader
// must check", step 1). A larger one with a zero header is not, nor is one
// with a nonzero byte past its zero header: it may hold elements whose
// header was lost, which a new vector would overwrite, so readHeader
// reports it as corrupt.
func isBlank(b []byte) bool {
	if len(b) < headerSize || len(b) > newRegionMax {
		return false
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// corrupt returns an error wrapping ErrCorrupt with the detail.
func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// readHeader validates the header at the start of b against l and returns
// the length it records. Every inconsistency is an error wrapping ErrCorrupt
// (or ErrTypeMismatch for another element layout) that says which field is
// wrong; nothing in b is written.
func readHeader(b []byte, l *layout) (length int, err error) {
	h, section, err := readStatic(b)
	if err != nil {
		return 0, err
	}
	if !samePhysical(h, l) || string(section) != string(l.section) {
		// Another layout, or the same one described otherwise (other
		// names of Go types, spaces, keys in another order): the
		// section must describe what the header says, and its paths
		// be the type's.
		stored, err := storedLayout(h, section)
		if err != nil {
			return 0, err
		}
		if err := compareLayouts(h, stored, l); err != nil {
			return 0, err
		}
	}
	return trustedLength(b, int(h.dataOffset), l.size)
}

// compareLayouts returns an error wrapping ErrTypeMismatch, saying where
// they first differ, unless the layout stored in a region (its header h
// and its parsed section) is l's: the same size, alignment and fingerprint,
// and the same paths (samePaths).
func compareLayouts(h header, stored *Layout, l *layout) error {
	if !samePhysical(h, l) {
		return fmt.Errorf("%w: %s", ErrTypeMismatch, describeMismatch(stored, l.exported))
	}
	if !samePaths(stored.Type, l.exported.Type) {
		return fmt.Errorf("%w: %s (the kinds and offsets agree: if fields were renamed, not moved, Relabel stores the new names in the file)", ErrTypeMismatch, describeMismatch(stored, l.exported))
	}
	return nil
}

// samePhysical reports whether the header h records l's element size,
// alignment and fingerprint: whether the bytes of the elements are laid out
// alike, whatever their paths.
func samePhysical(h header, l *layout) bool {
	return h.elemSize == uint64(l.size) && h.elemAlign == uint32(l.align) && h.fingerprint == l.fingerprint
}

// storedLayout parses a region's stored layout and checks it against the
// header: the size, alignment and fingerprint it gives must be the
// header's.
func storedLayout(h header, section []byte) (*Layout, error) {
	stored, err := parseLayout(section)
	if err != nil {
		return nil, corrupt("%v", err)
	}
	if uint64(stored.Size) != h.elemSize || uint32(stored.Align) != h.elemAlign || stored.Fingerprint != h.fingerprint {
		return nil, corrupt("stored layout describes %d-byte elements, align %d, fingerprint %#016x; the header says %d bytes, align %d, fingerprint %#016x",
			stored.Size, stored.Align, stored.Fingerprint, h.elemSize, h.elemAlign, h.fingerprint)
	}
	return stored, nil
}

// readStatic validates the checksummed half of the header at the start of
// b, the place of the layout slots and the current slot's checksum,
// whatever the element type, and returns the header and a copy of the
// current layout (see readSlot).
func readStatic(b []byte) (h header, section []byte, err error) {
	if len(b) < headerSize {
		return h, nil, corrupt("region is %d bytes, shorter than the %d-byte header", len(b), headerSize)
	}
	if [staticSize]byte(b[:staticSize]) == [staticSize]byte{} {
		if len(b) > newRegionMax {
			return h, nil, corrupt("header is all zero, but the region is %d bytes, more than a new one (at most %d bytes): its header may have been lost", len(b), newRegionMax)
		}
		return h, nil, corrupt("header is all zero, but the region is not: its header may have been lost")
	}
	if [8]byte(b[:8]) != magic {
		return h, nil, corrupt("not a memvec region: magic is %q, want %q", b[:8], magic[:])
	}
	ne := binary.NativeEndian
	switch bom := ne.Uint32(b[offBOM:]); bom {
	case byteOrderMark:
	case 0x04030201:
		return h, nil, corrupt("region was written with the other byte order (mark %#08x); this machine is %s", bom, endianName())
	default:
		return h, nil, corrupt("bad byte-order mark %#08x", bom)
	}
	if v := ne.Uint32(b[offVersion:]); v != formatVersion {
		return h, nil, corrupt("format version %d, this library reads version %d", v, formatVersion)
	}
	if got, want := ne.Uint32(b[offChecksum:]), headerChecksum(b); got != want {
		return h, nil, corrupt("header checksum is %#08x, header hashes to %#08x", got, want)
	}
	h = header{
		elemSize:    ne.Uint64(b[offElemSize:]),
		elemAlign:   ne.Uint32(b[offElemAlign:]),
		dataOffset:  ne.Uint32(b[offDataOffset:]),
		fingerprint: ne.Uint64(b[offFingerprint:]),
		slots:       ne.Uint32(b[offSlots:]),
		slotSize:    ne.Uint32(b[offSlotSize:]),
	}
	switch {
	case h.elemAlign == 0 || h.elemAlign&(h.elemAlign-1) != 0 || h.elemAlign > 4096:
		return h, nil, corrupt("element alignment %d is not a power of two up to 4096", h.elemAlign)
	case h.elemSize%uint64(h.elemAlign) != 0:
		return h, nil, corrupt("element size %d is not a multiple of its alignment %d", h.elemSize, h.elemAlign)
	case h.dataOffset < headerSize || h.dataOffset%h.elemAlign != 0:
		return h, nil, corrupt("data offset %d is inside the header or not aligned to %d", h.dataOffset, h.elemAlign)
	case uint64(h.dataOffset) > uint64(len(b)):
		return h, nil, corrupt("data offset %d is past the end of the %d-byte region", h.dataOffset, len(b))
	case h.slotSize < slotHeaderSize || h.slotSize > maxSlotSize || h.slots%8 != 0 || h.slotSize%8 != 0:
		return h, nil, corrupt("layout slots of %d bytes at %d: want multiples of 8, slots of %d to %d bytes", h.slotSize, h.slots, slotHeaderSize, maxSlotSize)
	case h.slots < headerSize || uint64(h.slots)+2*uint64(h.slotSize) > uint64(h.dataOffset):
		return h, nil, corrupt("layout slots [%d, %d) are not between the header and the data offset %d", h.slots, uint64(h.slots)+2*uint64(h.slotSize), h.dataOffset)
	}
	for _, r := range b[offReserved:offChecksum] {
		if r != 0 {
			return h, nil, corrupt("reserved header bytes are not zero")
		}
	}
	section, err = readSlot(b, h)
	return h, section, err
}

// layoutWord returns the layout word of region b: the number of relabels,
// whose lowest bit is the current layout slot.
func layoutWord(b []byte) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&b[offLayoutWord]))
}

// slotAt returns slot k (0 or 1) of region b, whose header h is valid.
func slotAt(b []byte, h header, k uint32) []byte {
	off := h.slots + k*h.slotSize
	return b[off : off+h.slotSize]
}

// readSlot returns a copy of the layout in the current slot of region b,
// whose header h is valid, once its length and checksum are checked.
//
// A follower holds no lock that keeps Relabel out, so the copy is made as
// a seqlock read: the layout word, the slot, the layout word again, until
// both loads agree. Relabel writes only the slot that is not current, and
// then stores the layout word, counting up: a copy between two equal loads
// is whole. A holder of the lock (a writer, ReadOnly) reads it at once.
// The slot is copied with atomic 8-byte loads, which keep the reads in
// order with the word's loads (slots start and end at multiples of 8).
func readSlot(b []byte, h header) ([]byte, error) {
	word := layoutWord(b)
	buf := make([]byte, h.slotSize)
	var w uint32
	for try := 0; ; try++ {
		w = word.Load()
		slot := slotAt(b, h, w&1)
		for i := 0; i < len(slot); i += 8 {
			binary.NativeEndian.PutUint64(buf[i:], (*atomic.Uint64)(unsafe.Pointer(&slot[i])).Load())
		}
		if word.Load() == w || try == snapshotTries {
			break
		}
		runtime.Gosched()
	}
	ne := binary.NativeEndian
	n := ne.Uint32(buf[offSlotLen:])
	if uint64(n) > uint64(h.slotSize-slotHeaderSize) {
		return nil, corrupt("layout slot %d holds a layout of %d bytes, more than its %d bytes of room", w&1, n, h.slotSize-slotHeaderSize)
	}
	used := buf[offSlotLen : slotHeaderSize+n]
	if got, want := ne.Uint32(buf[offSlotSum:]), crc32.Checksum(used, castagnoli); got != want {
		return nil, corrupt("layout slot %d's checksum is %#08x, the slot hashes to %#08x", w&1, got, want)
	}
	return buf[slotHeaderSize : slotHeaderSize+n : slotHeaderSize+n], nil
}

// writeSlot writes the stored layout into slot k of region b: the
// layout, zeros to the end of the slot, its length, and the checksum of
// both.
func writeSlot(b []byte, h header, k uint32, section []byte) {
	ne := binary.NativeEndian
	slot := slotAt(b, h, k)
	copy(slot[slotHeaderSize:], section)
	clear(slot[slotHeaderSize+len(section):])
	ne.PutUint32(slot[offSlotLen:], uint32(len(section)))
	ne.PutUint32(slot[offSlotSum:], crc32.Checksum(slot[offSlotLen:slotHeaderSize+len(section)], castagnoli))
}

// capacityOf returns how many elements of size bytes fit in a region of
// regionSize bytes whose data starts at dataOffset. Zero-size elements take
// no room: any count up to math.MaxInt fits.
func capacityOf(regionSize, dataOffset int, size uintptr) int {
	if regionSize < dataOffset {
		return 0
	}
	if size == 0 {
		return math.MaxInt
	}
	return (regionSize - dataOffset) / int(size)
}

// endianName names this machine's byte order.
func endianName() string {
	var x uint16 = 1
	if *(*byte)(unsafe.Pointer(&x)) == 1 {
		return "little-endian"
	}
	return "big-endian"
}
