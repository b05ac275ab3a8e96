package memvec

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// samplePoint is the i-th element the format tests store.
func samplePoint(i int) point { return point{float64(i), float64(i) / 2, -float64(i)} }

// validFile returns the bytes of a vector file of n points, as Open, Append
// and Close leave it.
func validFile(t testing.TB, n int) []byte {
	t.Helper()
	path := vecPath(t)
	v, err := Open[point](path)
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, v.Push(samplePoint(i)))
	}
	require.NoError(t, v.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// writeVecFile writes data to a new file in a fresh temporary directory and
// returns its path.
func writeVecFile(t testing.TB, data []byte) string {
	t.Helper()
	path := vecPath(t)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return path
}

// requireFileBytes fails the test unless the file at path holds want.
func requireFileBytes(t testing.TB, path string, want []byte, why string) {
	t.Helper()
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	if !bytes.Equal(got, want) {
		at := 0
		for at < min(len(got), len(want)) && got[at] == want[at] {
			at++
		}
		require.FailNowf(t, why, "file is %d bytes, was %d; first difference at byte %d", len(got), len(want), at)
	}
}

// withHeader returns a copy of b with edit applied to its header and the
// header checksum recomputed, so that only the edited field is wrong.
func withHeader(b []byte, edit func(h []byte)) []byte {
	c := bytes.Clone(b)
	edit(c[:format.HeaderSize])
	binary.NativeEndian.PutUint32(c[format.OffChecksum:], format.HeaderChecksum(c))
	return c
}

// otherEndian is the byte order this machine does not use.
func otherEndian() binary.ByteOrder {
	if format.EndianName() == "little-endian" {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// requireFormatError fails the test unless err is one of the errors the
// contract allows for bad input: ErrCorrupt or ErrTypeMismatch.
func requireFormatError(t testing.TB, err error) {
	t.Helper()
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrUnaligned), "ErrUnaligned for a mapped file (mappings are page-aligned): %v", err)
	require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTypeMismatch),
		"bad input must give ErrCorrupt or ErrTypeMismatch, got: %v", err)
	require.True(t, strings.HasPrefix(err.Error(), "memvec: "), "message: %v", err)
}

// pointBytes returns a copy of the bytes of s, to compare elements bit for
// bit (random bytes make NaNs, which never compare equal).
func pointBytes(s []point) []byte {
	return bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(point{}))))
}

// requireReadable checks what any open vector promises: Len <= Cap, and
// every element readable through Slice, Index and the iterators, which agree
// bit for bit.
func requireReadable(t testing.TB, v *MemVec[point]) {
	t.Helper()
	n := v.Len()
	require.GreaterOrEqual(t, n, 0)
	require.LessOrEqual(t, n, v.Cap())
	s := v.Slice()
	require.Len(t, s, n)
	same := func(a, b point) bool {
		return math.Float64bits(a.X) == math.Float64bits(b.X) &&
			math.Float64bits(a.Y) == math.Float64bits(b.Y) &&
			math.Float64bits(a.Z) == math.Float64bits(b.Z)
	}
	count := 0
	for i, p := range v.All() {
		require.Equal(t, count, i)
		require.True(t, same(p, s[i]) && same(p, v.Index(i)), "element %d reads differently", i)
		count++
	}
	require.Equal(t, n, count)
	for i, p := range v.Backward() {
		require.True(t, same(p, s[i]), "element %d reads differently backward", i)
		count--
	}
	require.Zero(t, count)
}

// checkOpenOutcome writes data to a file and opens it as a vector of point,
// read-only and then read-write. Each open must either fail with ErrCorrupt
// or ErrTypeMismatch, leaving the file's bytes as they were, or give a
// consistent vector: Len <= Cap, every element readable, Push works (when
// writable), and a reopen after Close sees the pushed element after the
// old ones. Both opens must agree. It reports the read-write open's error.
func checkOpenOutcome(t testing.TB, data []byte) error {
	t.Helper()
	path := writeVecFile(t, data)
	blank := len(data) == 0 || len(data) >= format.HeaderSize && format.IsBlank(data)

	ro, roErr := Open[point](path, ReadOnly())
	if roErr == nil {
		defer ro.Close() // a no-op after the Close below; closes it if a check fails
		requireReadable(t, ro)
		require.ErrorIs(t, ro.Push(point{}), ErrReadOnly)
		require.NoError(t, ro.Close())
	} else {
		requireFormatError(t, roErr)
	}
	requireFileBytes(t, path, data, "a read-only open never writes")

	v, err := Open[point](path)
	if err != nil {
		requireFormatError(t, err)
		require.Error(t, roErr, "the read-write open failed (%v) but the read-only one did not", err)
		require.Equal(t, errors.Is(roErr, ErrCorrupt), errors.Is(err, ErrCorrupt), "read-only: %v\nread-write: %v", roErr, err)
		requireFileBytes(t, path, data, "a failed open changes nothing")
		return err
	}
	defer v.Close()
	require.NoError(t, roErr, "the read-only open failed but the read-write one did not")
	if !blank {
		// ... but for the words a writer claims at open (see claim).
		after, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, data[:format.OffLength], after[:format.OffLength], "opening an existing vector writes nothing but the mutable words")
		require.Equal(t, data[format.HeaderSize:], after[format.HeaderSize:], "opening an existing vector writes no element")
		require.Equal(t, region.BootID(), binary.NativeEndian.Uint64(after[format.OffBootID:]), "the writer's boot identifier")
		require.Zero(t, binary.NativeEndian.Uint64(after[format.OffGeneration:])&1, "an even generation")
	}
	n := v.Len()
	requireReadable(t, v)
	old := pointBytes(v.Slice())
	p := point{1.5, -2.5, 3.5}
	require.NoError(t, v.Push(p))
	require.Equal(t, n+1, v.Len())
	require.NoError(t, v.Close())

	w, err := Open[point](path)
	require.NoError(t, err, "reopen after a push")
	defer w.Close()
	require.Equal(t, n+1, w.Len())
	requireReadable(t, w)
	require.Equal(t, old, pointBytes(w.Slice()[:n]), "the old elements are kept")
	require.Equal(t, p, w.Index(n))
	require.NoError(t, w.Close())
	return nil
}

func TestOpenEmptyFileIsNewVector(t *testing.T) {
	path := writeVecFile(t, nil)
	v := openVec[point](t, path)
	assert.Equal(t, 0, v.Len())
	require.NoError(t, v.Push(samplePoint(1)))
	require.NoError(t, v.Close())

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(b), format.HeaderSize)
	assert.Equal(t, format.Magic[:], b[:8], "a header was written")
	v = openVec[point](t, path)
	assert.Equal(t, []point{samplePoint(1)}, v.Slice())
}

// TestOpenZeroFileLargerThanANewOneIsCorrupt: a file of zeros past 64 KiB
// is not what an interrupted create leaves; it is refused, unchanged.
func TestOpenZeroFileLargerThanANewOneIsCorrupt(t *testing.T) {
	data := make([]byte, format.NewRegionMax+pageSize)
	path := writeVecFile(t, data)
	_, err := Open[point](path)
	require.ErrorIs(t, err, ErrCorrupt)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, data, after)
}

// TestOneRuleForANewRegion pins the rule of FORMAT.md ("What a reader must
// check", step 1) at its bounds, for a file and for a user's Memory: a
// region is new if it is empty, or from 128 bytes up to 64 KiB and all
// zero, whatever the page size; every other region must hold a header, and one whose header was
// lost is refused, unchanged.
func TestOneRuleForANewRegion(t *testing.T) {
	zeros := func(n int) func() []byte { return func() []byte { return make([]byte, n) } }
	zeroHeaderThen := func(off int) func() []byte {
		return func() []byte { b := make([]byte, pageSize); b[off] = 1; return b }
	}
	noMagic := func() []byte { // a creation stopped before its last store
		l, err := layoutFor[point]()
		require.NoError(t, err)
		b := make([]byte, pageSize)
		format.WriteHeader(b, l.body())
		clear(b[:8])
		return b
	}
	tests := []struct {
		name string
		data func() []byte
		msg  string // "" for a new vector, else the ErrCorrupt detail
	}{
		{"0 bytes", zeros(0), ""},
		{"127 zero bytes", zeros(format.HeaderSize - 1), "shorter than the 128-byte header"},
		{"128 zero bytes", zeros(format.HeaderSize), ""},
		{"a page of zeros", zeros(pageSize), ""},
		{"a page and a byte of zeros", zeros(pageSize + 1), ""},
		{"8 KiB of zeros", zeros(8192), ""},
		{"64 KiB of zeros", zeros(64 << 10), ""},
		{"64 KiB and a byte of zeros", zeros(64<<10 + 1), "more than a new one"},
		{"128 KiB of zeros", zeros(128 << 10), "more than a new one"},
		{"a zero header, then a length", zeroHeaderThen(format.OffLength), "header is all zero, but the region is not"},
		{"a zero header, then an element", zeroHeaderThen(pageSize - 1), "header is all zero, but the region is not"},
		{"the fields without the magic", noMagic, "not a memvec region"},
	}
	check := func(t *testing.T, v *MemVec[point], err error, msg string) {
		t.Helper()
		if msg != "" {
			require.ErrorIs(t, err, ErrCorrupt)
			require.ErrorContains(t, err, msg)
			return
		}
		require.NoError(t, err)
		require.Equal(t, 0, v.Len())
		require.NoError(t, v.Push(samplePoint(1)))
	}
	for _, tt := range tests {
		t.Run("file/"+tt.name, func(t *testing.T) {
			data := tt.data()
			path := writeVecFile(t, data)
			v, err := Open[point](path)
			check(t, v, err, tt.msg)
			if tt.msg != "" {
				requireFileBytes(t, path, data, "a region refused is not changed")
				return
			}
			require.NoError(t, v.Close())
			v = openVec[point](t, path)
			require.Equal(t, []point{samplePoint(1)}, v.Slice())
		})
		t.Run("memory/"+tt.name, func(t *testing.T) {
			data := tt.data()
			mem := newHeapRegion(len(data))
			copy(mem.b, data)
			v, err := New[point](mem)
			check(t, v, err, tt.msg)
			if tt.msg != "" {
				require.Equal(t, data, mem.b, "a region refused is not changed")
			}
		})
	}
}

func TestOpenBlankFileIsNewVector(t *testing.T) {
	for _, size := range []int{format.HeaderSize, 200, pageSize - 1, pageSize} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			path := writeVecFile(t, make([]byte, size))
			v := openVec[point](t, path)
			assert.Equal(t, 0, v.Len())
			assert.GreaterOrEqual(t, v.Cap(), format.CapacityOf(size, ptOff, 24))
			require.NoError(t, v.Append(samplePoint(1), samplePoint(2)))
			require.NoError(t, v.Close())

			v = openVec[point](t, path)
			assert.Equal(t, []point{samplePoint(1), samplePoint(2)}, v.Slice())
		})
	}
}

func TestOpenReadOnlyBlankFileWritesNothing(t *testing.T) {
	for _, size := range []int{0, format.HeaderSize, pageSize} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := make([]byte, size)
			path := writeVecFile(t, data)
			v := openVec[point](t, path, ReadOnly())
			assert.Equal(t, 0, v.Len())
			assert.Empty(t, v.Slice())
			for range v.All() {
				t.Fatal("an empty vector has no elements")
			}
			assert.ErrorIs(t, v.Push(point{}), ErrReadOnly)
			assert.ErrorIs(t, v.Grow(1), ErrReadOnly)
			assert.Panics(t, func() { v.Pop() })
			require.NoError(t, v.Close())
			requireFileBytes(t, path, data, "a read-only open writes nothing")
		})
	}
}

func TestOpenRejectsGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	exe, err := os.ReadFile(os.Args[0])
	require.NoError(t, err)

	oneHeaderByte := make([]byte, pageSize)
	oneHeaderByte[format.StaticSize-1] = 1

	type garbage struct {
		name string
		data []byte
		msg  string
	}
	var tests []garbage
	short := fmt.Sprintf("shorter than the %d-byte header", format.HeaderSize)
	for _, n := range []int{1, 7, 8, 63, 64, 127} {
		tests = append(tests, garbage{fmt.Sprintf("%d random bytes", n), random(n), short})
	}
	for _, n := range []int{128, 129, 200, 4095, 4096, 4097, 10000, 1 << 16} {
		tests = append(tests, garbage{fmt.Sprintf("%d random bytes", n), random(n), "not a memvec region"})
	}
	tests = append(tests,
		garbage{"a short text", []byte("hello, world\n"), short},
		garbage{"text", []byte(strings.Repeat("The quick brown fox jumps over the lazy dog.\n", 100)), "not a memvec region"},
		garbage{"a PNG signature", append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 120)...), "not a memvec region"},
		garbage{"this test binary", exe[:min(len(exe), 1<<20)], "not a memvec region"},
		garbage{"zeros but one header byte", oneHeaderByte, "not a memvec region"},
		garbage{"magic only", append(format.Magic[:], make([]byte, format.HeaderSize-8)...), "byte-order mark"},
		garbage{"magic then random bytes", append(format.Magic[:], random(4088)...), "byte-order mark"},
		garbage{"127 zero bytes", make([]byte, format.HeaderSize-1), short},
		garbage{"one zero byte", []byte{0}, short},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeVecFile(t, tt.data)
			for _, opts := range [][]Option{nil, {ReadOnly()}} {
				_, err := Open[point](path, opts...)
				require.ErrorIs(t, err, ErrCorrupt)
				assert.Contains(t, err.Error(), tt.msg)
				assert.Contains(t, err.Error(), path, "the message names the file")
				requireFileBytes(t, path, tt.data, "a failed open changes nothing")
			}
		})
	}
}

func TestOpenRejectsTruncatedFile(t *testing.T) {
	const n = 10
	data := validFile(t, n)
	end := ptOff + n*24 // just past the last element
	require.GreaterOrEqual(t, len(data), end)

	for size := 1; size < end; size++ {
		cut := data[:size]
		path := writeVecFile(t, cut)
		for _, opts := range [][]Option{nil, {ReadOnly()}} {
			_, err := Open[point](path, opts...)
			require.ErrorIs(t, err, ErrCorrupt, "file cut to %d bytes", size)
			switch {
			case size < format.HeaderSize:
				require.ErrorContains(t, err, fmt.Sprintf("region is %d bytes, shorter than the %d-byte header", size, format.HeaderSize))
			case size < ptOff:
				require.ErrorContains(t, err, fmt.Sprintf("data offset %d is past the end of the %d-byte region", ptOff, size))
			default:
				require.ErrorContains(t, err, fmt.Sprintf("header counts %d elements, the %d-byte region holds at most %d", n, size, (size-ptOff)/24))
			}
			requireFileBytes(t, path, cut, "a failed open changes nothing")
		}
	}

	// Cut anywhere after the last element, only spare capacity is lost.
	for _, size := range []int{end, end + 1, end + 23, end + 24, len(data) - 1} {
		path := writeVecFile(t, data[:size])
		v := openVec[point](t, path)
		require.Equal(t, n, v.Len(), "file cut to %d bytes", size)
		assert.Equal(t, samplePoint(n-1), v.Index(n-1))
		assert.Equal(t, format.CapacityOf(size, ptOff, 24), v.Cap())
		require.NoError(t, v.Push(samplePoint(n)))
		require.NoError(t, v.Close())
	}
}

func TestOpenRejectsOtherByteOrder(t *testing.T) {
	data := validFile(t, 3)
	ne, oe := binary.NativeEndian, otherEndian()

	// The BOM field alone swapped.
	swappedMark := bytes.Clone(data)
	oe.PutUint32(swappedMark[format.OffBOM:], format.ByteOrderMark)

	// A whole file as a machine of the other byte order writes it.
	foreign := bytes.Clone(data)
	oe.PutUint32(foreign[format.OffBOM:], format.ByteOrderMark)
	oe.PutUint32(foreign[format.OffVersion:], ne.Uint32(data[format.OffVersion:]))
	oe.PutUint64(foreign[format.OffElemSize:], ne.Uint64(data[format.OffElemSize:]))
	oe.PutUint32(foreign[format.OffElemAlign:], ne.Uint32(data[format.OffElemAlign:]))
	oe.PutUint32(foreign[format.OffDataOffset:], ne.Uint32(data[format.OffDataOffset:]))
	oe.PutUint64(foreign[format.OffFingerprint:], ne.Uint64(data[format.OffFingerprint:]))
	oe.PutUint64(foreign[format.OffLength:], ne.Uint64(data[format.OffLength:]))
	oe.PutUint32(foreign[format.OffChecksum:], format.HeaderChecksum(foreign))
	for i := ptOff; i+8 <= ptOff+3*24; i += 8 {
		oe.PutUint64(foreign[i:], ne.Uint64(data[i:]))
	}

	for name, b := range map[string][]byte{"byte-order mark swapped": swappedMark, "foreign file": foreign} {
		t.Run(name, func(t *testing.T) {
			path := writeVecFile(t, b)
			_, err := Open[point](path)
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), "other byte order")
			assert.Contains(t, err.Error(), format.EndianName())
			requireFileBytes(t, path, b, "a failed open changes nothing")
		})
	}
}

func TestOpenRejectsOtherVersion(t *testing.T) {
	data := validFile(t, 3)
	for _, version := range []uint32{0, 1, 2, 3, 4, 5, 7, 255, math.MaxUint32} {
		t.Run(fmt.Sprint(version), func(t *testing.T) {
			b := withHeader(data, func(h []byte) { binary.NativeEndian.PutUint32(h[format.OffVersion:], version) })
			path := writeVecFile(t, b)
			_, err := Open[point](path)
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), fmt.Sprintf("format version %d, this library reads version %d", version, format.Version))
			requireFileBytes(t, path, b, "a failed open changes nothing")
		})
	}
}

// TestSharedWordsOutsideChecksum: the append lock and the holder word of
// Shared writers (bytes 52-59) change while they append, so the header's
// checksum does not cover them: a header with both set opens, and one
// with a byte of 0-51 changed does not.
func TestSharedWordsOutsideChecksum(t *testing.T) {
	data := validFile(t, 3)
	b := slices.Clone(data)
	binary.NativeEndian.PutUint32(b[format.OffAppendLock:], 0x80070003)
	binary.NativeEndian.PutUint32(b[format.OffHolder:], 0xffff0003)
	v, err := Open[point](writeVecFile(t, b), ReadOnly())
	require.NoError(t, err)
	require.Equal(t, 3, v.Len())
	require.NoError(t, v.Close())
	b[format.OffAppendLock-1] ^= 1
	_, err = Open[point](writeVecFile(t, b), ReadOnly())
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "header checksum")
}

// TestOpenRejectsInconsistentHeaders edits one field at a time and, unlike a
// random flip, recomputes the checksum, so that the field's own check is what
// must catch it.
func TestOpenRejectsInconsistentHeaders(t *testing.T) {
	needs64BitAlignment(t)
	const n = 10
	data := validFile(t, n)
	ne := binary.NativeEndian
	u32 := func(off int, x uint32) func([]byte) { return func(h []byte) { ne.PutUint32(h[off:], x) } }
	u64 := func(off int, x uint64) func([]byte) { return func(h []byte) { ne.PutUint64(h[off:], x) } }
	fileCap := uint64(format.CapacityOf(len(data), ptOff, 24))

	tests := []struct {
		name string
		edit func(h []byte)
		want error
		msg  string
	}{
		{"magic", func(h []byte) { h[1] = 'm' }, ErrCorrupt, "not a memvec region"},
		{"a Bytes file's kind", u32(format.OffKind, uint32(format.KindBytes)), ErrTypeMismatch, "the file holds a bytes, not a vector"},
		{"a Map file's kind", u32(format.OffKind, uint32(format.KindMap)), ErrTypeMismatch, "the file holds a map, not a vector"},
		{"kind 0", u32(format.OffKind, 0), ErrCorrupt, "kind 0 is none this library knows"},
		{"kind 9", u32(format.OffKind, 9), ErrCorrupt, "kind 9 is none this library knows"},
		{"bad byte-order mark", u32(format.OffBOM, 0x01020305), ErrCorrupt, "bad byte-order mark"},
		{"alignment 0", u32(format.OffElemAlign, 0), ErrCorrupt, "element alignment 0 is not a power of two"},
		{"alignment 3", u32(format.OffElemAlign, 3), ErrCorrupt, "element alignment 3 is not a power of two"},
		{"alignment 8192", u32(format.OffElemAlign, 8192), ErrCorrupt, "element alignment 8192"},
		{"size not a multiple of alignment", u64(format.OffElemSize, 25), ErrCorrupt, "element size 25 is not a multiple of its alignment 8"},
		{"huge size", u64(format.OffElemSize, math.MaxUint64-7), ErrCorrupt, "stored layout describes 24-byte elements, align 8"},
		{"data offset inside the header", u32(format.OffDataOffset, 32), ErrCorrupt, "data offset 32 is inside the header"},
		{"data offset 0", u32(format.OffDataOffset, 0), ErrCorrupt, "data offset 0 is inside the header"},
		{"unaligned data offset", u32(format.OffDataOffset, 68), ErrCorrupt, "not aligned to 8"},
		{"data offset past the end", u32(format.OffDataOffset, uint32(len(data)+8)), ErrCorrupt, "past the end"},
		{"huge data offset", u32(format.OffDataOffset, math.MaxUint32-7), ErrCorrupt, "past the end"},
		{"other element size", u64(format.OffElemSize, 16), ErrCorrupt, "the header says 16 bytes, align 8"},
		{"other alignment", u32(format.OffElemAlign, 4), ErrCorrupt, "the header says 24 bytes, align 4"},
		{"other fingerprint", u64(format.OffFingerprint, 12345), ErrCorrupt, "fingerprint 0x0000000000003039"},
		{"layout slots inside the header", u32(format.OffSlots, 64), ErrCorrupt, "layout slots [64, "},
		{"layout slots past the data offset", u32(format.OffSlotSize, uint32(ptOff)), ErrCorrupt, fmt.Sprintf("are not between the header and the data offset %d", ptOff)},
		{"layout slots not at a multiple of 8", u32(format.OffSlots, format.HeaderSize+4), ErrCorrupt, "want multiples of 8"},
		{"layout slots of no room", u32(format.OffSlotSize, 0), ErrCorrupt, "layout slots of 0 bytes"},
		{"layout slots too large", u32(format.OffSlotSize, format.MaxSlotSize+64), ErrCorrupt, fmt.Sprintf("slots of 8 to %d bytes", format.MaxSlotSize)},
		{"layout word: the other slot, never written", u32(format.OffLayoutWord, 1), ErrCorrupt, "layout slot 1's checksum is 0x00000000"},
		{"length one past capacity", u64(format.OffLength, fileCap+1), ErrCorrupt, fmt.Sprintf("header counts %d elements", fileCap+1)},
		{"length 2^63", u64(format.OffLength, 1<<63), ErrCorrupt, "header counts 9223372036854775808 elements"},
		{"length 2^64-1", u64(format.OffLength, math.MaxUint64), ErrCorrupt, "header counts 18446744073709551615 elements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := withHeader(data, tt.edit)
			path := writeVecFile(t, b)
			for _, opts := range [][]Option{nil, {ReadOnly()}} {
				_, err := Open[point](path, opts...)
				require.ErrorIs(t, err, tt.want)
				assert.Contains(t, err.Error(), tt.msg)
				requireFileBytes(t, path, b, "a failed open changes nothing")
			}
		})
	}

	t.Run("checksum", func(t *testing.T) {
		b := bytes.Clone(data)
		b[format.OffFingerprint] ^= 1 // without fixing the checksum
		path := writeVecFile(t, b)
		_, err := Open[point](path)
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "header checksum")
		requireFileBytes(t, path, b, "a failed open changes nothing")
	})
}

func TestOpenAcceptsAnyLengthUpToCapacity(t *testing.T) {
	const n = 10
	data := validFile(t, n)
	fileCap := format.CapacityOf(len(data), ptOff, 24)
	for _, length := range []int{0, 3, n, fileCap - 1, fileCap} {
		t.Run(fmt.Sprint(length), func(t *testing.T) {
			// The length is not under the checksum: it changes on every push.
			b := bytes.Clone(data)
			binary.NativeEndian.PutUint64(b[format.OffLength:], uint64(length))
			require.NoError(t, checkOpenOutcome(t, b))
			path := writeVecFile(t, b)
			v := openVec[point](t, path)
			require.Equal(t, length, v.Len())
			for i := range min(length, n) {
				assert.Equal(t, samplePoint(i), v.Index(i))
			}
		})
	}
}

// TestHeaderFlipsAreErrorsOrConsistent flips bits in every byte of the
// header of a valid file: each damaged file must be refused with ErrCorrupt
// or ErrTypeMismatch (unchanged), or open as a consistent vector.
func TestHeaderFlipsAreErrorsOrConsistent(t *testing.T) {
	data := validFile(t, 10)
	patterns := []byte{0x01, 0x80, 0xFF}
	var errs, consistent int
	for off := range format.HeaderSize {
		for _, x := range patterns {
			b := bytes.Clone(data)
			b[off] ^= x
			var err error
			ok := t.Run(fmt.Sprintf("byte%02d^%#02x", off, x), func(t *testing.T) {
				err = checkOpenOutcome(t, b)
			})
			if !ok {
				continue
			}
			if err != nil {
				errs++
			} else {
				consistent++
				assert.True(t, off >= format.OffLength || off >= format.OffAppendLock && off < format.OffChecksum,
					"only the mutable words are outside the checksum, but flipping byte %d opened", off)
			}
		}
	}
	t.Logf("%d header flips: %d refused (ErrCorrupt/ErrTypeMismatch), %d opened as consistent vectors", format.HeaderSize*len(patterns), errs, consistent)
}

// TestHeaderFlipsWithValidChecksumAreErrorsOrConsistent is the flip test for
// damage the checksum does not catch (or a file forged to pass it): every
// field's own check must hold.
func TestHeaderFlipsWithValidChecksumAreErrorsOrConsistent(t *testing.T) {
	data := validFile(t, 10)
	patterns := []byte{0x01, 0x02, 0x10, 0x80, 0xFF}
	var errs, consistent int
	var opened []string
	for off := range format.OffChecksum {
		for _, x := range patterns {
			b := withHeader(data, func(h []byte) { h[off] ^= x })
			var err error
			name := fmt.Sprintf("byte%02d^%#02x", off, x)
			if !t.Run(name, func(t *testing.T) { err = checkOpenOutcome(t, b) }) {
				continue
			}
			if err != nil {
				errs++
			} else {
				consistent++
				opened = append(opened, name)
			}
		}
	}
	t.Logf("%d checksummed header flips: %d refused, %d opened as consistent vectors: %v",
		format.OffChecksum*len(patterns), errs, consistent, opened)
}

// A zero-size element takes no room, so the header may count up to
// math.MaxInt of them. Growing past that must be an error, not a crash. The
// operations run in a child process, since the failure can be a fatal stack
// overflow that would take the whole test binary down.
func TestZeroSizeVectorAtMaxLengthRefusesToGrow(t *testing.T) {
	const env = "MEMVEC_FORMAT_TEST_OP"
	ops := map[string]func(v *MemVec[struct{}]) error{
		"Push":   func(v *MemVec[struct{}]) error { return v.Push(struct{}{}) },
		"Append": func(v *MemVec[struct{}]) error { return v.Append(struct{}{}) },
		"Insert": func(v *MemVec[struct{}]) error { return v.Insert(0, struct{}{}) },
		"Grow":   func(v *MemVec[struct{}]) error { return v.Grow(1) },
	}
	if op := os.Getenv(env); op != "" {
		debug.SetMaxStack(64 << 20) // overflow in 64 MiB, not the default 1 GiB
		// The length word is not under the checksum: one damaged word
		// gives such a file.
		path := vecPath(t)
		v := openVec[struct{}](t, path)
		require.NoError(t, v.Close())
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		binary.NativeEndian.PutUint64(b[format.OffLength:], math.MaxInt)
		require.NoError(t, os.WriteFile(path, b, 0o644))
		v = openVec[struct{}](t, path)
		require.Equal(t, math.MaxInt, v.Len())
		err = ops[op](v)
		require.Error(t, err, "%s past math.MaxInt elements", op)
		require.Equal(t, math.MaxInt, v.Len(), "a failed %s leaves the vector unchanged", op)
		fmt.Println("child error:", err)
		return
	}
	for op := range ops {
		t.Run(op, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestZeroSizeVectorAtMaxLengthRefusesToGrow$", "-test.v")
			cmd.Env = append(os.Environ(), env+"="+op)
			out, err := cmd.CombinedOutput()
			if err != nil {
				lines := strings.SplitN(string(out), "\n", 16)
				t.Errorf("%s on a zero-size vector of math.MaxInt elements: child %v:\n%s", op, err, strings.Join(lines[:min(len(lines), 15)], "\n"))
			}
		})
	}
}

// heapRegion is a Memory on the Go heap, the kind a user writes for New: its
// bytes come from a []uint64, so they are 8-aligned, and Resize copies.
type heapRegion struct {
	b       []byte
	limit   int // Resize beyond this fails; 0 means no limit
	resizes int
	closed  bool
}

// alignedBytes returns size zero bytes that start 8-aligned.
func alignedBytes(size int) []byte {
	if size == 0 {
		return nil
	}
	w := make([]uint64, (size+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), len(w)*8)[:size]
}

func newHeapRegion(size int) *heapRegion { return &heapRegion{b: alignedBytes(size)} }

func (m *heapRegion) Bytes() []byte { return m.b }

func (m *heapRegion) Resize(size int) error {
	switch {
	case m.closed:
		return fmt.Errorf("heap memory: %w", ErrClosed)
	case m.limit > 0 && size > m.limit:
		return fmt.Errorf("heap memory: %d bytes is over the limit of %d", size, m.limit)
	}
	m.resizes++
	b := alignedBytes(size)
	copy(b, m.b)
	m.b = b
	return nil
}

func (m *heapRegion) Sync() error { return nil }

func (m *heapRegion) Close() error { m.closed = true; return nil }

// readOnlyRegion is a heapRegion that says it must not be written.
type readOnlyRegion struct{ *heapRegion }

func (readOnlyRegion) ReadOnly() bool { return true }

// skewedRegion hands out its heapRegion's bytes from offset skew on.
type skewedRegion struct {
	*heapRegion
	skew int
}

func (m skewedRegion) Bytes() []byte {
	if len(m.b) <= m.skew {
		return m.b
	}
	return m.b[m.skew:]
}

func TestNewOnUserMemory(t *testing.T) {
	mem := newHeapRegion(0)
	v, err := New[point](mem)
	require.NoError(t, err)
	assert.Equal(t, 0, v.Len())
	assert.Equal(t, pageSize, len(mem.b), "an empty region is resized to one page")
	assert.Equal(t, format.Magic[:], mem.b[:8])
	require.NoError(t, v.Append(samplePoint(0), samplePoint(1), samplePoint(2)))

	t.Run("persists across New", func(t *testing.T) {
		w, err := New[point](mem)
		require.NoError(t, err)
		assert.Equal(t, []point{samplePoint(0), samplePoint(1), samplePoint(2)}, w.Slice())
	})

	t.Run("persists across growth", func(t *testing.T) {
		w, err := New[point](mem)
		require.NoError(t, err)
		before := mem.resizes
		for i := 3; i < 1000; i++ {
			require.NoError(t, w.Push(samplePoint(i)))
		}
		assert.Greater(t, mem.resizes, before, "1000 points do not fit in a page")
		x, err := New[point](mem)
		require.NoError(t, err)
		require.Equal(t, 1000, x.Len())
		for i := range 1000 {
			require.Equal(t, samplePoint(i), x.Index(i))
		}
	})

	t.Run("other layout", func(t *testing.T) {
		snapshot := bytes.Clone(mem.b)
		_, err := New[[2]float64](mem)
		require.ErrorIs(t, err, ErrTypeMismatch)
		assert.Contains(t, err.Error(), "memvec: open *memvec.heapRegion: ", "a Memory without a Name is called by its type")
		assert.Equal(t, snapshot, mem.b)
		assert.False(t, mem.closed, "New does not close the memory it failed on")
	})

	t.Run("Close closes the memory", func(t *testing.T) {
		w, err := New[point](mem)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		assert.True(t, mem.closed)
		assert.ErrorIs(t, w.Push(point{}), ErrClosed)
	})
}

// TestNewOnLargeZeroMemoryIsCorrupt: past one page, a zero header may have
// lost its elements; New refuses rather than overwrite them.
func TestNewOnLargeZeroMemoryIsCorrupt(t *testing.T) {
	mem := newHeapRegion(2 * pageSize)
	mem.b[3*pageSize/2] = 1 // an element whose header was lost
	_, err := New[point](mem)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "header is all zero")
	require.Equal(t, byte(1), mem.b[3*pageSize/2])
}

func TestNewOnBlankUserMemory(t *testing.T) {
	for _, size := range []int{format.HeaderSize, 1000, pageSize} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			mem := newHeapRegion(size)
			v, err := New[point](mem)
			require.NoError(t, err)
			assert.Equal(t, 0, v.Len())
			assert.Equal(t, max(size, pageSize), len(mem.b))
			require.NoError(t, v.Push(samplePoint(7)))
			w, err := New[point](mem)
			require.NoError(t, err)
			assert.Equal(t, []point{samplePoint(7)}, w.Slice())
		})
	}
}

func TestNewRejectsCorruptUserMemory(t *testing.T) {
	for name, data := range map[string][]byte{
		"short":    {1, 2, 3},
		"63 zeros": make([]byte, 63),
		"garbage":  bytes.Repeat([]byte("garbage!"), 100),
		"cut":      validFile(t, 10)[:ptOff+24],
	} {
		t.Run(name, func(t *testing.T) {
			mem := newHeapRegion(len(data))
			copy(mem.b, data)
			_, err := New[point](mem)
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Equal(t, data, mem.b, "a failed New changes nothing")
			assert.Zero(t, mem.resizes)
			assert.False(t, mem.closed, "New does not close the memory it failed on")
		})
	}
}

func TestNewRejectsUnalignedUserMemory(t *testing.T) {
	for _, skew := range []int{1, 4} {
		t.Run(fmt.Sprintf("empty, skew %d", skew), func(t *testing.T) {
			mem := skewedRegion{newHeapRegion(0), skew}
			_, err := New[point](mem)
			require.ErrorIs(t, err, ErrUnaligned)
			assert.Contains(t, err.Error(), "need a multiple of 8")
		})
		t.Run(fmt.Sprintf("valid, skew %d", skew), func(t *testing.T) {
			heap := newHeapRegion(0)
			v, err := New[point](heap)
			require.NoError(t, err)
			require.NoError(t, v.Push(samplePoint(1)))
			// Shift the bytes up, so that the region at skew holds a valid vector.
			shifted := newHeapRegion(len(heap.b) + skew)
			copy(shifted.b[skew:], heap.b)
			snapshot := bytes.Clone(shifted.b)
			_, err = New[point](skewedRegion{shifted, skew})
			require.ErrorIs(t, err, ErrUnaligned)
			assert.Equal(t, snapshot, shifted.b, "a failed New changes nothing")
		})
	}
	t.Run("byte elements still need an 8-aligned header", func(t *testing.T) {
		_, err := New[byte](skewedRegion{newHeapRegion(pageSize + 1), 1})
		require.ErrorIs(t, err, ErrUnaligned)
	})
}

func TestNewOnReadOnlyUserMemory(t *testing.T) {
	heap := newHeapRegion(0)
	v, err := New[point](heap)
	require.NoError(t, err)
	require.NoError(t, v.Append(samplePoint(0), samplePoint(1), samplePoint(2)))
	snapshot := bytes.Clone(heap.b)
	resizes := heap.resizes

	ro, err := New[point](readOnlyRegion{heap})
	require.NoError(t, err)
	assert.Equal(t, []point{samplePoint(0), samplePoint(1), samplePoint(2)}, ro.Slice())
	assert.Equal(t, samplePoint(1), ro.Index(1))
	assert.GreaterOrEqual(t, ro.Cap(), 3)

	for name, f := range map[string]func() error{
		"Push":   func() error { return ro.Push(point{}) },
		"Append": func() error { return ro.Append(point{}) },
		"Insert": func() error { return ro.Insert(0, point{}) },
		"Grow":   func() error { return ro.Grow(1) },
		"Clip":   func() error { return ro.Clip() },
	} {
		assert.ErrorIs(t, f(), ErrReadOnly, name)
	}
	for name, f := range map[string]func(){
		"Pop":        func() { ro.Pop() },
		"Set":        func() { ro.Set(0, point{}) },
		"Remove":     func() { ro.Remove(0) },
		"SwapRemove": func() { ro.SwapRemove(0) },
		"Truncate":   func() { ro.Truncate(1) },
		"Clear":      func() { ro.Clear() },
	} {
		panicked := func() (r any) {
			defer func() { r = recover() }()
			f()
			return nil
		}()
		require.IsType(t, "", panicked, "%s on a read-only vector must panic with a message", name)
		assert.Regexp(t, `^memvec: [a-z]+ memvec\.readOnlyRegion: read-only$`, panicked, name)
	}
	assert.Equal(t, 3, ro.Len())
	assert.Equal(t, snapshot, heap.b, "a read-only vector never writes")
	assert.Equal(t, resizes, heap.resizes, "a read-only vector never resizes")

	t.Run("blank", func(t *testing.T) {
		for _, size := range []int{0, pageSize} {
			mem := newHeapRegion(size)
			v, err := New[point](readOnlyRegion{mem})
			require.NoError(t, err)
			assert.Equal(t, 0, v.Len())
			assert.ErrorIs(t, v.Push(point{}), ErrReadOnly)
			assert.Zero(t, mem.resizes, "nothing is resized")
			assert.Len(t, mem.b, size, "nothing is resized")
			assert.Equal(t, size, bytes.Count(mem.b, []byte{0}), "nothing is written")
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		mem := newHeapRegion(pageSize)
		copy(mem.b, "not a vector")
		_, err := New[point](readOnlyRegion{mem})
		require.ErrorIs(t, err, ErrCorrupt)
	})
}

// namedRegion is a heapRegion with the optional Name method of a Memory.
type namedRegion struct{ *heapRegion }

func (namedRegion) Name() string { return "the test's region" }

// TestNewNamesAUserMemoryByItsName: errors call a Memory with a Name method
// by it, as they call a File by its path.
func TestNewNamesAUserMemoryByItsName(t *testing.T) {
	mem := newHeapRegion(pageSize)
	copy(mem.b, "not a vector")
	_, err := New[point](namedRegion{mem})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "the test's region")
}

func TestNewUserMemoryResizeFailureLeavesVectorUnchanged(t *testing.T) {
	mem := newHeapRegion(0)
	mem.limit = pageSize
	v, err := New[point](mem)
	require.NoError(t, err)
	for v.Len() < v.Cap() {
		require.NoError(t, v.Push(samplePoint(v.Len())))
	}
	n := v.Len()
	err = v.Push(point{})
	require.Error(t, err)
	assert.Regexp(t, `^memvec: resize \*memvec\.heapRegion: heap memory: \d+ bytes is over the limit of \d+$`, err.Error())
	assert.Equal(t, n, v.Len())
	assert.Equal(t, samplePoint(n-1), v.Index(n-1))
	w, err := New[point](mem)
	require.NoError(t, err)
	assert.Equal(t, n, w.Len())
}

// FuzzOpen opens arbitrary bytes as a vector file. It must never panic or
// fault: either an error matching ErrCorrupt or ErrTypeMismatch that leaves
// the file as it was, or a consistent vector (see checkOpenOutcome).
func FuzzOpen(f *testing.F) {
	valid := validFile(f, 10)
	f.Add(valid)
	f.Add(validFile(f, 0))
	f.Add([]byte{})
	f.Add(make([]byte, format.HeaderSize))
	f.Add(make([]byte, pageSize))
	f.Add([]byte("hello, world\n"))
	f.Add(bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 100))
	f.Add(valid[:format.HeaderSize])
	f.Add(valid[:ptOff+5*24+7])
	f.Add(valid[:ptOff+10*24])
	f.Add(relabelledFile(f, 10))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkOpenOutcome(t, data)
	})
}

// relabelledFile returns the bytes of a vector file of n points relabelled
// twice, to other names and back: both layout slots hold a layout, and the
// second is current.
func relabelledFile(t testing.TB, n int) []byte {
	t.Helper()
	path := writeVecFile(t, validFile(t, n))
	require.NoError(t, Relabel[struct{ Lat, Lon, Alt float64 }](path))
	require.NoError(t, Relabel[point](path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, uint32(2), binary.NativeEndian.Uint32(b[format.OffLayoutWord:]))
	return b
}

// FuzzChecksummedOpen is FuzzOpen with the header checksum fixed up
// before the open, so that the fuzzer explores the checks behind it rather
// than being stopped by it.
func FuzzChecksummedOpen(f *testing.F) {
	valid := validFile(f, 10)
	f.Add(valid)
	f.Add(validFile(f, 0)[:pageSize])
	f.Add(valid[:format.HeaderSize])
	f.Add(valid[:ptOff+10*24])
	f.Add(withHeader(valid, func(h []byte) { binary.NativeEndian.PutUint32(h[format.OffDataOffset:], 128) }))
	f.Add(relabelledFile(f, 10))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= format.HeaderSize && !format.IsBlank(data) {
			data = withHeader(data, func([]byte) {})
		}
		checkOpenOutcome(t, data)
	})
}
