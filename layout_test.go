package memvec

import (
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// layoutFunc is layoutFor instantiated for one type, so that tables can list
// types: layoutFunc(layoutFor[int64]).
type layoutFunc func() (*layout, error)

func TestLayoutAcceptsPlainData(t *testing.T) {
	needs64BitAlignment(t)
	type (
		celsius float64
		inner   struct {
			A int16
			B [2]bool
		}
		nested struct {
			I  inner
			Is [3]inner
			C  complex128
			M  [2][3]float32
		}
		withEmpty struct {
			A int32
			E struct{}
			Z [0]int64
			B uint8
		}
	)
	tests := []struct {
		name   string
		layout layoutFunc
		size   uintptr
	}{
		{"bool", layoutFor[bool], 1},
		{"int", layoutFor[int], unsafe.Sizeof(int(0))},
		{"int8", layoutFor[int8], 1},
		{"int16", layoutFor[int16], 2},
		{"int32", layoutFor[int32], 4},
		{"int64", layoutFor[int64], 8},
		{"uint", layoutFor[uint], unsafe.Sizeof(uint(0))},
		{"uint8", layoutFor[uint8], 1},
		{"uint16", layoutFor[uint16], 2},
		{"uint32", layoutFor[uint32], 4},
		{"uint64", layoutFor[uint64], 8},
		{"float32", layoutFor[float32], 4},
		{"float64", layoutFor[float64], 8},
		{"complex64", layoutFor[complex64], 8},
		{"complex128", layoutFor[complex128], 16},
		{"named float64", layoutFor[celsius], 8},
		{"array", layoutFor[[4]uint16], 8},
		{"array of arrays", layoutFor[[2][3]int8], 6},
		{"struct", layoutFor[point], 24},
		{"nested structs and arrays", layoutFor[nested], unsafe.Sizeof(nested{})},
		{"anonymous struct", layoutFor[struct {
			X int8
			Y float64
		}], 16},
		{"struct with zero-size fields", layoutFor[withEmpty], unsafe.Sizeof(withEmpty{})},
		{"empty struct", layoutFor[struct{}], 0},
		{"zero-length array", layoutFor[[0]int], 0},
		{"array of empty structs", layoutFor[[5]struct{}], 0},
		{"array of zero-length arrays", layoutFor[[5][0]float64], 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := tt.layout()
			require.NoError(t, err)
			require.NotNil(t, l)
			assert.Equal(t, tt.size, l.size)
			assert.NotZero(t, l.align)
			assert.Zero(t, l.size%l.align, "size is a multiple of the alignment")
		})
	}
}

func TestLayoutRefusesNonPlainData(t *testing.T) {
	type (
		Rec struct {
			Tags [2]struct{ Name string }
		}
		withPointer struct {
			A int64
			B *int
		}
		ptrArray [4]*int
		deep     struct {
			A struct {
				B [2][3]struct{ C map[string]int }
			}
		}
		emptyFunc struct {
			N int
			F [0]func()
		}
		laterField struct {
			Ok    [8]float64
			Inner struct {
				Ok  bool
				Bad chan int
			}
		}
	)
	tests := []struct {
		name   string
		layout layoutFunc
		msg    string // the error text contains it
	}{
		{"pointer", layoutFor[*int], "element type *int is a pointer"},
		{"unsafe.Pointer", layoutFor[unsafe.Pointer], "is an unsafe.Pointer"},
		{"uintptr", layoutFor[uintptr], "element type uintptr is a uintptr"},
		{"string", layoutFor[string], "element type string is a string"},
		{"slice", layoutFor[[]int], "element type []int is a slice"},
		{"map", layoutFor[map[int]int], "element type map[int]int is a map"},
		{"chan", layoutFor[chan int], "element type chan int is a channel"},
		{"func", layoutFor[func()], "element type func() is a func"},
		{"empty interface", layoutFor[any], "is an interface"},
		{"error", layoutFor[error], "element type error is an interface"},
		{"string in array of structs", layoutFor[Rec], "Rec.Tags[0].Name is a string"},
		{"pointer field", layoutFor[withPointer], "withPointer.B is a pointer"},
		{"array of pointers", layoutFor[ptrArray], "ptrArray[0] is a pointer"},
		{"zero-length array of pointers", layoutFor[[0]*int], "is a pointer"},
		{"deeply nested map", layoutFor[deep], "deep.A.B[0][0].C is a map"},
		{"zero-length array of funcs", layoutFor[emptyFunc], "emptyFunc.F[0] is a func"},
		{"after plain fields", layoutFor[laterField], "laterField.Inner.Bad is a channel"},
		{"uintptr in array", layoutFor[[3]uintptr], "[0] is a uintptr"},
		{"interface field", layoutFor[struct{ V any }], ".V is an interface"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := tt.layout()
			assert.Nil(t, l)
			require.ErrorIs(t, err, ErrUnsupportedType)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

// offsetAt4 and offsetAt2 have the same fields, size and alignment; only
// the offset of B differs (the zero-size [0]int32 pushes it to 4 in one and
// only raises the alignment in the other).
type (
	offsetAt4 struct {
		A int8
		_ [0]int32
		B int16
	}
	offsetAt2 struct {
		A int8
		B int16
		_ [0]int32
	}
)

// TestLayoutEquivalence: which types are the same layout (the same
// fingerprint and the same paths: samePaths), which differ in paths alone
// (the same fingerprint: what Relabel changes), and which differ in their
// bytes.
func TestLayoutEquivalence(t *testing.T) {
	needs64BitAlignment(t)
	type (
		vec3    struct{ X, Y, Z float64 }
		rgb     struct{ R, G, B float64 }
		celsius float64
		twoI32  struct{ A, B int32 }
		// aligned8 has twoI32's fields at twoI32's offsets, but aligned to 8.
		aligned8 struct {
			_    [0]int64
			A, B int32
		}
		smallFirst struct {
			A int8
			B int64
		}
		bigFirst struct {
			A int64
			B int8
		}
		halves    struct{ Lo, Hi [512]float64 }
		withEmpty struct {
			X    float64
			None struct{}
			Y    float64
			Zero [0]int64 // not last: Go pads a struct after a last field of no size
			Z    float64
		}
		text struct {
			X   float64
			Msg [16]byte `memvec:"string"`
		}
		bytes16 struct {
			X   float64
			Msg [16]byte
		}
		namedBytes [16]uint8
		namedText  struct {
			X   float64
			Msg namedBytes `memvec:"string"`
		}
		swapped struct{ Y, X, Z float64 }
	)
	require.Equal(t, unsafe.Sizeof(offsetAt4{}), unsafe.Sizeof(offsetAt2{}), "premise: same size")
	require.Equal(t, unsafe.Alignof(offsetAt4{}), unsafe.Alignof(offsetAt2{}), "premise: same alignment")
	require.NotEqual(t, unsafe.Offsetof(offsetAt4{}.B), unsafe.Offsetof(offsetAt2{}.B), "premise: different offsets")
	require.Equal(t, unsafe.Sizeof(twoI32{}), unsafe.Sizeof(aligned8{}), "premise: same size")

	const (
		same     = iota // the same layout: a file of one opens as the other
		relabel         // the same bytes under other paths: Relabel
		otherway        // other bytes: Migrate
	)
	tests := []struct {
		name string
		a, b layoutFunc
		want int
	}{
		{"type names never matter", layoutFor[point], layoutFor[vec3], same},
		{"a named float64 is a float64", layoutFor[celsius], layoutFor[float64], same},
		{"int is int64 exactly on 64-bit", layoutFor[int], layoutFor[int64], map[bool]int{true: same, false: otherway}[strconv.IntSize == 64]},
		{"int is int32 exactly on 32-bit", layoutFor[int], layoutFor[int32], map[bool]int{true: same, false: otherway}[strconv.IntSize == 32]},
		{"uint is uint64 exactly on 64-bit", layoutFor[uint], layoutFor[uint64], map[bool]int{true: same, false: otherway}[strconv.IntSize == 64]},
		{"fields of no size hold no path", layoutFor[point], layoutFor[withEmpty], same},
		{"empty struct is an array of empty structs", layoutFor[struct{}], layoutFor[[3]struct{}], same},
		{"the type of a text array is not compared", layoutFor[text], layoutFor[namedText], same},

		{"field names matter", layoutFor[point], layoutFor[rgb], relabel},
		{"field order matters", layoutFor[point], layoutFor[swapped], relabel},
		{"struct of three float64 is not [3]float64", layoutFor[point], layoutFor[[3]float64], relabel},
		{"struct of two int32 is not [2]int32", layoutFor[twoI32], layoutFor[[2]int32], relabel},
		{"nested arrays are not flat ones", layoutFor[[2][3]float64], layoutFor[[6]float64], relabel},
		{"an array of structs is not one of floats", layoutFor[[4]point], layoutFor[[12]float64], relabel},
		{"a struct of arrays is not one array", layoutFor[halves], layoutFor[[1024]float64], relabel},
		{"big nested arrays are not flat ones", layoutFor[[1 << 10][1 << 10]float64], layoutFor[[1 << 20]float64], relabel},
		{"text is not bytes", layoutFor[text], layoutFor[bytes16], relabel},

		{"bool is not uint8", layoutFor[bool], layoutFor[uint8], otherway},
		{"bool is not int8", layoutFor[bool], layoutFor[int8], otherway},
		{"float32 is not int32", layoutFor[float32], layoutFor[int32], otherway},
		{"float64 is not uint64", layoutFor[float64], layoutFor[uint64], otherway},
		{"int32 is not uint32", layoutFor[int32], layoutFor[uint32], otherway},
		{"complex64 is not [2]float32", layoutFor[complex64], layoutFor[[2]float32], otherway},
		{"int64 is not int32", layoutFor[int64], layoutFor[int32], otherway},
		{"[3]float64 is not [4]float64", layoutFor[[3]float64], layoutFor[[4]float64], otherway},
		{"[3]float64 is not [3]int64", layoutFor[[3]float64], layoutFor[[3]int64], otherway},
		{"kinds in another order", layoutFor[smallFirst], layoutFor[bigFirst], otherway},
		{"offsets matter", layoutFor[offsetAt4], layoutFor[offsetAt2], otherway},
		{"alignment matters", layoutFor[twoI32], layoutFor[aligned8], otherway},
		{"[0]int is not struct{}", layoutFor[[0]int], layoutFor[struct{}], otherway},
		{"a point is not two of them", layoutFor[point], layoutFor[[2]point], otherway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.a()
			require.NoError(t, err)
			b, err := tt.b()
			require.NoError(t, err)
			physical := a.size == b.size && a.align == b.align && a.fingerprint == b.fingerprint
			paths := samePaths(a.exported.Type, b.exported.Type)
			require.Equal(t, paths, samePaths(b.exported.Type, a.exported.Type), "samePaths is symmetric")
			switch tt.want {
			case same:
				assert.True(t, physical && paths, "layouts differ:\n%s\n%s", a.exported, b.exported)
			case relabel:
				assert.True(t, physical, "the bytes differ:\n%s\n%s", a.desc, b.desc)
				assert.False(t, paths, "the paths agree:\n%s\n%s", a.exported, b.exported)
				assert.NotEmpty(t, firstDifference(a.exported, b.exported), "no first difference named")
			case otherway:
				assert.False(t, physical, "the bytes agree:\n%s\n%s", a.desc, b.desc)
			}
		})
	}
}

func TestLayoutOfHugeArrayIsFastAndShort(t *testing.T) {
	type big [1 << 20]float64
	start := time.Now()
	l, err := computeLayout(reflect.TypeFor[big]()) // not the cache: do the work
	elapsed := time.Since(start)
	require.NoError(t, err)
	assert.Equal(t, uintptr(8<<20), l.size)
	assert.Contains(t, l.desc, "{f64[1048576]@0}")
	assert.Less(t, elapsed, time.Second, "an array of primitives is one run, not a walk per element")

	// Same for a huge array of arrays: the outer walk is 1024 steps.
	l2, err := computeLayout(reflect.TypeFor[[1 << 10][1 << 10]float64]())
	require.NoError(t, err)
	assert.Equal(t, l.desc, l2.desc)
}

func TestLayoutDescriptionIsBounded(t *testing.T) {
	needs64BitAlignment(t)
	type pair struct {
		A int8
		B int64
	}
	l, err := layoutFor[[1000]pair]()
	require.NoError(t, err)
	assert.Contains(t, l.desc, "i8@0 i64@8 i8@16")
	assert.True(t, strings.HasSuffix(l.desc, " ...}"), "desc: %s", l.desc)
	assert.Less(t, len(l.desc), 300, "desc: %s", l.desc)
}

func TestLayoutIsCached(t *testing.T) {
	type onlyHere struct {
		A int32
		B [3]float32
	}
	l1, err := layoutFor[onlyHere]()
	require.NoError(t, err)
	l2, err := layoutFor[onlyHere]()
	require.NoError(t, err)
	assert.Same(t, l1, l2, "the second call returns the cached layout")

	type refusedHere struct{ S []byte }
	_, err1 := layoutFor[refusedHere]()
	_, err2 := layoutFor[refusedHere]()
	require.ErrorIs(t, err1, ErrUnsupportedType)
	assert.Same(t, err1, err2, "the refusal is cached too")
}

func TestLayoutCheckIsSafeForConcurrentUse(t *testing.T) {
	type concurrent struct{ A, B uint16 }
	done := make(chan *layout)
	for range 8 {
		go func() {
			l, _ := layoutFor[concurrent]()
			done <- l
		}()
	}
	var first *layout
	for range 8 {
		l := <-done
		require.NotNil(t, l)
		if first == nil {
			first = l
		}
		assert.Equal(t, first.fingerprint, l.fingerprint)
	}
}

// Public level: the constructors refuse unsupported types before touching
// anything.

func TestConstructorsRefuseUnsupportedTypes(t *testing.T) {
	type Rec struct {
		Tags [2]struct{ Name string }
	}

	_, err := Make[Rec](10)
	require.ErrorIs(t, err, ErrUnsupportedType)
	assert.EqualError(t, err, "memvec: make anonymous memory: Rec.Tags[0].Name is a string: unsupported element type")

	path := vecPath(t)
	_, err = Open[*int](path)
	require.ErrorIs(t, err, ErrUnsupportedType)
	assert.EqualError(t, err, "memvec: open "+path+": element type *int is a pointer: unsupported element type")
	_, statErr := os.Stat(path)
	assert.ErrorIs(t, statErr, os.ErrNotExist, "Open refuses the type before creating the file")

	mem := newHeapRegion(0)
	_, err = New[[]float64](mem)
	require.ErrorIs(t, err, ErrUnsupportedType)
	assert.EqualError(t, err, "memvec: open *memvec.heapRegion: element type []float64 is a slice: unsupported element type")
	assert.Zero(t, mem.resizes, "New refuses the type before touching the memory")
}

func TestZeroSizeElementsWork(t *testing.T) {
	path := vecPath(t)
	v := openVec[struct{}](t, path)
	for range 5 {
		require.NoError(t, v.Push(struct{}{}))
	}
	assert.Equal(t, 5, v.Len())
	x, ok := v.Pop()
	assert.True(t, ok)
	assert.Equal(t, struct{}{}, x)
	require.NoError(t, v.Close())

	v = openVec[struct{}](t, path)
	assert.Equal(t, 4, v.Len(), "the length of a zero-size vector persists")
	require.NoError(t, v.Close())

	_, err := Open[[0]int](path)
	require.ErrorIs(t, err, ErrTypeMismatch, "[0]int is aligned to %d, struct{} to 1", unsafe.Alignof([0]int{}))

	m, err := Make[[0]int](0)
	require.NoError(t, err)
	defer m.Close()
	require.NoError(t, m.Append([0]int{}, [0]int{}))
	assert.Equal(t, 2, m.Len())
}

// TestReopenWithLayoutIdenticalType: a file opens as any type of the same
// layout: the same field paths under another Go type name, int as int64.
func TestReopenWithLayoutIdenticalType(t *testing.T) {
	type vec3 struct{ X, Y, Z float64 }
	path := vecPath(t)
	v := openVec[point](t, path)
	want := []point{{1, 2, 3}, {4, 5, 6}, {-7, 8.5, 1e300}}
	require.NoError(t, v.Append(want...))
	require.NoError(t, v.Close())

	w := openVec[vec3](t, path)
	require.Equal(t, len(want), w.Len())
	for i, p := range want {
		assert.Equal(t, vec3(p), w.Index(i))
	}
	require.NoError(t, w.Push(vec3{10, 11, 12}))
	require.NoError(t, w.Close())

	p := openVec[point](t, path)
	require.Equal(t, len(want)+1, p.Len())
	assert.Equal(t, point{10, 11, 12}, p.Index(len(want)))
	require.NoError(t, p.Close())

	if strconv.IntSize == 64 {
		ipath := vecPath(t)
		iv := openVec[int](t, ipath)
		big := int64(1 << 62)
		require.NoError(t, iv.Append(-1, 0, int(big))) // int is 64 bits here
		require.NoError(t, iv.Close())
		i64 := openVec[int64](t, ipath)
		assert.Equal(t, []int64{-1, 0, 1 << 62}, i64.Slice())
	}
}

func TestReopenWithOtherLayoutIsTypeMismatch(t *testing.T) {
	needs64BitAlignment(t)
	path := vecPath(t)
	v := openVec[point](t, path)
	require.NoError(t, v.Append(point{1, 2, 3}, point{4, 5, 6}))
	require.NoError(t, v.Close())
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	tests := []struct {
		name string
		open func() error
		msg  []string // the message contains all of these
	}{
		{"smaller struct", func() error { _, err := Open[struct{ X, Y float64 }](path); return err },
			[]string{"24 bytes", "16 bytes"}},
		{"same size, other kinds", func() error { _, err := Open[[3]int64](path); return err },
			[]string{"24 bytes", "first difference: the region has X f64@0, the type [0..2] i64@0..16", "the region holds memvec.point (24 bytes, align 8): X f64@0, Y f64@8, Z f64@16", "the type is [3]i64 (24 bytes, align 8): [0..2] i64@0..16"}},
		{"same bytes, an array", func() error { _, err := Open[[3]float64](path); return err },
			[]string{"first difference: the region has X f64@0, the type [0..2] f64@0..16", "the type is [3]f64 (24 bytes, align 8)", "Relabel"}},
		{"same size, other alignment", func() error { _, err := Open[[24]byte](path); return err },
			[]string{"24 bytes, align 8", "24 bytes, align 1"}},
		{"bool", func() error { _, err := Open[bool](path); return err },
			[]string{"24 bytes", "1 bytes"}},
		{"read-only", func() error { _, err := Open[[3]float32](path, ReadOnly()); return err },
			[]string{"24 bytes", "12 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.open()
			require.ErrorIs(t, err, ErrTypeMismatch)
			assert.False(t, errors.Is(err, ErrCorrupt), "a mismatch is not corruption")
			for _, m := range tt.msg {
				assert.Contains(t, err.Error(), m)
			}
			assert.Contains(t, err.Error(), path, "the message names the file")
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, before, after, "a failed open changes nothing")
		})
	}

	// And the file still opens as what it is.
	v = openVec[point](t, path)
	assert.Equal(t, []point{{1, 2, 3}, {4, 5, 6}}, v.Slice())
}

// TestExplicitPaddingIsAField: a blank field written to pad a struct by
// hand (for C or numpy) is part of the layout, while the padding Go inserts
// is not, so the two structs below, of the same size and offsets, are
// different layouts: a file written for one is refused for the other.
func TestExplicitPaddingIsAField(t *testing.T) {
	needs64BitAlignment(t)
	type (
		implicit struct {
			A int32
			B int64
		}
		explicit struct {
			A int32
			_ [4]byte
			B int64
		}
	)
	require.Equal(t, unsafe.Sizeof(implicit{}), unsafe.Sizeof(explicit{}), "premise: same size")
	require.Equal(t, unsafe.Offsetof(implicit{}.B), unsafe.Offsetof(explicit{}.B), "premise: same offsets")

	li, err := layoutFor[implicit]()
	require.NoError(t, err)
	le, err := layoutFor[explicit]()
	require.NoError(t, err)
	assert.Equal(t, "16 bytes, align 8, fingerprint 0x72579bd7560e7711: {i32@0 i64@8}", li.desc)
	assert.Equal(t, "16 bytes, align 8, fingerprint 0x18831ac6ef8ef8ad: {i32@0 u8[4]@4 i64@8}", le.desc)

	for name, open := range map[string]func(path string) error{
		"explicit as implicit": func(path string) error {
			w := openVec[explicit](t, path)
			require.NoError(t, w.Push(explicit{A: 1, B: 2}))
			require.NoError(t, w.Close())
			_, err := Open[implicit](path)
			return err
		},
		"implicit as explicit": func(path string) error {
			w := openVec[implicit](t, path)
			require.NoError(t, w.Push(implicit{A: 1, B: 2}))
			require.NoError(t, w.Close())
			_, err := Open[explicit](path)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, open(vecPath(t)), ErrTypeMismatch)
		})
	}
}

// TestFingerprintsDocumentedInFORMAT pins the fingerprints FORMAT.md
// publishes, so that other tools reading files can rely on them.
func TestFingerprintsDocumentedInFORMAT(t *testing.T) {
	needs64BitAlignment(t)
	tests := []struct {
		typ  reflect.Type
		want uint64
	}{
		{reflect.TypeFor[struct{ X, Y, Z float64 }](), 0x5fbb91aec7ceba47},
		{reflect.TypeFor[float64](), 0x62419bdf4f05ba5d},
		{reflect.TypeFor[int64](), 0x6d3adf8e7411730e},
		{reflect.TypeFor[[2][3]float32](), 0x99e1ee5bd4dd4ebb},
		{reflect.TypeFor[struct {
			Time  int64
			Level uint8
			Msg   [55]byte
		}](), 0xc501ba6d7a0c9e65},
		{reflect.TypeFor[struct {
			A bool
			B int32
			C [2]float32
			D uint16
		}](), 0x0850c4756c0d50a2},
		{reflect.TypeFor[struct{}](), 0x38a24c81de2e1682},
		{reflect.TypeFor[struct {
			A int32
			B int64
		}](), 0x72579bd7560e7711},
		{reflect.TypeFor[struct {
			A int32
			_ [4]byte
			B int64
		}](), 0x18831ac6ef8ef8ad},
	}
	for _, tt := range tests {
		l, err := computeLayout(tt.typ)
		require.NoError(t, err)
		require.Equal(t, tt.want, l.fingerprint, "%v: %s", tt.typ, l.desc)
	}
}

// needs64BitAlignment skips a test whose expected layouts are those of
// platforms where 64-bit integers and floats align to 8 bytes (amd64, arm64
// and the other 64-bit ones); on 386 and arm they align to 4.
func needs64BitAlignment(t *testing.T) {
	t.Helper()
	if unsafe.Alignof(int64(0)) != 8 {
		t.Skip("expects 8-byte alignment of 64-bit fields; this platform aligns them to", unsafe.Alignof(int64(0)))
	}
}
