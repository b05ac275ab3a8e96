package memvec

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/require"
)

// TestBytesInfo: a Bytes's Info is its offsets file's header, read from
// the files as FORMAT.md, "Bytes files", gives them: the lengths and the
// power-loss words count records, and the second checksum covers the
// records' offsets entries and then their bytes. A new Bytes opened
// ReadOnly has no header yet, and a closed one no Info.
func TestBytesInfo(t *testing.T) {
	path := bytesPath(t)
	b := openBytes(t, path)
	require.NoError(t, b.Append(record(0), record(1), record(2)))
	require.NoError(t, b.Sync())
	require.NoError(t, b.PushString("four"))
	require.NoError(t, b.Push(nil))
	require.NoError(t, b.Close())
	_, ok := b.Info()
	require.False(t, ok, "no Info after Close")

	r := openBytes(t, path, ReadOnly())
	in, ok := r.Info()
	require.True(t, ok)
	offsets, err := os.ReadFile(filepath.Join(path, "offsets"))
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(path, "data"))
	require.NoError(t, err)
	ne := binary.NativeEndian
	entry := func(i int) int { return in.DataOffset + 8*i }
	end := func(i int) int64 { return int64(ne.Uint64(offsets[entry(i):])) }
	crc := crc32.Checksum(offsets[entry(4):entry(6)], crc32.MakeTable(crc32.Castagnoli))
	crc = crc32.Update(crc, crc32.MakeTable(crc32.Castagnoli), data[end(3):end(5)])

	require.Equal(t, 5, in.Len)
	require.Equal(t, r.Len(), in.Len)
	require.Equal(t, []uint64{5, 3, 3, 5}, []uint64{in.StoredLen, in.BaseLen, in.Checked1, in.Checked2})
	require.Equal(t, uint32(0), in.Sum1, "the checksum of no records, [3, 3)")
	require.Equal(t, crc, in.Sum2, "the checksum of records [3, 5): their offsets, then their bytes")
	require.Equal(t, int64(len(offsets)), in.FileSize)
	require.Equal(t, (len(offsets)-in.DataOffset)/8-1, in.Cap, "an entry more than the records")
	require.Equal(t, 896, in.DataOffset)
	require.Equal(t, format.Version, int(in.Version))
	require.Equal(t, binary.ByteOrder(binary.LittleEndian), in.ByteOrder) // every platform the tests run on
	require.Equal(t, []int{8, 8}, []int{in.ElemSize, in.ElemAlign})
	require.Equal(t, uint64(0x6d3adf8e7411730e), in.Fingerprint)
	require.Equal(t, Int64, in.Layout.Type.Kind)
	require.Equal(t, 42, in.LayoutSize)
	require.Equal(t, 384, in.SlotSize)
	require.Equal(t, uint64(0), in.Generation)
	require.Equal(t, ne.Uint64(offsets[112:]), in.BootID)
	require.False(t, in.Rebooted)
	require.Equal(t, int64(end(5)), r.Size())

	fresh := filepath.Join(tempDir(t), "fresh.bytes")
	require.NoError(t, os.Mkdir(fresh, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(fresh, "offsets"), nil, 0o644))
	_, ok = openBytes(t, fresh, ReadOnly()).Info()
	require.False(t, ok, "a new Bytes opened ReadOnly has no header yet")

	m, err := MakeBytes()
	require.NoError(t, err)
	defer m.Close()
	require.NoError(t, m.PushString("x"))
	in, ok = m.Info()
	require.True(t, ok)
	require.Equal(t, 1, in.Len)
	require.Equal(t, uint64(1), in.StoredLen)
}
