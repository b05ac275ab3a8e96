package memvec

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
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
//	 12   4 format version (2)
//	 16   8 element size in bytes
//	 24   4 element alignment in bytes
//	 28   4 offset of element 0 from the start of the region
//	 32   8 layout fingerprint
//	 40  20 reserved, zero
//	 60   4 CRC-32C of bytes 0-59
//	 64   8 length: the number of elements published (atomic)
//	 72   4 wake word: bit 0 set while a follower sleeps; bits 1-31 count wake-ups (atomic)
//	 76   4 reserved, zero
//	 80   8 generation: counts the writer's rewrites; odd while one is under way (atomic)
//	 88   8 base length: elements on the disk before this header was written (durable.go)
//	 96   8 first checked length: counted after a reboot if the first checksum holds
//	104   8 second checked length: counted if the second checksum holds too
//	112   8 boot identifier of the writer's machine when it opened the region
//	120   4 CRC-32C of the elements from the base to the first checked length
//	124   4 CRC-32C of the elements from the first to the second checked length
const (
	headerSize    = 128
	formatVersion = 2
	byteOrderMark = 0x01020304

	offMagic       = 0
	offBOM         = 8
	offVersion     = 12
	offElemSize    = 16
	offElemAlign   = 24
	offDataOffset  = 28
	offFingerprint = 32
	offReserved    = 40
	offChecksum    = 60
	staticSize     = 64 // the checksummed part: bytes 0-63
	offLength      = 64
	offWake        = 72
	offGeneration  = 80
	offBase        = 88
	offChecked1    = 96
	offChecked2    = 104
	offBootID      = 112
	offSum1        = 120
	offSum2        = 124
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
}

// dataOffsetFor returns where element 0 starts for a layout: right after the
// header, rounded up to the element's alignment.
func dataOffsetFor(l *layout) uint32 {
	a := uint32(l.align)
	return (headerSize + a - 1) / a * a
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
// region (to one page) and writing its header leaves: from headerSize bytes
// up to a page, all zero. Such a region is new (FORMAT.md, "What a reader
// must check", step 1). A larger one with a zero header is not, nor is one
// with a nonzero byte past its zero header: it may hold elements whose
// header was lost, which a new vector would overwrite, so readHeader
// reports it as corrupt.
func isBlank(b []byte) bool {
	if len(b) < headerSize || len(b) > pageSize {
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
	if len(b) < headerSize {
		return 0, corrupt("region is %d bytes, shorter than the %d-byte header", len(b), headerSize)
	}
	if [staticSize]byte(b[:staticSize]) == [staticSize]byte{} {
		if len(b) > pageSize {
			return 0, corrupt("header is all zero, but the region is %d bytes, more than a new one (a page, %d bytes): its header may have been lost", len(b), pageSize)
		}
		return 0, corrupt("header is all zero, but the region is not: its header may have been lost")
	}
	if [8]byte(b[:8]) != magic {
		return 0, corrupt("not a memvec region: magic is %q, want %q", b[:8], magic[:])
	}
	ne := binary.NativeEndian
	switch bom := ne.Uint32(b[offBOM:]); bom {
	case byteOrderMark:
	case 0x04030201:
		return 0, corrupt("region was written with the other byte order (mark %#08x); this machine is %s", bom, endianName())
	default:
		return 0, corrupt("bad byte-order mark %#08x", bom)
	}
	if v := ne.Uint32(b[offVersion:]); v != formatVersion {
		return 0, corrupt("format version %d, this library reads version %d", v, formatVersion)
	}
	if got, want := ne.Uint32(b[offChecksum:]), headerChecksum(b); got != want {
		return 0, corrupt("header checksum is %#08x, header hashes to %#08x", got, want)
	}
	h := header{
		elemSize:    ne.Uint64(b[offElemSize:]),
		elemAlign:   ne.Uint32(b[offElemAlign:]),
		dataOffset:  ne.Uint32(b[offDataOffset:]),
		fingerprint: ne.Uint64(b[offFingerprint:]),
	}
	switch {
	case h.elemAlign == 0 || h.elemAlign&(h.elemAlign-1) != 0 || h.elemAlign > 4096:
		return 0, corrupt("element alignment %d is not a power of two up to 4096", h.elemAlign)
	case h.elemSize%uint64(h.elemAlign) != 0:
		return 0, corrupt("element size %d is not a multiple of its alignment %d", h.elemSize, h.elemAlign)
	case h.dataOffset < headerSize || h.dataOffset%h.elemAlign != 0:
		return 0, corrupt("data offset %d is inside the header or not aligned to %d", h.dataOffset, h.elemAlign)
	case uint64(h.dataOffset) > uint64(len(b)):
		return 0, corrupt("data offset %d is past the end of the %d-byte region", h.dataOffset, len(b))
	}
	for _, r := range b[offReserved:offChecksum] {
		if r != 0 {
			return 0, corrupt("reserved header bytes are not zero")
		}
	}
	if h.elemSize != uint64(l.size) || h.elemAlign != uint32(l.align) || h.fingerprint != l.fingerprint {
		return 0, fmt.Errorf("%w: region holds elements of %d bytes, align %d, fingerprint %#016x; the element type is %s",
			ErrTypeMismatch, h.elemSize, h.elemAlign, h.fingerprint, l.desc)
	}
	return trustedLength(b, int(h.dataOffset), l.size)
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
