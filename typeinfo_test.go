package memvec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storedTypes are types whose stored layout the tests check: nesting,
// arrays of structs, padding, blank fields, zero sizes, named types.
var storedTypes = []reflect.Type{
	reflect.TypeFor[bool](), reflect.TypeFor[int](), reflect.TypeFor[uint8](),
	reflect.TypeFor[float32](), reflect.TypeFor[complex64](), reflect.TypeFor[complex128](),
	reflect.TypeFor[point](), reflect.TypeFor[[3]float64](), reflect.TypeFor[[2][3]int16](),
	reflect.TypeFor[[4]point](), reflect.TypeFor[struct{}](), reflect.TypeFor[[0]int64](),
	reflect.TypeFor[[5]struct{}](), reflect.TypeFor[nestedRec](), reflect.TypeFor[paddedRec](),
	reflect.TypeFor[celsius](), reflect.TypeFor[textRec](), reflect.TypeFor[[1 << 20]float64](),
	reflect.TypeFor[struct {
		A int8
		E struct{}
		Z [0]int64
		B uint8
	}](),
}

type (
	celsius float64
	inner   struct {
		A int16
		B [2]bool
	}
	nestedRec struct {
		Pos  struct{ X, Y float32 }
		I    inner
		Is   [3]inner
		C    complex128
		M    [2][3]float32
		Temp celsius
		Tags [4]uint8
	}
	textRec struct {
		ID   uint16
		Name [6]byte `memvec:"string"`
		Tags [2]struct {
			T [3]uint8 `memvec:"string"`
		}
		Empty [0]byte `memvec:"string"`
	}
	paddedRec struct {
		A int32
		_ [4]byte
		B int64
		_ int16
		C bool
	}
)

// TestStoredLayoutRoundTrips: for every type, the stored layout parses
// back to the Type tree it was made from, gives the fingerprint of the Go
// type, and encodes to the same bytes.
func TestStoredLayoutRoundTrips(t *testing.T) {
	for _, typ := range storedTypes {
		t.Run(typ.String(), func(t *testing.T) {
			l, err := computeLayout(typ)
			require.NoError(t, err)
			got, err := parseLayout(l.section)
			require.NoError(t, err, "%s", l.section)
			fingerprint, _ := got.runs()
			require.Equal(t, l.fingerprint, fingerprint, "the parsed tree gives the Go type's fingerprint")
			require.Equal(t, l.exported, got)
			require.Equal(t, string(l.section), string(appendLayoutJSON(nil, got)))
			require.Equal(t, int(typ.Size()), got.Size)
			require.Equal(t, typ.Align(), got.Align)
		})
	}
}

// TestStoredLayoutJSON pins the canonical JSON FORMAT.md documents.
func TestStoredLayoutJSON(t *testing.T) {
	needs64BitAlignment(t)
	type Record struct {
		Time  int64
		Level uint8
		Msg   [55]byte
	}
	tests := []struct {
		layout layoutFunc
		want   string
	}{
		{layoutFor[float64], `{"size":8,"align":8,"type":{"kind":"f64"}}`},
		{layoutFor[celsius], `{"size":8,"align":8,"type":{"kind":"f64","name":"memvec.celsius"}}`},
		{layoutFor[[2]int32], `{"size":8,"align":4,"type":{"kind":"array","size":8,"len":2,"elem":{"kind":"i32"}}}`},
		{layoutFor[Record], `{"size":64,"align":8,"type":{"kind":"struct","size":64,"name":"memvec.Record","fields":[` +
			`{"name":"Time","offset":0,"type":{"kind":"i64"}},` +
			`{"name":"Level","offset":8,"type":{"kind":"u8"}},` +
			`{"name":"Msg","offset":9,"type":{"kind":"array","size":55,"len":55,"elem":{"kind":"u8"}}}]}}`},
		{layoutFor[struct{}], `{"size":0,"align":1,"type":{"kind":"struct","size":0,"fields":[]}}`},
	}
	for _, tt := range tests {
		l, err := tt.layout()
		require.NoError(t, err)
		assert.Equal(t, tt.want, string(l.section))
	}
}

// TestPrimitivesHavePaths: every primitive of a layout, with its path, in
// declaration order.
func TestPrimitivesHavePaths(t *testing.T) {
	needs64BitAlignment(t)
	l, err := LayoutOf[paddedRec]()
	require.NoError(t, err)
	var got []string
	for p := range l.Primitives() {
		got = append(got, fmt.Sprintf("%s %s@%d", p.Path, p.Kind, p.Offset))
	}
	assert.Equal(t, []string{"A i32@0", "_[0] u8@4", "_[1] u8@5", "_[2] u8@6", "_[3] u8@7", "B i64@8", "_ i16@16", "C bool@18"}, got)

	n, err := LayoutOf[nestedRec]()
	require.NoError(t, err)
	var paths []string
	for p := range n.Primitives() {
		paths = append(paths, p.Path)
	}
	for _, want := range []string{"Pos.X", "Pos.Y", "I.A", "I.B[1]", "Is[2].B[0]", "C", "M[1][2]", "Temp", "Tags[3]"} {
		assert.Contains(t, paths, want)
	}
	f, err := LayoutOf[float64]()
	require.NoError(t, err)
	assert.Equal(t, []Primitive{{Path: "", Kind: Float64, Offset: 0}}, slices.Collect(f.Primitives()))
}

// TestLayoutOfIsACopy: changing what LayoutOf returns changes nothing the
// library uses.
func TestLayoutOfIsACopy(t *testing.T) {
	a, err := LayoutOf[point]()
	require.NoError(t, err)
	a.Type.Fields[0].Name = "changed"
	a.Type.Fields[1].Type.Kind = Int64
	b, err := LayoutOf[point]()
	require.NoError(t, err)
	assert.Equal(t, "X", b.Type.Fields[0].Name)
	assert.Equal(t, Float64, b.Type.Fields[1].Type.Kind)
}

// textRecord has a text field; bytesRecord is the same without the tag.
type (
	textRecord struct {
		Time  int64
		Level uint8
		Msg   [55]byte `memvec:"string"`
	}
	bytesRecord struct {
		Time  int64
		Level uint8
		Msg   [55]byte
	}
)

// TestTextTag: a [N]byte field tagged memvec:"string" is text in the
// layout (Type.Text, "text":true in the stored JSON); the same field
// without the tag is another layout; the tag on anything else, or another
// memvec tag, is refused, naming the field.
func TestTextTag(t *testing.T) {
	needs64BitAlignment(t)
	type (
		name   [8]uint8
		Nested struct {
			Tags [2]struct {
				N name `json:"n" memvec:"string"`
			}
		}
	)
	l, err := LayoutOf[textRecord]()
	require.NoError(t, err)
	msg := l.Type.Fields[2].Type
	require.True(t, msg.Text)
	require.Equal(t, Array, msg.Kind)
	require.Equal(t, "memvec.textRecord (64 bytes, align 8): Time i64@0, Level u8@8, Msg text[55]@9", l.String())
	lr, err := layoutFor[textRecord]()
	require.NoError(t, err)
	require.Contains(t, string(lr.section), `{"name":"Msg","offset":9,"type":{"kind":"array","size":55,"len":55,"text":true,"elem":{"kind":"u8"}}}`)
	lb, err := layoutFor[bytesRecord]()
	require.NoError(t, err)
	require.Equal(t, lb.fingerprint, lr.fingerprint, "text is bytes: the fingerprint is the same")
	require.False(t, samePaths(lb.exported.Type, lr.exported.Type), "text and bytes are other layouts")
	n, err := LayoutOf[Nested]()
	require.NoError(t, err)
	require.True(t, n.Type.Fields[0].Type.Elem.Fields[0].Type.Text, "a tag among others, on a named array type, inside an array of structs")

	refused := []struct {
		layout func() (*Layout, error)
		msg    string
	}{
		{LayoutOf[struct {
			Level uint8 `memvec:"string"`
		}], `struct { Level uint8 "memvec:\"string\"" }.Level is tagged memvec:"string", but is u8, not an array of bytes ([N]byte): unsupported element type`},
		{LayoutOf[struct {
			Name [4]int8 `memvec:"string"`
		}], `.Name is tagged memvec:"string", but is [4]i8, not an array of bytes ([N]byte)`},
		{LayoutOf[struct {
			Names [2][4]byte `memvec:"string"`
		}], `.Names is tagged memvec:"string", but is [2][4]u8, not an array of bytes ([N]byte)`},
		{LayoutOf[struct {
			Msg [4]byte `memvec:"text"`
		}], `.Msg has the tag memvec:"text"; the only memvec tag is memvec:"string", for text in a [N]byte`},
	}
	for _, r := range refused {
		_, err := r.layout()
		require.ErrorIs(t, err, ErrUnsupportedType)
		require.ErrorContains(t, err, r.msg)
	}
	_, err = Open[struct {
		Msg [4]uint16 `memvec:"string"`
	}](vecPath(t))
	require.ErrorIs(t, err, ErrUnsupportedType)
	require.ErrorContains(t, err, `.Msg is tagged memvec:"string", but is [4]u16`)
}

// TestSetString: SetString stores a string as the text of a [N]byte field,
// cut to fit before a character cut in two, zeros after it, and StringOf
// reads it back.
func TestSetString(t *testing.T) {
	tests := []struct {
		name, s string
		size    int
		n       int    // the bytes of s stored
		want    string // the text read back
	}{
		{"fits", "run started", 16, 11, "run started"},
		{"exactly", "abcd", 4, 4, "abcd"},
		{"empty", "", 4, 0, ""},
		{"cut", "abcdef", 4, 4, "abcd"},
		{"cut before a character cut in two", "abcé", 4, 3, "abc"}, // é is 2 bytes
		{"cut before a 4-byte character", "ab😀", 5, 2, "ab"},
		{"a whole character at the end", "abé", 4, 4, "abé"},
		{"bytes that are not UTF-8 are cut where they are", "ab\xff\xfe\xfd", 4, 4, "ab\xff\xfe"},
		{"a zero byte inside ends the text", "ab\x00cd", 8, 5, "ab"},
		{"no room", "abc", 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := bytes.Repeat([]byte{0xAA}, tt.size) // what was there before
			n := SetString(dst, tt.s)
			require.Equal(t, tt.n, n)
			require.Equal(t, tt.want, StringOf(dst))
			require.Equal(t, tt.s[:n], string(dst[:n]))
			for i := n; i < len(dst); i++ {
				require.Zero(t, dst[i], "byte %d after the text", i)
			}
		})
	}
	require.Equal(t, "full", StringOf([]byte("full")), "no zero byte: all of it")
}

// bigRecord's layout takes more than a page to describe.
type bigRecord struct {
	A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T wideRecord
}

type wideRecord struct {
	Alpha, Beta, Gamma, Delta, Epsilon, Zeta, Eta, Theta, Iota, Kappa int32
}

// TestLargeLayoutSection: a layout of more than a page makes a new file of
// more pages, and the file reopens; an interrupted creation of it (all
// zero) is still a new vector.
func TestLargeLayoutSection(t *testing.T) {
	l, err := layoutFor[bigRecord]()
	require.NoError(t, err)
	require.Greater(t, len(l.section), pageSize)
	path := vecPath(t)
	v := openVec[bigRecord](t, path)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, int64(format.NewRegionSize(l.body(), pageSize)), fi.Size())
	require.Greater(t, fi.Size(), int64(pageSize))
	x := bigRecord{}
	x.T.Kappa = 42
	require.NoError(t, v.Push(x))
	require.NoError(t, v.Close())
	r := openVec[bigRecord](t, path, ReadOnly())
	require.Equal(t, int32(42), r.Index(0).T.Kappa)

	blank := writeVecFile(t, make([]byte, format.NewRegionSize(l.body(), pageSize)))
	b := openVec[bigRecord](t, blank)
	require.Zero(t, b.Len())
	require.NoError(t, b.Push(x))
}

// withSection returns a copy of a vector file whose layout is replaced by
// section, in slot 0 (the slots made larger, and the data offset moved, if
// they must), for the layout checks.
func withSection(t *testing.T, data []byte, section string) []byte {
	ne := binary.NativeEndian
	off := int(ne.Uint32(data[format.OffDataOffset:]))
	size := max(int(ne.Uint32(data[format.OffSlotSize:])), roundUp(format.SlotHeaderSize+len(section), 64))
	newOff := max(off, roundUp(format.HeaderSize+2*size, 64))
	b := append([]byte(nil), data[:format.HeaderSize]...)
	b = append(b, make([]byte, newOff-format.HeaderSize)...)
	b = append(b, data[off:]...)
	ne.PutUint32(b[format.OffSlotSize:], uint32(size))
	ne.PutUint32(b[format.OffDataOffset:], uint32(newOff))
	format.WriteSlot(b, format.Header{Slots: format.HeaderSize, SlotSize: uint32(size)}, 0, []byte(section))
	ne.PutUint32(b[format.OffChecksum:], format.HeaderChecksum(b))
	return b
}

// TestOpenRejectsBadLayoutSections: a stored layout that is not valid, or
// that describes another layout than the header's, is ErrCorrupt (with
// valid checksums: the parse is what must catch it), and the file is left
// as it was. One with other names and the same layout opens.
func TestOpenRejectsBadLayoutSections(t *testing.T) {
	needs64BitAlignment(t)
	data := validFile(t, 3)
	const good = `{"size":24,"align":8,"type":{"kind":"struct","size":24,"fields":[{"name":"X","offset":0,"type":{"kind":"f64"}},{"name":"Y","offset":8,"type":{"kind":"f64"}},{"name":"Z","offset":16,"type":{"kind":"f64"}}]}}`
	tests := []struct {
		name, section, msg string
	}{
		{"empty", ``, "stored layout: EOF"},
		{"not JSON", `size=24`, "stored layout: invalid character"},
		{"two objects", good + good, "bytes after the JSON object"},
		{"no type", `{"size":24,"align":8}`, "size, align or type missing"},
		{"unknown kind", strings.Replace(good, `"f64"`, `"f65"`, 1), `X has unknown kind "f65"`},
		{"other kind", strings.Replace(good, `"f64"`, `"i64"`, 1), "stored layout describes 24-byte elements, align 8, fingerprint"},
		{"text on a float", strings.Replace(good, `{"kind":"f64"}`, `{"kind":"f64","text":true}`, 1), "X holds text, but is f64, not an array of u8"},
		{"text on a struct", strings.Replace(good, `"size":24,"fields"`, `"size":24,"text":true,"fields"`, 1), "the element holds text, but is struct"},
		{"text on an array of f64", `{"size":24,"align":8,"type":{"kind":"array","size":24,"len":3,"text":true,"elem":{"kind":"f64"}}}`, "the element holds text, but is an array of f64, not of u8"},
		{"wrong struct size", strings.Replace(good, `"size":24,"fields"`, `"size":32,"fields"`, 1), "size 24, but the type takes 32 bytes"},
		{"field past the end", strings.Replace(good, `"offset":16`, `"offset":20`, 1), "field Z (8 bytes at 20) ends past its 24-byte struct"},
		{"fields out of order", strings.Replace(good, `"offset":8`, `"offset":0`, 1), "field Y has no valid offset"},
		{"array of the wrong size", `{"size":24,"align":8,"type":{"kind":"array","size":24,"len":2,"elem":{"kind":"f64"}}}`, "is 2 elements of 8 bytes, not 24 bytes"},
		{"primitive of the wrong size", strings.Replace(good, `{"kind":"f64"}`, `{"kind":"f64","size":4}`, 1), "X is f64, 8 bytes, not 4"},
		{"alignment 3", strings.Replace(good, `"align":8`, `"align":3`, 1), "alignment 3 is not a power of two"},
		{"too deep", `{"size":0,"align":1,"type":` + strings.Repeat(`{"kind":"array","size":0,"len":1,"elem":`, 300) + `{"kind":"struct","size":0,"fields":[]}` + strings.Repeat(`}`, 301), "nests more than 256 types deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := withSection(t, data, tt.section)
			path := writeVecFile(t, b)
			_, err := Open[point](path)
			require.ErrorIs(t, err, ErrCorrupt)
			require.ErrorContains(t, err, tt.msg)
			requireFileBytes(t, path, b, "a failed open changes nothing")
		})
	}
	t.Run("a type name, unknown keys and spaces", func(t *testing.T) {
		section := strings.ReplaceAll(strings.Replace(good, `"size":24,"fields"`, `"size":24,"name":"geo.Point","fields"`, 1), `{"kind":"f64"}`, `{ "kind": "f64", "unit": "degrees" }`)
		path := writeVecFile(t, withSection(t, data, section))
		v := openVec[point](t, path)
		require.Equal(t, 3, v.Len())
		require.Equal(t, samplePoint(2), v.Index(2))
	})
	t.Run("other field names", func(t *testing.T) {
		b := withSection(t, data, strings.ReplaceAll(good, `"X"`, `"Lat"`))
		path := writeVecFile(t, b)
		_, err := Open[point](path)
		require.ErrorIs(t, err, ErrTypeMismatch)
		require.ErrorContains(t, err, "first difference: the region has Lat f64@0, the type X f64@0")
		requireFileBytes(t, path, b, "a failed open changes nothing")
	})
}

// FuzzParseLayout: no stored layout makes parseLayout panic, and one it
// accepts encodes to a form that parses to the same layout.
func FuzzParseLayout(f *testing.F) {
	for _, typ := range storedTypes[:len(storedTypes)-1] {
		l, err := computeLayout(typ)
		require.NoError(f, err)
		f.Add(l.section)
	}
	f.Add([]byte(`{"size":0,"align":1,"type":{"kind":"array","size":0,"len":2147483647,"elem":{"kind":"struct","size":0,"fields":[]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseLayout(b)
		if err != nil {
			return
		}
		again, err := parseLayout(appendLayoutJSON(nil, l))
		require.NoError(t, err)
		require.Equal(t, l, again)
		_ = l.String()
	})
}

// TestLayoutOfRefusesUnsupportedTypes: LayoutOf names the type and the
// field it cannot store.
func TestLayoutOfRefusesUnsupportedTypes(t *testing.T) {
	type Rec struct {
		ID   int64
		Name string
	}
	_, err := LayoutOf[Rec]()
	require.ErrorIs(t, err, ErrUnsupportedType)
	require.EqualError(t, err, "memvec: layout of memvec.Rec: Rec.Name is a string: unsupported element type")
}
