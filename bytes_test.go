package memvec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/require"
)

// bytesPath returns the path of a Bytes in a fresh temporary directory.
func bytesPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(tempDir(t), "test.bytes")
}

// openBytes opens a Bytes, failing the test on error, and closes it when
// the test ends.
func openBytes(t testing.TB, path string, opts ...Option) *Bytes {
	t.Helper()
	b, err := OpenBytes(path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// record returns the i-th record of the tests: its length from the index
// (0 to about 300 bytes, some empty), every byte derived from i, so that a
// torn, shifted or missing record shows.
func record(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	p := make([]byte, r.IntN(300))
	if i%17 == 0 {
		p = p[:0]
	}
	for k := range p {
		p[k] = byte(i*31 + k*7)
	}
	return p
}

// requireRecords requires that b holds exactly records 0 to n-1, through
// At, String and All.
func requireRecords(t testing.TB, b *Bytes, n int) {
	t.Helper()
	require.Equal(t, n, b.Len())
	var size int64
	for i := range n {
		want := record(i)
		size += int64(len(want))
		got := b.At(i)
		if !slices.Equal(want, got) {
			require.Failf(t, "wrong record", "record %d of %d is %x, want %x", i, n, got, want)
		}
		require.Equal(t, len(got), cap(got), "At's view must end at the record")
		require.Equal(t, string(want), b.String(i))
	}
	require.Equal(t, size, b.Size())
	k := 0
	for i, p := range b.All() {
		require.Equal(t, k, i)
		require.Equal(t, record(i), p, "All's record %d", i)
		k++
	}
	require.Equal(t, n, k)
}

// eachBytes runs f on a new file-backed Bytes and on an anonymous one.
func eachBytes(t *testing.T, f func(t *testing.T, b *Bytes)) {
	t.Run("file", func(t *testing.T) { f(t, openBytes(t, bytesPath(t))) })
	t.Run("anon", func(t *testing.T) {
		b, err := MakeBytes()
		require.NoError(t, err)
		t.Cleanup(func() { b.Close() })
		f(t, b)
	})
}

func TestBytesPushAppendAt(t *testing.T) {
	eachBytes(t, func(t *testing.T, b *Bytes) {
		requireRecords(t, b, 0)
		require.Zero(t, b.Size())
		n := 0
		for n < 5000 { // several growths of both regions
			switch n % 3 {
			case 0:
				require.NoError(t, b.Push(record(n)))
				n++
			case 1:
				require.NoError(t, b.PushString(string(record(n))))
				n++
			default:
				require.NoError(t, b.Append(record(n), record(n+1), record(n+2)))
				n += 3
			}
		}
		requireRecords(t, b, n)
		require.NoError(t, b.Append()) // nothing: no error
		require.Equal(t, n, b.Len())

		// A view is the record's own: appending to it copies.
		v := b.At(1)
		_ = append(v, 'x', 'y', 'z')
		require.Equal(t, record(2), b.At(2), "appending to At's view wrote into the next record")

		// A record pushed from the Bytes's own view is a copy of it, also
		// when the push grows the data region (which moves it on Windows).
		for _, app := range []bool{false, true} {
			m, size := b.Len(), len(b.data)
			for i := 0; len(b.data) == size; i += 2 {
				if app {
					require.NoError(t, b.Append(b.At(i), b.At(i+1)))
				} else {
					require.NoError(t, b.Push(b.At(i)))
					require.NoError(t, b.Push(b.At(i+1)))
				}
			}
			for i := range b.Len() - m {
				require.Equal(t, record(i%m), b.At(m+i), "record %d, a copy of record %d", m+i, i)
			}
			b.Truncate(n)
		}
		b.Truncate(n)
		requireRecords(t, b, n)
		b.Truncate(10)
		requireRecords(t, b, 10)
		require.NoError(t, b.Append(record(10), record(11)))
		requireRecords(t, b, 12)
		b.Truncate(0)
		requireRecords(t, b, 0)
		require.NoError(t, b.Push(record(0)))
		requireRecords(t, b, 1)
		require.NoError(t, b.Sync())
	})
}

func TestBytesAllStops(t *testing.T) {
	eachBytes(t, func(t *testing.T, b *Bytes) {
		require.NoError(t, b.Append(record(0), record(1), record(2)))
		var seen []int
		for i := range b.All() {
			seen = append(seen, i)
			if i == 1 {
				break
			}
		}
		require.Equal(t, []int{0, 1}, seen)
	})
}

// TestBytesPushFunc: PushFunc writes a record in place when it fits the
// spare room, copies it in when the function outgrows it or returns other
// bytes, and appends nothing when the function fails.
func TestBytesPushFunc(t *testing.T) {
	eachBytes(t, func(t *testing.T, b *Bytes) {
		require.NoError(t, b.Push(record(0)))
		var room []byte
		require.NoError(t, b.PushFunc(func(buf []byte) ([]byte, error) {
			require.Empty(t, buf)
			require.GreaterOrEqual(t, cap(buf), spareRoom)
			room = buf[:1]
			return append(buf, record(1)...), nil
		}))
		require.Same(t, &room[0], &b.At(1)[0], "the record is where the function wrote it")
		// An encoder's AppendBinary, as it is.
		addr := netip.MustParseAddr("10.1.2.3")
		err := b.PushFunc(addr.AppendBinary)
		require.NoError(t, err)
		// Longer than the room: append moves it to a new array, copied in.
		long := bytes.Repeat([]byte("0123456789abcdef"), 2*spareRoom/16+1)
		require.NoError(t, b.PushFunc(func(buf []byte) ([]byte, error) { return append(buf, long...), nil }))
		// Other bytes than the room's, among them a record of the Bytes's own.
		require.NoError(t, b.PushFunc(func([]byte) ([]byte, error) { return []byte("elsewhere"), nil }))
		require.NoError(t, b.PushFunc(func([]byte) ([]byte, error) { return b.At(1), nil }))
		require.NoError(t, b.PushFunc(func(buf []byte) ([]byte, error) { return buf, nil }))
		// A failing function appends nothing, even what it wrote.
		bad := errors.New("cannot encode")
		err = b.PushFunc(func(buf []byte) ([]byte, error) { return append(buf, "half"...), bad })
		require.ErrorIs(t, err, bad)
		require.ErrorContains(t, err, "memvec: push "+b.path+": the record's writer: cannot encode")

		encoded, err := addr.MarshalBinary()
		require.NoError(t, err)
		want := [][]byte{record(0), record(1), encoded, long, []byte("elsewhere"), record(1), {}}
		require.Equal(t, len(want), b.Len())
		for i, p := range b.All() {
			require.Equal(t, want[i], p, "record %d", i)
		}
		require.Equal(t, []byte("elsewhere"), b.At(4))
	})
}

// TestBytesPushFuncAfterTruncate: PushFunc's room may hold bytes of
// records a header on the disk still counts (after a Truncate below what a
// Sync made durable); it makes that header count less before the function
// writes there, as Push does, so that after a power loss no record is
// counted with bytes the function wrote over.
func TestBytesPushFuncAfterTruncate(t *testing.T) {
	path := bytesPath(t)
	b := openBytes(t, path)
	// Records longer than the spare room: so that the room is there, and
	// only the durable records they were call for more work.
	long := bytes.Repeat([]byte{'x'}, 2*spareRoom)
	require.NoError(t, b.Append(record(1), long, long))
	require.NoError(t, b.Sync())
	b.Truncate(1)
	require.NoError(t, b.PushFunc(func(buf []byte) ([]byte, error) { return append(buf, "new"...), nil }))
	// The files as a power loss now could leave them (every page written
	// back), opened after a reboot.
	copied := filepath.Join(tempDir(t), "copy.bytes")
	require.NoError(t, os.Mkdir(copied, 0o755))
	for _, name := range []string{bytesOffsetsName, bytesDataName} {
		p, err := os.ReadFile(filepath.Join(path, name))
		require.NoError(t, err)
		if name == bytesOffsetsName {
			ne := binary.NativeEndian
			ne.PutUint64(p[format.OffBootID:], ne.Uint64(p[format.OffBootID:])^0x100)
		}
		require.NoError(t, os.WriteFile(filepath.Join(copied, name), p, 0o644))
	}
	c := openBytes(t, copied, ReadOnly())
	want := [][]byte{record(1), []byte("new")}
	require.LessOrEqual(t, c.Len(), 2)
	for i, p := range c.All() {
		require.Equal(t, want[i], p, "record %d", i)
	}
}

func TestBytesPanics(t *testing.T) {
	eachBytes(t, func(t *testing.T, b *Bytes) {
		require.NoError(t, b.Append(record(0), record(1)))
		require.PanicsWithError(t, fmt.Sprintf("memvec: at %s: index 2 out of range [0:2]", b.path), func() { b.At(2) })
		require.Panics(t, func() { b.At(-1) })
		require.Panics(t, func() { _ = b.String(2) })
		require.PanicsWithValue(t, fmt.Sprintf("memvec: truncate %s: length 3 out of range [0:2]", b.path), func() { b.Truncate(3) })
		require.Panics(t, func() { b.Truncate(-1) })
		requireRecords(t, b, 2)
	})
}

func TestBytesClose(t *testing.T) {
	eachBytes(t, func(t *testing.T, b *Bytes) {
		require.NoError(t, b.Append(record(0), record(1)))
		require.NoError(t, b.Close())
		require.Zero(t, b.Len())
		require.Zero(t, b.Size())
		require.ErrorIs(t, b.Push(nil), ErrClosed)
		require.ErrorIs(t, b.PushString("x"), ErrClosed)
		require.ErrorIs(t, b.Append(nil), ErrClosed)
		require.ErrorIs(t, b.Sync(), ErrClosed)
		require.ErrorContains(t, b.Sync(), "memvec: sync "+b.path+": closed")
		require.PanicsWithError(t, "memvec: at "+b.path+": closed", func() { b.At(0) })
		b.Truncate(0) // an empty Bytes may be truncated to empty
		for range b.All() {
			t.Fatal("a closed Bytes yields nothing")
		}
		require.NoError(t, b.Close(), "a second Close")
	})
}

func TestBytesReopen(t *testing.T) {
	path := bytesPath(t)
	b, err := OpenBytes(path)
	require.NoError(t, err)
	for i := range 1000 {
		require.NoError(t, b.Push(record(i)))
	}
	require.NoError(t, b.Close())

	b, err = OpenBytes(path)
	require.NoError(t, err)
	requireRecords(t, b, 1000)
	b.Truncate(400)
	require.NoError(t, b.Append(record(400), record(401)))
	require.NoError(t, b.Sync())
	b.Truncate(300)
	require.NoError(t, b.Close())

	b, err = OpenBytes(path, ReadOnly())
	require.NoError(t, err)
	requireRecords(t, b, 300)
	require.NoError(t, b.Close())

	// Close cut the files to what the records need, in pages.
	fi, err := os.Stat(filepath.Join(path, bytesDataName))
	require.NoError(t, err)
	var size int
	for i := range 300 {
		size += len(record(i))
	}
	require.Equal(t, int64(roundUp(size, pageSize)), fi.Size())
	fi, err = os.Stat(filepath.Join(path, bytesOffsetsName))
	require.NoError(t, err)
	require.Equal(t, int64(roundUp(896+8*301, pageSize)), fi.Size())
}

func TestBytesReadOnly(t *testing.T) {
	path := bytesPath(t)
	w := openBytes(t, path)
	require.NoError(t, w.Append(record(0), record(1)))
	_, err := OpenBytes(path, ReadOnly())
	require.ErrorIs(t, err, ErrLocked, "a reader beside a writer")
	_, err = OpenBytes(path)
	require.ErrorIs(t, err, ErrLocked, "a second writer")
	require.ErrorContains(t, err, path)
	require.NoError(t, w.Close())

	r := openBytes(t, path, ReadOnly())
	r2 := openBytes(t, path, ReadOnly())
	requireRecords(t, r, 2)
	requireRecords(t, r2, 2)
	require.ErrorIs(t, r.Push(nil), ErrReadOnly)
	require.ErrorIs(t, r.PushString(""), ErrReadOnly)
	require.ErrorIs(t, r.Append(nil), ErrReadOnly)
	require.ErrorContains(t, r.Push(nil), "memvec: push "+path+": read-only")
	require.PanicsWithValue(t, "memvec: truncate "+path+": read-only", func() { r.Truncate(0) })
	require.NoError(t, r.Sync())
	requireRecords(t, r, 2)
	_, err = OpenBytes(path, LockTimeout(50*time.Millisecond))
	require.ErrorIs(t, err, ErrLocked, "a writer beside readers, after the timeout")
}

func TestBytesOptions(t *testing.T) {
	dir := tempDir(t)
	missing := filepath.Join(dir, "missing")
	for _, opt := range []Option{MustExist(), ReadOnly()} {
		_, err := OpenBytes(missing, opt)
		require.ErrorIs(t, err, fs.ErrNotExist)
		require.NoDirExists(t, missing, "the open must not create it")
	}

	path := filepath.Join(dir, "new")
	b, err := OpenBytes(path, CreateNew(), Mode(0o600))
	require.NoError(t, err)
	require.NoError(t, b.PushString("x"))
	require.NoError(t, b.Close())
	_, err = OpenBytes(path, CreateNew())
	require.ErrorIs(t, err, fs.ErrExist)
	b, err = OpenBytes(path, MustExist())
	require.NoError(t, err)
	require.Equal(t, "x", b.String(0))
	require.NoError(t, b.Close())
	if runtime.GOOS != "windows" {
		for name, want := range map[string]fs.FileMode{"": fs.ModeDir | 0o700, bytesOffsetsName: 0o600, bytesDataName: 0o600} {
			fi, err := os.Stat(filepath.Join(path, name))
			require.NoError(t, err)
			require.Equal(t, want, fi.Mode()&(fs.ModeDir|fs.ModePerm), "mode of %q", name)
		}
	}

	{
		_, err := OpenBytes(filepath.Join(dir, "opt"), Follow())
		require.ErrorIs(t, err, fs.ErrNotExist, "a follower never creates a Bytes")
		require.NoDirExists(t, filepath.Join(dir, "opt"))
	}
	_, err = OpenBytes(path, ReadOnly(), CreateNew())
	require.ErrorContains(t, err, "CreateNew and ReadOnly exclude each other")
	_, err = MakeBytes(ReadOnly())
	require.ErrorContains(t, err, "memvec: make anonymous memory: option ReadOnly does not apply to anonymous memory")
	b, err = MakeBytes(Reserve(1 << 20))
	require.NoError(t, err)
	require.NoError(t, b.Close())
}

// TestBytesTypeMismatch: a Bytes and a vector are told apart, whichever is
// opened as the other, and the error says which is which.
func TestBytesTypeMismatch(t *testing.T) {
	dir := tempDir(t)
	bpath := filepath.Join(dir, "b")
	b := openBytes(t, bpath)
	require.NoError(t, b.Close())
	_, err := Open[int64](bpath)
	require.ErrorIs(t, err, ErrTypeMismatch)
	require.ErrorContains(t, err, "holds bytes (a Bytes's directory), not a vector")
	// Every other way of opening a vector file says the same, not the
	// system's "is a directory".
	_, err = OpenRaw(bpath)
	require.ErrorIs(t, err, ErrTypeMismatch)
	require.ErrorContains(t, err, "holds bytes (a Bytes's directory), not a vector")
	err = Relabel[int64](bpath)
	require.ErrorIs(t, err, ErrTypeMismatch)
	require.ErrorContains(t, err, "holds bytes (a Bytes's directory), not a vector")
	err = Migrate(bpath, func(x int64) int32 { return int32(x) })
	require.ErrorIs(t, err, ErrTypeMismatch)
	require.ErrorContains(t, err, "holds bytes (a Bytes's directory), not a vector")
	// The offsets file inside is named as such, with the path to open.
	offsets := filepath.Join(bpath, bytesOffsetsName)
	_, err = OpenBytes(offsets)
	require.ErrorIs(t, err, ErrTypeMismatch)
	require.ErrorContains(t, err, "open the Bytes by its directory, "+bpath)
	_, err = Open[int64](offsets)
	require.ErrorIs(t, err, ErrTypeMismatch)
	err = Relabel[int64](offsets)
	require.ErrorIs(t, err, ErrTypeMismatch)

	vpath := filepath.Join(dir, "v.vec")
	v := openVec[int64](t, vpath)
	require.NoError(t, v.Push(1))
	require.NoError(t, v.Close())
	_, err = OpenBytes(vpath)
	require.ErrorIs(t, err, ErrTypeMismatch)
	require.ErrorContains(t, err, "the file holds a vector, not bytes")

	// A vector file put where the offsets belong.
	require.NoError(t, os.Rename(vpath, filepath.Join(bpath, bytesOffsetsName)))
	_, err = OpenBytes(bpath)
	require.ErrorIs(t, err, ErrTypeMismatch)
	require.ErrorContains(t, err, "the file holds a vector, not bytes")

	other := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(other, []byte("hello"), 0o644))
	_, err = OpenBytes(other)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "not a directory")
}

// writeBytesFile changes the file name under the Bytes at path with f,
// which gets its bytes and returns the new ones.
func writeBytesFile(t *testing.T, path, name string, f func(b []byte) []byte) {
	t.Helper()
	p := filepath.Join(path, name)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, f(b), 0o644))
}

// TestBytesDamaged: a Bytes damaged by something else opens as ErrCorrupt
// where O(1) can tell, never panics, and Check finds the rest.
func TestBytesDamaged(t *testing.T) {
	ne := binary.NativeEndian
	const n = 50
	entry := func(i int) int { return 896 + 8*i }
	cases := []struct {
		name    string
		file    string
		damage  func(b []byte) []byte
		atOpen  string // the error of the open, or "" if only Check finds it
		atCheck string
	}{
		{"data cut", bytesDataName, func(b []byte) []byte { return b[:100] }, "past the end of the 100-byte data file", ""},
		{"data missing", bytesDataName, func(b []byte) []byte { return nil }, "past the end of the 0-byte data file", ""},
		{"last offset past the data", bytesOffsetsName, func(b []byte) []byte {
			ne.PutUint64(b[entry(n):], 1<<40)
			return b
		}, "records end at byte 1099511627776", ""},
		{"negative last offset", bytesOffsetsName, func(b []byte) []byte {
			ne.PutUint64(b[entry(n):], 1<<63)
			return b
		}, "records end at byte -9223372036854775808", ""},
		{"last record backwards", bytesOffsetsName, func(b []byte) []byte {
			ne.PutUint64(b[entry(n-1):], ne.Uint64(b[entry(n):])+1)
			return b
		}, "record 49 starts at byte", ""},
		{"first offset not 0", bytesOffsetsName, func(b []byte) []byte {
			ne.PutUint64(b[entry(0):], 5)
			return b
		}, "the first offset is 5, not 0", ""},
		{"length past the offsets", bytesOffsetsName, func(b []byte) []byte {
			ne.PutUint64(b[format.OffLength:], 1<<30)
			return b
		}, "header counts 1073741824", ""},
		{"offsets cut", bytesOffsetsName, func(b []byte) []byte { return b[:entry(10)] }, "header counts 50", ""},
		{"offsets cut before the first", bytesOffsetsName, func(b []byte) []byte { return b[:entry(0)] }, "no room for the first offset", ""},
		{"header damaged", bytesOffsetsName, func(b []byte) []byte {
			b[20]++
			return b
		}, "header checksum", ""},
		{"layout damaged", bytesOffsetsName, func(b []byte) []byte {
			b[format.HeaderSize+format.SlotHeaderSize+2]++
			return b
		}, "layout slot 0's checksum", ""},
		{"an offset backwards", bytesOffsetsName, func(b []byte) []byte {
			ne.PutUint64(b[entry(20):], ne.Uint64(b[entry(18):])-1)
			return b
		}, "", "record 19 runs from byte"},
		{"an offset past the data", bytesOffsetsName, func(b []byte) []byte {
			ne.PutUint64(b[entry(20):], 1<<40)
			return b
		}, "", "record 19 runs from byte"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := bytesPath(t)
			b := openBytes(t, path)
			for i := range n {
				require.NoError(t, b.Push(record(i+1))) // record(0) is empty
			}
			require.NoError(t, b.Close())
			writeBytesFile(t, path, c.file, c.damage)
			for _, opts := range [][]Option{{ReadOnly()}, nil} {
				b, err := OpenBytes(path, opts...)
				if c.atOpen != "" {
					require.ErrorIs(t, err, ErrCorrupt)
					require.ErrorContains(t, err, c.atOpen)
					require.ErrorContains(t, err, "memvec: open "+path)
					continue
				}
				require.NoError(t, err)
				require.Equal(t, n, b.Len())
				for i, p := range b.All() { // no panic, nothing outside the data
					if i < 19 || i > 20 {
						require.Equal(t, record(i+1), p)
					}
				}
				require.Empty(t, b.At(19), "a damaged record reads as empty")
				err = b.Check()
				require.ErrorIs(t, err, ErrCorrupt)
				require.ErrorContains(t, err, c.atCheck)
				require.NoError(t, b.Close())
			}
		})
	}
	// An undamaged Bytes passes Check.
	path := bytesPath(t)
	b := openBytes(t, path)
	for i := range n {
		require.NoError(t, b.Push(record(i)))
	}
	require.NoError(t, b.Check())
}

// TestBytesPowerLossRule: after a reboot, the checked lengths count a
// stretch of records only if both their offsets and their bytes are what
// was checksummed: a record whose offset or bytes did not reach the disk
// is not counted, and those a Sync covered are.
func TestBytesPowerLossRule(t *testing.T) {
	ne := binary.NativeEndian
	reboot := func(b []byte) { ne.PutUint64(b[format.OffBootID:], ne.Uint64(b[format.OffBootID:])^0x100) }
	const synced, closed = 30, 50
	setup := func(t *testing.T) string {
		path := bytesPath(t)
		b := openBytes(t, path)
		for i := range synced {
			require.NoError(t, b.Push(record(i+1)))
		}
		require.NoError(t, b.Sync())
		for i := synced; i < closed; i++ {
			require.NoError(t, b.Push(record(i+1)))
		}
		require.NoError(t, b.Close()) // the checked lengths: synced, then closed
		return path
	}
	offsetOf := func(t *testing.T, path string, i int) int {
		b, err := os.ReadFile(filepath.Join(path, bytesOffsetsName))
		require.NoError(t, err)
		return int(ne.Uint64(b[896+8*i:]))
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
		want   int
	}{
		{"clean shutdown", func(t *testing.T, path string) {}, closed},
		{"a byte of an unsynced record", func(t *testing.T, path string) {
			at := offsetOf(t, path, 40) + 1
			writeBytesFile(t, path, bytesDataName, func(b []byte) []byte { b[at]++; return b })
		}, synced},
		{"an unsynced offset", func(t *testing.T, path string) {
			writeBytesFile(t, path, bytesOffsetsName, func(b []byte) []byte { b[896+8*45]++; return b })
		}, synced},
		{"the data file's growth lost", func(t *testing.T, path string) {
			end := offsetOf(t, path, synced)
			writeBytesFile(t, path, bytesDataName, func(b []byte) []byte { return b[:end+1] })
		}, synced},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := setup(t)
			c.damage(t, path)
			writeBytesFile(t, path, bytesOffsetsName, func(b []byte) []byte { reboot(b); return b })
			b := openBytes(t, path, ReadOnly())
			require.Equal(t, c.want, b.Len())
			for i, p := range b.All() {
				require.Equal(t, record(i+1), p)
			}
			require.NoError(t, b.Close())
			// A writer stores what survived as the length: the torn
			// records are never counted again.
			b = openBytes(t, path)
			require.Equal(t, c.want, b.Len())
			require.NoError(t, b.Close())
		})
	}
}

// validBytesFiles returns the two files of a Bytes of n records.
func validBytesFiles(t testing.TB, n int) (offsets, data []byte) {
	t.Helper()
	path := bytesPath(t)
	b, err := OpenBytes(path)
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, b.Push(record(i)))
	}
	require.NoError(t, b.Close())
	offsets, err = os.ReadFile(filepath.Join(path, bytesOffsetsName))
	require.NoError(t, err)
	data, err = os.ReadFile(filepath.Join(path, bytesDataName))
	require.NoError(t, err)
	return offsets, data
}

// FuzzOpenBytes opens arbitrary files as a Bytes (the header checksum
// fixed up, so that the fuzzer explores the checks behind it), as after a
// reboot or not, read-only and as a writer. It must never panic or fault:
// either an error wrapping ErrCorrupt or ErrTypeMismatch that leaves both
// files as they were, or a Bytes whose every record reads within the data
// and which Check either passes, its records then adding up to Size, or
// reports as ErrCorrupt.
func FuzzOpenBytes(f *testing.F) {
	offsets, data := validBytesFiles(f, 20)
	f.Add(offsets, data, false)
	f.Add(offsets, data, true)
	f.Add(offsets, data[:len(data)/3], true)
	f.Add(offsets[:896+8*10], data, false)
	f.Add([]byte{}, data, false)
	f.Add(make([]byte, pageSize), []byte{}, false)
	e0, d0 := validBytesFiles(f, 0)
	f.Add(e0, d0, false)
	for _, at := range []uint64{0, 1 << 40, 1 << 63} { // an offset in the middle runs backwards or past the data
		damaged := bytes.Clone(offsets)
		binary.NativeEndian.PutUint64(damaged[896+8*7:], at)
		f.Add(damaged, data, false)
	}
	f.Fuzz(func(t *testing.T, offsets, data []byte, rebooted bool) {
		if len(offsets) >= format.HeaderSize && !format.IsBlank(offsets) {
			offsets = withHeader(offsets, func(h []byte) {
				if rebooted {
					h[format.OffBootID] ^= 0x10
				}
			})
		}
		path := filepath.Join(tempDir(t), "fuzz.bytes")
		require.NoError(t, os.Mkdir(path, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(path, bytesOffsetsName), offsets, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(path, bytesDataName), data, 0o644))
		for _, opts := range [][]Option{{ReadOnly()}, nil} {
			b, err := OpenBytes(path, opts...)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTypeMismatch) {
					t.Fatalf("open: %v, neither ErrCorrupt nor ErrTypeMismatch", err)
				}
				for name, want := range map[string][]byte{bytesOffsetsName: offsets, bytesDataName: data} {
					got, rerr := os.ReadFile(filepath.Join(path, name))
					require.NoError(t, rerr)
					require.True(t, bytes.Equal(want, got), "a failed open changed %s", name)
				}
				continue
			}
			var size int64
			for i := range b.Len() {
				size += int64(len(b.At(i)))
			}
			if err := b.Check(); err == nil {
				require.Equal(t, b.Size(), size)
			} else {
				require.ErrorIs(t, err, ErrCorrupt)
			}
			require.NoError(t, b.Close())
		}
	})
}
