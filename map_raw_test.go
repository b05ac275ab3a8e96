package memvec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/require"
)

// rawEntries returns what a RawMap's All yields, decoded as uint64 keys
// and wide values, failing on an entry listed twice.
func rawEntries(t *testing.T, r *RawMap) map[uint64]wide {
	t.Helper()
	got := map[uint64]wide{}
	for k, v := range r.All() {
		require.Len(t, k, 8)
		require.Len(t, v, 24)
		key := binary.NativeEndian.Uint64(k)
		_, twice := got[key]
		require.False(t, twice, "key %#x listed twice", key)
		got[key] = *(*wide)(unsafe.Pointer(&v[0]))
	}
	require.NoError(t, r.Err())
	return got
}

// mapEntriesOf returns a Map's entries.
func mapEntriesOf(t *testing.T, path string) map[uint64]wide {
	t.Helper()
	m, err := OpenMap[uint64, wide](path, ReadOnly())
	require.NoError(t, err)
	defer m.Close()
	want := map[uint64]wide{}
	for k, v := range m.All() {
		want[k] = v
	}
	require.Equal(t, m.Len(), len(want))
	return want
}

// writeValidMap writes validMapFile's map at a new path and returns it.
func writeValidMap(t *testing.T, n int) string {
	path := filepath.Join(tempDir(t), "raw.map")
	require.NoError(t, os.WriteFile(path, validMapFile(t, n), 0o644))
	return path
}

// TestRawMapReadsWhatMapWrote: a RawMap lists a Map's entries, as bytes,
// with the key's and the value's types from the stored layout, and its
// Check finds a valid file valid, with the split's copies counted.
func TestRawMapReadsWhatMapWrote(t *testing.T) {
	path := writeValidMap(t, 3000)
	want := mapEntriesOf(t, path)
	r, err := OpenRawMap(path)
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, "struct", r.Layout().Type.Kind.String())
	require.Equal(t, Uint64, r.KeyType().Kind)
	require.Equal(t, Array, r.ValueType().Kind)
	require.Equal(t, 8, r.ValueOffset())
	require.Equal(t, len(want), r.Len())
	require.Equal(t, want, rawEntries(t, r))

	in, ok, err := r.Info()
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, len(want), in.Len)
	require.Greater(t, in.Buckets, uint64(100))
	require.Equal(t, in.Buckets, in.Durable) // Close synced
	require.Equal(t, in.Buckets, in.Reading)
	require.False(t, in.Changed)
	require.Equal(t, 512+512, in.BucketSize) // 16+8+2*24 = 72 bytes a slot: 8 slots take more than 512
	require.Equal(t, (1024-32)/72, in.BucketSlots)

	c, err := r.Check()
	require.NoError(t, err)
	require.Equal(t, len(want), c.Entries)
	require.Equal(t, len(want), c.CountWord)
	require.Equal(t, in.Buckets, c.Chains)
	require.Positive(t, c.Copies, "splits leave copies in the parents")
	require.Positive(t, c.Freed, "the Deletes freed slots")
	require.Zero(t, c.BadSums+c.BadTags+c.Duplicates+c.Shared+c.OtherCopy+c.Unreadable+c.DeadLinks)
}

// firstEntrySlot returns where the first slot of a chain's first bucket
// that holds an entry is: the bucket's offset, the slot, the map's
// geometry, and the offset of another chain's first bucket.
func firstEntrySlot(t *testing.T, path string) (off, slot int, g mapGeometry, other int) {
	t.Helper()
	m, err := OpenMap[uint64, wide](path, ReadOnly())
	require.NoError(t, err)
	defer m.Close()
	for bk := range m.buckets - 1 {
		off = m.bucketAt(bk)
		for i := range m.geo.slots {
			if _, _, ok := m.entryAt(off, i, bk, m.buckets); ok {
				return off, i, m.geo, m.bucketAt(bk + 1)
			}
		}
	}
	t.Fatal("no bucket holds an entry")
	return
}

// damaged writes the file at path changed by edit, and returns the
// error of a RawMap's Check of it (its open must succeed), and the check.
func damaged(t *testing.T, path string, edit func(b []byte)) (MapCheck, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b = bytes.Clone(b)
	edit(b)
	bad := filepath.Join(filepath.Dir(path), "damaged.map")
	require.NoError(t, os.WriteFile(bad, b, 0o644))
	r, err := OpenRawMap(bad)
	require.NoError(t, err)
	defer r.Close()
	for range r.All() {
	}
	return r.Check()
}

// TestRawMapCheckFindsDamage: what OpenMap does not read, Check does: a
// value's checksum, a tag, the length word, a chain that loops, a key
// twice; each is ErrCorrupt, counted, and says where.
func TestRawMapCheckFindsDamage(t *testing.T) {
	path := writeValidMap(t, 3000)
	off, i, g, other := firstEntrySlot(t, path)
	ne := binary.NativeEndian
	ctrlAt := off + g.ctrlOff + 8*i

	c, err := damaged(t, path, func(b []byte) {
		sel := ne.Uint64(b[ctrlAt:]) >> 62 & 1
		b[off+g.copy0+int(sel)*g.vw*g.slots+g.vw*i] ^= 1 // the named copy
	})
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "checksum of slot")
	require.Equal(t, 1, c.BadSums)

	c, err = damaged(t, path, func(b []byte) {
		sel := ne.Uint64(b[ctrlAt:]) >> 62 & 1
		b[off+g.copy0+int(sel^1)*g.vw*g.slots+g.vw*i] ^= 1 // the other copy: nothing reads it
	})
	require.NoError(t, err)
	require.Zero(t, c.BadSums)

	c, err = damaged(t, path, func(b []byte) { b[ctrlAt] ^= 1 }) // the tag
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "tag")
	require.Equal(t, 1, c.BadTags)

	_, err = damaged(t, path, func(b []byte) {
		ne.PutUint64(b[format.OffLength:], ne.Uint64(b[format.OffLength:])+1)
	})
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "the length word counts")

	c, err = damaged(t, path, func(b []byte) {
		// Another chain's last bucket links to this one's first, with its
		// stamp (0): that bucket is reached twice.
		b1 := other
		for ne.Uint64(b[b1+8*bwLink:]) != 0 {
			b1 = int(ne.Uint64(b[b1+8*bwLink:]))
		}
		ne.PutUint64(b[b1+8*bwLinkSerial:], 0)
		ne.PutUint64(b[b1+8*bwLink:], uint64(off))
	})
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "reached a second time")
	require.Equal(t, 1, c.Shared)

	c, err = damaged(t, path, func(b []byte) {
		// Another slot of the bucket (a free one if there is one) takes
		// the entry's key and value.
		j := (i + 1) % g.slots
		for k := range g.slots {
			if ne.Uint64(b[off+g.ctrlOff+8*k:])&ctrlOccupied == 0 {
				j = k
				ne.PutUint64(b[format.OffLength:], ne.Uint64(b[format.OffLength:])+1)
				break
			}
		}
		copy(b[off+g.keys+g.kw*j:][:g.kw], b[off+g.keys+g.kw*i:])
		copy(b[off+g.copy0+g.vw*j:][:g.vw], b[off+g.copy0+g.vw*i:])
		copy(b[off+g.copy1+g.vw*j:][:g.vw], b[off+g.copy1+g.vw*i:])
		copy(b[off+g.crcOff+8*j:][:8], b[off+g.crcOff+8*i:])
		copy(b[off+g.ctrlOff+8*j:][:8], b[ctrlAt:])
	})
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "twice")
	require.Equal(t, 1, c.Duplicates)
}

// TestRawMapKilledDelete: a Delete killed between its epoch's store and
// the control word leaves an occupied slot whose checksum word holds the
// epoch: a state a kill leaves, not damage.
func TestRawMapKilledDelete(t *testing.T) {
	path := writeValidMap(t, 3000)
	off, i, g, _ := firstEntrySlot(t, path)
	c, err := damaged(t, path, func(b []byte) {
		binary.NativeEndian.PutUint64(b[off+g.crcOff+8*i:], 1)
	})
	require.NoError(t, err)
	require.Equal(t, 1, c.Deleting)
}

// TestRawMapAfterReboot: after a power loss no writer has claimed, a
// RawMap reads by D buckets and takes the other copy of an entry whose
// named copy's checksum fails, as a Map does; Check counts it, and it is
// no damage.
func TestRawMapAfterReboot(t *testing.T) {
	path := writeValidMap(t, 3000)
	off, i, g, _ := firstEntrySlot(t, path)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	ne := binary.NativeEndian
	sel := ne.Uint64(b[off+g.ctrlOff+8*i:]) >> 62 & 1
	// The other copy whole, the named one torn.
	copy(b[off+g.copy0+int(sel^1)*g.vw*g.slots+g.vw*i:][:g.vw], b[off+g.copy0+int(sel)*g.vw*g.slots+g.vw*i:])
	sums := ne.Uint64(b[off+g.crcOff+8*i:])
	half := sums >> (32 * sel) & 0xFFFFFFFF
	ne.PutUint64(b[off+g.crcOff+8*i:], half<<(32*(sel^1))|half<<(32*sel))
	b[off+g.copy0+int(sel)*g.vw*g.slots+g.vw*i] ^= 1
	require.NoError(t, os.WriteFile(path, b, 0o644))

	reboot(t)
	want := mapEntriesOf(t, path)
	r, err := OpenRawMap(path)
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, want, rawEntries(t, r))
	in, _, err := r.Info()
	require.NoError(t, err)
	require.True(t, in.Rebooted)
	require.Equal(t, in.Durable, in.Reading)
	c, err := r.Check()
	require.NoError(t, err)
	require.Equal(t, 1, c.OtherCopy)
	require.Equal(t, -1, c.CountWord)
	require.Equal(t, len(want), c.Entries)
}

// TestRawMapWrongFiles: a vector file is ErrTypeMismatch, an empty file a
// map with no layout, a damaged map block ErrCorrupt.
func TestRawMapWrongFiles(t *testing.T) {
	dir := tempDir(t)
	vec := filepath.Join(dir, "v.vec")
	v, err := Open[uint64](vec)
	require.NoError(t, err)
	require.NoError(t, v.Append(1))
	require.NoError(t, v.Close())
	_, err = OpenRawMap(vec)
	require.ErrorIs(t, err, ErrTypeMismatch)
	require.ErrorContains(t, err, "not a map")

	empty := filepath.Join(dir, "empty.map")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	r, err := OpenRawMap(empty)
	require.NoError(t, err)
	require.Nil(t, r.Layout())
	require.Zero(t, r.Len())
	_, ok, err := r.Info()
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, r.Close())

	path := writeValidMap(t, 300)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	dataOffset := int(binary.NativeEndian.Uint32(b[format.OffDataOffset:]))
	binary.NativeEndian.PutUint64(b[dataOffset+8*mwBuckets:], 1<<50)
	require.NoError(t, os.WriteFile(path, b, 0o644))
	_, err = OpenRawMap(path)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "memvec: open "+path+": ")
}

// TestRawMapFollows: a RawMap follower beside a writer in this process
// sees a new map at Refresh, then its entries as the writer puts them.
func TestRawMapFollows(t *testing.T) {
	path := filepath.Join(tempDir(t), "f.map")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	r, err := OpenRawMap(path, Follow())
	require.NoError(t, err)
	defer r.Close()
	require.Nil(t, r.Layout())
	w, err := OpenMap[uint64, wide](path)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, w.Put(1, wideOf(1)))
	n, err := r.Refresh()
	require.NoError(t, err)
	require.Equal(t, 1, n)
	for i := range uint64(5000) {
		require.NoError(t, w.Put(i, wideOf(i)))
	}
	n, err = r.Refresh()
	require.NoError(t, err)
	require.Equal(t, 5000, n)
	got := rawEntries(t, r)
	require.Len(t, got, 5000)
	for k, v := range got {
		require.Equal(t, wideOf(k), v)
	}
	c, err := r.Check()
	require.NoError(t, err)
	require.True(t, c.Live)
	require.Equal(t, 5000, c.Entries)
	has, err := r.HasWriter()
	require.NoError(t, err)
	require.True(t, has)
}

// FuzzRawMap opens arbitrary files as FuzzOpenMap does, as a RawMap: never
// a panic or a fault; an open's error is ErrCorrupt or ErrTypeMismatch,
// and Len, All, Info and Check answer, Check with ErrCorrupt or nothing.
func FuzzRawMap(f *testing.F) {
	valid := validMapFile(f, 300)
	dataOffset := int(binary.NativeEndian.Uint32(valid[format.OffDataOffset:]))
	f.Add(valid, false)
	f.Add(valid, true)
	f.Add(valid[:len(valid)/2], false)
	f.Add([]byte{}, false)
	for w := range mwDirectory + 8 {
		for _, x := range []uint64{0, 1, 3, 64, 1 << 20, 1<<63 + 8} {
			d := bytes.Clone(valid)
			binary.NativeEndian.PutUint64(d[dataOffset+8*w:], x)
			f.Add(d, w%2 == 0)
		}
	}
	for at := dataOffset + mapBlockSize; at < len(valid); at += 517 {
		d := bytes.Clone(valid)
		d[at] ^= 0x41
		f.Add(d, at%2 == 0)
	}
	f.Fuzz(func(t *testing.T, b []byte, rebooted bool) {
		if len(b) >= format.HeaderSize && !format.IsBlank(b) {
			b = withHeader(b, func(h []byte) {
				if rebooted {
					h[format.OffBootID] ^= 0x10
				}
			})
		}
		path := filepath.Join(tempDir(t), "fuzz.map")
		require.NoError(t, os.WriteFile(path, b, 0o644))
		r, err := OpenRawMap(path)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTypeMismatch) {
				t.Fatalf("open: %v, neither ErrCorrupt nor ErrTypeMismatch", err)
			}
			return
		}
		defer r.Close()
		r.Len()
		for range r.All() {
		}
		_, _, err = r.Info()
		require.NoError(t, err)
		if _, err := r.Check(); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("check: %v, not ErrCorrupt", err)
		}
	})
}
