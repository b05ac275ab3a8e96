package memvec

import (
	"context"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/require"
)

// point is the element type most tests use: 24 bytes, three float64.
type point struct{ X, Y, Z float64 }

// vecPath returns the path of a new vector file in a fresh temporary
// directory.
func vecPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(tempDir(t), "test.vec")
}

// openVec opens a vector file, failing the test on error, and closes it
// when the test ends.
func openVec[T any](t testing.TB, path string, opts ...Option) *MemVec[T] {
	t.Helper()
	v, err := Open[T](path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { v.Close() })
	return v
}

// backends opens a new, empty vector of points on each shipped backend, so
// that a test can run as a subtest per backend.
var backends = []struct {
	name string
	open func(t *testing.T) *MemVec[point]
}{
	{"anon", func(t *testing.T) *MemVec[point] {
		v, err := Make[point](0)
		require.NoError(t, err)
		t.Cleanup(func() { v.Close() })
		return v
	}},
	{"file", func(t *testing.T) *MemVec[point] { return openVec[point](t, vecPath(t)) }},
}

// pt returns a point whose coordinates all derive from i, so that a wrong
// or torn element shows.
func pt(i int) point { return point{float64(i), float64(i) * 2, -float64(i)} }

// pts returns pt(i) for each i in is.
func pts(is ...int) []point {
	out := make([]point, len(is))
	for k, i := range is {
		out[k] = pt(i)
	}
	return out
}

// filled returns a vector of the backend holding pt(0) ... pt(n-1).
func filled(t *testing.T, open func(*testing.T) *MemVec[point], n int) *MemVec[point] {
	v := open(t)
	for i := range n {
		require.NoError(t, v.Push(pt(i)))
	}
	return v
}

// TestMethods specifies every method as a table of cases: a vector of n
// elements pt(0..n-1), an operation, and the elements (and result) after.
func TestMethods(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		op    func(v *MemVec[point]) any // its result, compared to want
		want  any
		after []point
	}{
		{"Push onto empty", 0, func(v *MemVec[point]) any { return v.Push(pt(7)) }, nil, pts(7)},
		{"Push appends", 2, func(v *MemVec[point]) any { return v.Push(pt(9)) }, nil, pts(0, 1, 9)},
		{"Append several", 1, func(v *MemVec[point]) any { return v.Append(pt(5), pt(6)) }, nil, pts(0, 5, 6)},
		{"Append nothing", 2, func(v *MemVec[point]) any { return v.Append() }, nil, pts(0, 1)},
		{"Append own elements", 3, func(v *MemVec[point]) any { return v.Append(v.Slice()...) }, nil, pts(0, 1, 2, 0, 1, 2)},
		{"Pop returns last", 3, func(v *MemVec[point]) any { x, ok := v.Pop(); return []any{x, ok} }, []any{pt(2), true}, pts(0, 1)},
		{"Pop on empty", 0, func(v *MemVec[point]) any { x, ok := v.Pop(); return []any{x, ok} }, []any{point{}, false}, pts()},
		{"Insert at front", 3, func(v *MemVec[point]) any { return v.Insert(0, pt(8)) }, nil, pts(8, 0, 1, 2)},
		{"Insert in middle", 3, func(v *MemVec[point]) any { return v.Insert(1, pt(8), pt(9)) }, nil, pts(0, 8, 9, 1, 2)},
		{"Insert at end", 2, func(v *MemVec[point]) any { return v.Insert(2, pt(8)) }, nil, pts(0, 1, 8)},
		{"Insert nothing", 2, func(v *MemVec[point]) any { return v.Insert(1) }, nil, pts(0, 1)},
		{"Insert own elements", 3, func(v *MemVec[point]) any { return v.Insert(1, v.Slice()[1:]...) }, nil, pts(0, 1, 2, 1, 2)},
		{"Remove keeps order", 4, func(v *MemVec[point]) any { return v.Remove(1) }, pt(1), pts(0, 2, 3)},
		{"Remove last", 2, func(v *MemVec[point]) any { return v.Remove(1) }, pt(1), pts(0)},
		{"SwapRemove moves last", 4, func(v *MemVec[point]) any { return v.SwapRemove(0) }, pt(0), pts(3, 1, 2)},
		{"SwapRemove last", 3, func(v *MemVec[point]) any { return v.SwapRemove(2) }, pt(2), pts(0, 1)},
		{"Index", 3, func(v *MemVec[point]) any { return v.Index(2) }, pt(2), pts(0, 1, 2)},
		{"Set", 3, func(v *MemVec[point]) any { v.Set(1, pt(7)); return nil }, nil, pts(0, 7, 2)},
		{"Len", 3, func(v *MemVec[point]) any { return v.Len() }, 3, pts(0, 1, 2)},
		{"Truncate", 4, func(v *MemVec[point]) any { v.Truncate(1); return nil }, nil, pts(0)},
		{"Truncate to Len", 2, func(v *MemVec[point]) any { v.Truncate(2); return nil }, nil, pts(0, 1)},
		{"Clear", 3, func(v *MemVec[point]) any { v.Clear(); return nil }, nil, pts()},
		{"Grow keeps elements", 2, func(v *MemVec[point]) any { return v.Grow(1000) }, nil, pts(0, 1)},
		{"Clip keeps elements", 2, func(v *MemVec[point]) any { return v.Clip() }, nil, pts(0, 1)},
		{"Sync", 2, func(v *MemVec[point]) any { return v.Sync() }, nil, pts(0, 1)},
		{"Slice aliases", 2, func(v *MemVec[point]) any { v.Slice()[0] = pt(5); return nil }, nil, pts(5, 1)},
		{"Slice is clipped", 2, func(v *MemVec[point]) any { s := v.Slice(); return cap(s) }, 2, pts(0, 1)},
	}
	for _, be := range backends {
		for _, tt := range tests {
			t.Run(be.name+"/"+tt.name, func(t *testing.T) {
				v := filled(t, be.open, tt.n)
				require.Equal(t, tt.want, tt.op(v))
				require.Equal(t, tt.after, slices.AppendSeq([]point{}, v.Values()))
				require.Equal(t, len(tt.after), v.Len())
				require.LessOrEqual(t, v.Len(), v.Cap())
			})
		}
	}
}

// TestPanics specifies the calls that panic, as slices do for out-of-range
// indices (with the runtime's error), and with a message of the package's
// form for the checks the vector makes itself.
func TestPanics(t *testing.T) {
	tests := []struct {
		name string
		n    int
		op   func(v *MemVec[point])
		msg  string // the message after "memvec: ", with %s for the region; "" for the runtime's
	}{
		{"Index -1", 3, func(v *MemVec[point]) { v.Index(-1) }, ""},
		{"Index Len", 3, func(v *MemVec[point]) { v.Index(3) }, ""},
		{"Index past capacity", 3, func(v *MemVec[point]) { v.Index(v.Cap()) }, ""},
		{"Set -1", 3, func(v *MemVec[point]) { v.Set(-1, pt(0)) }, ""},
		{"Set Len", 3, func(v *MemVec[point]) { v.Set(3, pt(0)) }, ""},
		{"Insert -1", 3, func(v *MemVec[point]) { v.Insert(-1, pt(0)) }, "insert %s: index -1 out of range [0:3]"},
		{"Insert Len+1", 3, func(v *MemVec[point]) { v.Insert(4, pt(0)) }, "insert %s: index 4 out of range [0:3]"},
		{"Remove -1", 3, func(v *MemVec[point]) { v.Remove(-1) }, ""},
		{"Remove Len", 3, func(v *MemVec[point]) { v.Remove(3) }, ""},
		{"Remove on empty", 0, func(v *MemVec[point]) { v.Remove(0) }, ""},
		{"SwapRemove Len", 3, func(v *MemVec[point]) { v.SwapRemove(3) }, ""},
		{"SwapRemove on empty", 0, func(v *MemVec[point]) { v.SwapRemove(0) }, ""},
		{"Truncate -1", 3, func(v *MemVec[point]) { v.Truncate(-1) }, "truncate %s: length -1 out of range [0:3]"},
		{"Truncate Len+1", 3, func(v *MemVec[point]) { v.Truncate(4) }, "truncate %s: length 4 out of range [0:3]"},
		{"Grow -1", 3, func(v *MemVec[point]) { v.Grow(-1) }, "grow %s: negative count -1"},
	}
	for _, be := range backends {
		for _, tt := range tests {
			t.Run(be.name+"/"+tt.name, func(t *testing.T) {
				v := filled(t, be.open, tt.n)
				if tt.msg == "" {
					r := recovered(func() { tt.op(v) })
					require.Implements(t, (*runtime.Error)(nil), r, "the runtime's panic, as for a slice")
					require.Contains(t, r.(error).Error(), "index out of range")
				} else {
					require.PanicsWithValue(t, "memvec: "+fmt.Sprintf(tt.msg, regionName(v)), func() { tt.op(v) })
				}
				require.Equal(t, pts(seq(tt.n)...), v.Slice(), "a panicking call must leave the vector unchanged")
			})
		}
	}
	t.Run("Make negative", func(t *testing.T) {
		require.PanicsWithValue(t, "memvec: make anonymous memory: negative capacity -1", func() { Make[point](-1) })
	})
}

// recovered calls f and returns what it panicked with, or nil.
func recovered(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

// regionName returns what messages call v's region: a file's path, or
// "anonymous memory".
func regionName(v *MemVec[point]) string {
	if f, ok := v.mem.(*File); ok {
		return f.Name()
	}
	return "anonymous memory"
}

// seq returns 0, 1, ..., n-1.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// TestReadOnly specifies a vector opened with ReadOnly: it reads what was
// written, its mutators with an error result return ErrReadOnly, the others
// panic saying the vector is read-only, and the file is never changed.
func TestReadOnly(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(0, 1, 2)...))
	require.NoError(t, w.Close())
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	v := openVec[point](t, path, ReadOnly())
	require.Equal(t, pts(0, 1, 2), v.Slice())
	require.GreaterOrEqual(t, v.Cap(), 3)

	for name, op := range map[string]func() error{
		"Push":           func() error { return v.Push(pt(9)) },
		"Append":         func() error { return v.Append(pt(9)) },
		"Insert":         func() error { return v.Insert(0, pt(9)) },
		"Grow":           func() error { return v.Grow(10) },
		"Clip":           func() error { return v.Clip() },
		"Append nothing": func() error { return v.Append() },
	} {
		require.ErrorIs(t, op(), ErrReadOnly, name)
	}
	for _, m := range []struct {
		op   string // what the panic's message names
		call func()
	}{
		{"pop", func() { v.Pop() }},
		{"remove", func() { v.Remove(0) }},
		{"remove", func() { v.SwapRemove(0) }},
		{"set", func() { v.Set(0, pt(9)) }},
		{"truncate", func() { v.Truncate(0) }},
		{"clear", func() { v.Clear() }},
	} {
		require.PanicsWithValue(t, "memvec: "+m.op+" "+path+": read-only", m.call, m.op)
	}
	require.NoError(t, v.Sync())
	require.Equal(t, pts(0, 1, 2), v.Slice())
	require.NoError(t, v.Close())
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "a read-only vector must not change its file")
}

// TestReadOnlyMissingFile: ReadOnly never creates a file.
func TestReadOnlyMissingFile(t *testing.T) {
	path := vecPath(t)
	_, err := Open[point](path, ReadOnly())
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.NoFileExists(t, path)
}

// TestClosed specifies a vector after Close.
func TestClosed(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			v := filled(t, be.open, 3)
			require.NoError(t, v.Close())
			require.NoError(t, v.Close(), "a second Close returns nil")
			require.Zero(t, v.Len())
			require.Zero(t, v.Cap())
			name := regionName(v)
			for op, err := range map[string]error{
				"Push": v.Push(pt(1)), "Append": v.Append(pt(1)), "Insert": v.Insert(0, pt(1)),
				"Grow": v.Grow(1), "Clip": v.Clip(),
				"Append nothing": v.Append(), "Insert nothing": v.Insert(0),
			} {
				require.ErrorIs(t, err, ErrClosed, op)
				require.EqualError(t, err, "memvec: write "+name+": closed", op)
			}
			require.EqualError(t, v.Sync(), "memvec: sync "+name+": closed")
			_, err := v.Refresh()
			require.EqualError(t, err, "memvec: refresh "+name+": closed")
			_, err = v.Wait(context.Background(), 0)
			require.EqualError(t, err, "memvec: wait "+name+": closed")
			require.NotPanics(t, v.Clear)
			require.NotPanics(t, func() { v.Truncate(0) })
			require.Panics(t, func() { v.Truncate(1) })
			_, ok := v.Pop()
			require.False(t, ok)
			require.Empty(t, v.Slice())
			require.Empty(t, slices.Collect(v.Values()))
			require.Panics(t, func() { v.Index(0) })
			// The mutators with an index and no error say why they panic.
			require.PanicsWithValue(t, "memvec: set "+name+": closed", func() { v.Set(0, pt(1)) })
			require.PanicsWithValue(t, "memvec: remove "+name+": closed", func() { v.Remove(0) })
			require.PanicsWithValue(t, "memvec: remove "+name+": closed", func() { v.SwapRemove(0) })
		})
	}
}

// TestIterators specifies All, Values and Backward, including stopping
// early.
func TestIterators(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			v := filled(t, be.open, 5)
			var idx []int
			var got []point
			for i, x := range v.All() {
				idx, got = append(idx, i), append(got, x)
			}
			require.Equal(t, seq(5), idx)
			require.Equal(t, pts(seq(5)...), got)
			require.Equal(t, pts(seq(5)...), slices.Collect(v.Values()))

			idx, got = nil, nil
			for i, x := range v.Backward() {
				idx, got = append(idx, i), append(got, x)
			}
			require.Equal(t, []int{4, 3, 2, 1, 0}, idx)
			require.Equal(t, pts(4, 3, 2, 1, 0), got)

			n := 0
			for range v.All() {
				if n++; n == 2 {
					break
				}
			}
			require.Equal(t, 2, n)
			idx = nil
			for i := range v.Backward() { // the elements there when it starts
				v.Truncate(v.Len() - 1)
				idx = append(idx, i)
			}
			require.Equal(t, []int{4, 3, 2, 1, 0}, idx)
			require.Zero(t, v.Len())

			require.NoError(t, v.Append(pts(0, 1)...))
			n = 0
			for range v.All() {
				require.NoError(t, v.Push(pt(9))) // pushed elements are not visited
				n++
			}
			require.Equal(t, 2, n)
			require.Equal(t, 4, v.Len())
		})
	}
}

// TestZeroSizeElements: struct{} works on both backends and persists its
// length.
func TestZeroSizeElements(t *testing.T) {
	v, err := Make[struct{}](0)
	require.NoError(t, err)
	defer v.Close()
	for range 1000 {
		require.NoError(t, v.Push(struct{}{}))
	}
	require.Equal(t, 1000, v.Len())
	_, ok := v.Pop()
	require.True(t, ok)

	path := vecPath(t)
	f := openVec[struct{}](t, path)
	require.NoError(t, f.Append(make([]struct{}, 77)...))
	require.NoError(t, f.Close())
	g := openVec[[0]byte](t, path) // the same (empty) layout under another name
	require.Equal(t, 77, g.Len())
}

// TestGrowthPolicy: Grow gives room without further resizes, capacity
// doubles while small, and Clip brings it down to Len.
func TestGrowthPolicy(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			v := filled(t, be.open, 10)
			require.NoError(t, v.Grow(100000))
			c := v.Cap()
			require.GreaterOrEqual(t, c, 100010)
			for i := 10; i < c; i++ {
				require.NoError(t, v.Push(pt(i)))
			}
			require.Equal(t, c, v.Cap(), "Grow(n) must make the next n pushes resize nothing")
			require.NoError(t, v.Push(pt(c)))
			require.GreaterOrEqual(t, v.Cap(), 2*c-1, "past the capacity, a small region doubles")
			require.NoError(t, v.Clip())
			require.Equal(t, v.Len(), v.Cap())
			require.Equal(t, pt(c), v.Index(c))
			require.Equal(t, pt(5), v.Index(5))
		})
	}
}

// TestCloseCutsCapacity: Close cuts the file to its elements in whole
// pages, Clip to its elements exactly, and the file's size follows.
func TestCloseCutsCapacity(t *testing.T) {
	path := vecPath(t)
	v := openVec[point](t, path)
	require.NoError(t, v.Grow(1000))
	require.NoError(t, v.Push(pt(1)))
	require.Greater(t, v.Cap(), format.CapacityOf(pageSize, ptOff, 24))
	require.NoError(t, v.Close())
	v = openVec[point](t, path)
	require.Equal(t, format.CapacityOf(pageSize, ptOff, 24), v.Cap())
	require.NoError(t, v.Clip())
	require.NoError(t, v.Close())
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.EqualValues(t, ptOff+24, fi.Size())
	v = openVec[point](t, path)
	require.Equal(t, pts(1), v.Slice())
}

// TestImpossibleGrowthLeavesFileUnchanged: a Grow that no disk holds (a
// pebibyte) fails, naming the file, and leaves the vector's elements and the
// file's size as they were; the vector goes on working.
func TestImpossibleGrowthLeavesFileUnchanged(t *testing.T) {
	if strconv.IntSize < 64 {
		t.Skip("a pebibyte does not fit in an int")
	}
	path := vecPath(t)
	v := openVec[point](t, path)
	require.NoError(t, v.Append(pts(0, 1, 2)...))
	before, err := os.Stat(path)
	require.NoError(t, err)

	pebibyte := uint64(1 << 50) // a variable: the constant overflows an int on 32-bit platforms
	err = v.Grow(int(pebibyte / 24))
	require.Error(t, err)
	t.Log(err)
	require.ErrorContains(t, err, path)
	require.Equal(t, pts(0, 1, 2), v.Slice())
	after, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, before.Size(), after.Size(), "a failed growth leaves the file's size")
	require.NoError(t, v.Push(pt(3)))
	require.Equal(t, pts(0, 1, 2, 3), v.Slice())
}

// TestGrowthSteps specifies the growth policy documented on Grow: double
// while under 1 GiB, then 1 GiB at a time, in whole pages, or what is asked
// for if that is more.
func TestGrowthSteps(t *testing.T) {
	gib := 1 << 30
	tests := []struct{ have, want, next int }{
		{pageSize, pageSize + 1, 2 * pageSize},
		{64 << 10, 64<<10 + 24, 128 << 10},
		{100 << 20, 100<<20 + 1, 200 << 20},
		{pageSize, 10 * pageSize, 10 * pageSize},
		{pageSize, 10*pageSize + 1, 11 * pageSize},
	}
	if strconv.IntSize == 64 { // regions past 1 GiB
		tests = append(tests, []struct{ have, want, next int }{
			{gib / 2, gib/2 + 1, gib},
			{gib, gib + 1, 2 * gib},
			{3 * gib, 3*gib + 1, 4 * gib},
		}...)
	}
	for _, tt := range tests {
		require.Equal(t, tt.next, nextRegionSize(tt.have, tt.want), "have %d, want %d", tt.have, tt.want)
	}
}

// TestModeSetsPermissionsOfNewFile: Mode applies to the file OpenFile
// creates, and the default is 0644 (less the umask).
func TestModeSetsPermissionsOfNewFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows files have no permission bits: os maps a mode to the read-only attribute only")
	}
	private := vecPath(t)
	openVec[point](t, private, Mode(0o600))
	fi, err := os.Stat(private)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())

	plain := vecPath(t)
	openVec[point](t, plain)
	fi, err = os.Stat(plain)
	require.NoError(t, err)
	require.Zero(t, fi.Mode().Perm()&^0o644, "the default is at most 0644")
	require.NotZero(t, fi.Mode().Perm()&0o600)
}

// TestDefaultReserveFitsThePlatform: DefaultReserve is 64 GiB where an int
// has 64 bits and 256 MiB where it has 32, as its doc says: the build
// constraints of reserve64.go and reserve32.go must split the platforms by
// the size of int.
func TestDefaultReserveFitsThePlatform(t *testing.T) {
	want := int64(64 << 30)
	if strconv.IntSize == 32 {
		want = 256 << 20
	}
	require.Equal(t, want, int64(DefaultReserve))
}

// TestResizeErrorsSayWhereOnce: an error from growing the memory names the
// operation and the region once, whichever memory made it: the shipped
// memories' errors are in the package's form already and are not wrapped
// again.
func TestResizeErrorsSayWhereOnce(t *testing.T) {
	if strconv.IntSize == 32 {
		t.Skip("a 32-bit process might get the address space asked for")
	}
	v, err := Make[byte](0)
	require.NoError(t, err)
	defer v.Close()
	err = v.Grow(math.MaxInt / 4) // more address space than any process has
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "memvec: resize anonymous memory: from 4096 to "), err)
	require.Equal(t, 1, strings.Count(err.Error(), "memvec:"), err)

	path := vecPath(t)
	f, err := OpenFile(path)
	require.NoError(t, err)
	defer f.Close()
	require.EqualError(t, f.Resize(-1), "memvec: resize "+path+": negative size -1")
}
