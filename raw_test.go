//go:build unix || windows

package memvec

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"testing"
	"time"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/require"
)

// TestOpenRawReadsAnyVector: a Raw opens a file without its element type
// and gives the header's fields, the stored layout and each element's
// bytes, exactly those the typed vector wrote.
func TestOpenRawReadsAnyVector(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	for i := range 1000 {
		require.NoError(t, w.Push(pt(i)))
	}
	require.NoError(t, w.Close())

	r, err := OpenRaw(path)
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, 1000, r.Len())
	require.Equal(t, path, r.Name())
	l := r.Layout()
	require.NotNil(t, l)
	want, err := LayoutOf[point]()
	require.NoError(t, err)
	require.Equal(t, want, l)
	for i, b := range r.All() {
		p := pt(i)
		require.Equal(t, unsafe.Slice((*byte)(unsafe.Pointer(&p)), 24), b, "element %d", i)
	}
	require.Equal(t, math.Float64bits(pt(7).Y), binary.NativeEndian.Uint64(r.Elem(7)[8:]))
	require.Panics(t, func() { r.Elem(1000) })
	require.Panics(t, func() { r.Elem(-1) })

	info, ok := r.Info()
	require.True(t, ok)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, format.Version, info.Version)
	require.Equal(t, 24, info.ElemSize)
	require.Equal(t, int(unsafe.Alignof(point{})), info.ElemAlign) // 8, or 4 on 32-bit platforms
	require.Equal(t, ptOff, info.DataOffset)
	require.Equal(t, want.Fingerprint, info.Fingerprint)
	require.Equal(t, 1000, info.Len)
	require.Equal(t, uint64(1000), info.StoredLen)
	require.Equal(t, int(fi.Size()-int64(ptOff))/24, info.Cap)
	require.Equal(t, fi.Size(), info.FileSize)
	require.False(t, info.Rebooted)

	// A shared lock: no writer while the Raw is open.
	_, err = Open[point](path)
	require.ErrorIs(t, err, ErrLocked)
}

// TestRawDontNeed: DontNeed gives a Raw's pages back and loses nothing:
// the elements read back as they were. It refuses a range past the length
// and works on no closed Raw. (Its effect on the resident memory is checked
// in cmd/memvec, on the dump that uses it.)
func TestRawDontNeed(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	const n = 100_000 // 2.4 MB: many pages
	for i := range n {
		require.NoError(t, w.Push(pt(i)))
	}
	require.NoError(t, w.Close())

	r, err := OpenRaw(path)
	require.NoError(t, err)
	for range r.All() {
	}
	require.NoError(t, r.DontNeed(0, n))
	require.NoError(t, r.DontNeed(10, 20_000))
	require.NoError(t, r.DontNeed(5, 5))
	for i, b := range r.All() {
		p := pt(i)
		require.Equal(t, unsafe.Slice((*byte)(unsafe.Pointer(&p)), 24), b, "element %d", i)
	}
	require.Panics(t, func() { r.DontNeed(0, n+1) })
	require.Panics(t, func() { r.DontNeed(-1, 1) })
	require.Panics(t, func() { r.DontNeed(2, 1) })
	require.NoError(t, r.Close())
	require.ErrorIs(t, r.DontNeed(0, 0), ErrClosed)
}

// TestOpenRawFollows: a Raw follower opens an empty file before its
// writer, finds the header the writer creates, and sees its pushes.
func TestOpenRawFollows(t *testing.T) {
	path := vecPath(t)
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	r, err := OpenRaw(path, Follow())
	require.NoError(t, err)
	defer r.Close()
	require.Nil(t, r.Layout())
	_, ok := r.Info()
	require.False(t, ok)

	w := openVec[point](t, path)
	for i := range 10 {
		require.NoError(t, w.Push(pt(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := r.Wait(ctx, 9)
	require.NoError(t, err)
	require.Equal(t, 10, n)
	require.NotNil(t, r.Layout())
	require.Equal(t, 24, len(r.Elem(9)))
	p := pt(9)
	require.Equal(t, unsafe.Slice((*byte)(unsafe.Pointer(&p)), 24), r.Elem(9))
	w.Set(0, pt(100))
	_, err = r.Refresh()
	require.ErrorIs(t, err, ErrRewritten)
}

// TestOpenRawRefusesDamageAndCreate: a damaged file is ErrCorrupt, a
// missing one fs.ErrNotExist (never created), and CreateNew an error.
func TestOpenRawRefusesDamageAndCreate(t *testing.T) {
	data := validFile(t, 3)
	b := bytes.Clone(data)
	binary.NativeEndian.PutUint32(b[format.HeaderSize+format.OffSlotSum:], 1)
	path := writeVecFile(t, b)
	_, err := OpenRaw(path)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "layout slot 0's checksum is 0x00000001")
	requireFileBytes(t, path, b, "a failed open changes nothing")

	missing := vecPath(t)
	_, err = OpenRaw(missing)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(missing)
	require.ErrorIs(t, err, os.ErrNotExist)

	_, err = OpenRaw(path, CreateNew())
	require.ErrorContains(t, err, "CreateNew and ReadOnly exclude each other")
}
