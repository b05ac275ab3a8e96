package memvec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/memvec/memvec/internal/format"
)

// A Kind is the kind of a Type: one of the primitives a vector may store,
// an array or a struct. Its String is the name FORMAT.md gives it ("f64",
// "array").
type Kind uint8

// The kinds. Go's int and uint are Int64 and Uint64 on 64-bit platforms
// (Int32 and Uint32 on 32-bit ones); byte is Uint8.
const (
	Bool Kind = iota + 1
	Int8
	Int16
	Int32
	Int64
	Uint8
	Uint16
	Uint32
	Uint64
	Float32
	Float64
	Complex64
	Complex128
	Array
	Struct
)

// kindNames are the names of the kinds in the stored layout and in the
// canonical layout string (FORMAT.md); kindSizes the primitives' sizes.
var (
	kindNames = [...]string{Bool: "bool", Int8: "i8", Int16: "i16", Int32: "i32", Int64: "i64",
		Uint8: "u8", Uint16: "u16", Uint32: "u32", Uint64: "u64", Float32: "f32", Float64: "f64",
		Complex64: "c64", Complex128: "c128", Array: "array", Struct: "struct"}
	kindSizes = [...]int{Bool: 1, Int8: 1, Int16: 2, Int32: 4, Int64: 8, Uint8: 1, Uint16: 2,
		Uint32: 4, Uint64: 8, Float32: 4, Float64: 8, Complex64: 8, Complex128: 16}
)

// String returns the kind's name in FORMAT.md: "bool", "i8" to "i64", "u8"
// to "u64", "f32", "f64", "c64", "c128", "array" or "struct".
func (k Kind) String() string {
	if k == 0 || int(k) >= len(kindNames) {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Primitive reports whether k is a primitive: neither Array nor Struct.
func (k Kind) Primitive() bool { return k >= Bool && k <= Complex128 }

// Size returns the size in bytes of a primitive of kind k, and 0 for Array
// and Struct, whose size is their Type's.
func (k Kind) Size() int {
	if !k.Primitive() {
		return 0
	}
	return kindSizes[k]
}

// kindNamed returns the kind of a name, or 0.
func kindNamed(name string) Kind {
	for k, n := range kindNames {
		if n == name && n != "" {
			return Kind(k)
		}
	}
	return 0
}

// A Type describes an element type, or a part of one, as a vector file
// stores it: a tree of structs and arrays whose leaves are primitives.
// Two types are the same layout when their primitives have the same
// paths, kinds and offsets, and the same arrays hold text; the names of Go
// types are for people and tools, and never compared (see Layout).
type Type struct {
	Kind Kind
	// Size is the type's size in bytes, padding included.
	Size int
	// Name is the Go type's name, package-qualified as reflect.Type's
	// String gives it ("main.Point", "time.Duration"), for a named type;
	// "" for an unnamed one ([3]float64, struct{ X int }) and for int,
	// float64 and the other predeclared types.
	Name string
	// Len and Elem describe an Array: Len elements of type Elem.
	Len  int
	Elem *Type
	// Text is set on an Array of Uint8 that holds text: a struct field of
	// type [N]byte (or [N]uint8) tagged `memvec:"string"`. Its text is its
	// bytes up to the first zero byte (see SetString and StringOf), which
	// the memvec command prints as a string and numpy reads as S<N>. The
	// bytes are those of the array all the same: Primitives yields them
	// one by one, and the fingerprint counts them as u8.
	Text bool
	// Fields are a Struct's fields in declaration order, blank ones ("_")
	// included.
	Fields []Field
}

// A Field is a field of a struct Type.
type Field struct {
	Name   string // the field's name; "_" for a blank field; an embedded field's is its type's name
	Offset int    // bytes from the start of the struct
	Type   *Type
}

// A Layout is the layout of a vector's elements: the Type tree, the size and
// alignment, and the fingerprint (see FORMAT.md).
//
// Open compares a file's layout with the element type's as the flat
// sequence of primitives with their paths, kinds and offsets (see
// Primitives), the arrays that hold text, the size and the alignment: a
// struct whose fields were renamed or reordered is another layout, and so
// are struct{ X, Y, Z float64 } and [3]float64. The names of Go types
// ("main.Point") are not compared. The fingerprint covers the kinds,
// offsets, size and alignment only: what Relabel must keep, while it
// changes the paths and the text arrays.
type Layout struct {
	Size        int
	Align       int
	Fingerprint uint64
	Type        *Type
}

// A Primitive is one primitive field of a Layout, with its path from the
// element: "Pos.X", "Tags[3]", or "" for an element that is itself a
// primitive.
type Primitive struct {
	Path   string
	Kind   Kind
	Offset int // bytes from the start of the element
}

// LayoutOf returns the layout of T, as a vector file of T stores it: a
// copy, which the caller may change. It returns an error wrapping
// ErrUnsupportedType for a T that is not plain data, naming the field, as
// in "memvec: layout of main.Rec: Rec.Tags[0].Name is a string:
// unsupported element type".
func LayoutOf[T any]() (*Layout, error) {
	l, err := layoutFor[T]()
	if err != nil {
		return nil, fmt.Errorf("memvec: layout of %v: %w", reflect.TypeFor[T](), err)
	}
	c := *l.exported
	c.Type = l.exported.Type.clone()
	return &c, nil
}

// clone returns a deep copy of t, so that a caller may change what it was
// given without changing the cached layout.
func (t *Type) clone() *Type {
	c := *t
	if t.Elem != nil {
		c.Elem = t.Elem.clone()
	}
	if t.Fields != nil {
		c.Fields = make([]Field, len(t.Fields))
		for i, f := range t.Fields {
			c.Fields[i] = Field{Name: f.Name, Offset: f.Offset, Type: f.Type.clone()}
		}
	}
	return &c
}

// Primitives yields every primitive field of the layout, depth-first in
// declaration order, with its path: array elements one by one, so a
// [1000]float64 yields 1000 of them, and so does a text array (Type.Text)
// of 1000 bytes. Blank fields ("_") are yielded like any other.
func (l *Layout) Primitives() iter.Seq[Primitive] {
	return func(yield func(Primitive) bool) {
		l.Type.visit("", 0, false, func(f foldedField) bool {
			return yield(Primitive{Path: f.path, Kind: f.kind, Offset: f.off})
		})
	}
}

// visit yields the primitives of t placed at off, under path; with fold,
// an array of primitives as one foldedField ("Tags[0..3]"), and a text
// array under its own path ("Msg").
func (t *Type) visit(path string, off int, fold bool, yield func(foldedField) bool) bool {
	switch t.Kind {
	case Array:
		if t.Len == 0 || t.Elem.Size == 0 {
			return true // no primitives: none, or none that take room
		}
		if fold && t.Text {
			return yield(foldedField{path: path, kind: t.Elem.Kind, off: off, count: t.Len, text: true})
		}
		if fold && t.Elem.Kind.Primitive() {
			return yield(foldedField{path: fmt.Sprintf("%s[0..%d]", path, t.Len-1), kind: t.Elem.Kind, off: off, count: t.Len})
		}
		for i := range t.Len {
			if !t.Elem.visit(path+"["+strconv.Itoa(i)+"]", off+i*t.Elem.Size, fold, yield) {
				return false
			}
		}
		return true
	case Struct:
		for _, f := range t.Fields {
			p := f.Name
			if path != "" {
				p = path + "." + f.Name
			}
			if !f.Type.visit(p, off+f.Offset, fold, yield) {
				return false
			}
		}
		return true
	}
	return yield(foldedField{path: path, kind: t.Kind, off: off, count: 1})
}

// String describes the layout on one line for people, as error messages
// show it: "Point (24 bytes, align 8): X f64@0, Y f64@8, Z f64@16". Runs
// of array elements are folded ("Tags[0..3] u8@9..12"), a text array is
// one field ("Msg text[55]@9"), and the list stops after a few dozen
// fields.
func (l *Layout) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d bytes, align %d):", l.Type.shortName(), l.Size, l.Align)
	n := 0
	for f := range l.folded() {
		if n == 32 {
			b.WriteString(", ...")
			break
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(" " + f.String())
		n++
	}
	if n == 0 {
		b.WriteString(" no fields")
	}
	return b.String()
}

// shortName names t for people: its Go name if it has one, else its
// kind ("f64", "struct"), with an array's length ("[3]f64").
func (t *Type) shortName() string {
	switch {
	case t.Name != "":
		return t.Name
	case t.Kind == Array:
		return "[" + strconv.Itoa(t.Len) + "]" + t.Elem.shortName()
	}
	return t.Kind.String()
}

// foldedField is a stretch of array elements of one primitive kind that
// touch, as people read them: "Tags[0..3] u8@9..12", a text array ("Msg
// text[55]@9"), or one primitive.
type foldedField struct {
	path  string // "Tags[0..3]", "Pos.X", "Msg"
	kind  Kind
	off   int
	count int
	text  bool
}

func (f foldedField) String() string {
	name := f.path
	if name == "" {
		name = "(element)"
	}
	if f.text {
		return fmt.Sprintf("%s text[%d]@%d", name, f.count, f.off)
	}
	if f.count == 1 {
		return fmt.Sprintf("%s %s@%d", name, f.kind, f.off)
	}
	return fmt.Sprintf("%s %s@%d..%d", name, f.kind, f.off, f.off+(f.count-1)*f.kind.Size())
}

// folded yields the primitives of the layout with the elements of arrays of
// primitives folded into one.
func (l *Layout) folded() iter.Seq[foldedField] {
	return func(yield func(foldedField) bool) { l.Type.visit("", 0, true, yield) }
}

// typeOf builds the Type of t, or returns an error wrapping
// ErrUnsupportedType that names by its path (path is t's) the first field
// that is not plain data, in the package's form ("Rec.Tags[0].Name is a
// string"), or whose memvec tag is not one it knows or fits. An array's
// element type is built and checked once, also for an array of none:
// [0]*int is refused like *int.
func typeOf(t reflect.Type, path string) (*Type, error) {
	if t == timeType {
		// Refused for its pointer below, with a message that says only
		// that; the fix is what a user needs to read.
		return nil, fmt.Errorf("%s is a time.Time, which holds a pointer (its location): store t.UnixNano() in an int64 instead, and time.Unix(0, n) reads it back: %w", path, ErrUnsupportedType)
	}
	if what, ok := refused[t.Kind()]; ok {
		return nil, fmt.Errorf("%s is %s: %w", path, what, ErrUnsupportedType)
	}
	tt := &Type{Size: int(t.Size())}
	if t.Name() != "" && t.PkgPath() != "" {
		tt.Name = t.String()
	}
	switch t.Kind() {
	case reflect.Array:
		elem, err := typeOf(t.Elem(), path+"[0]")
		if err != nil {
			return nil, err
		}
		tt.Kind, tt.Len, tt.Elem = Array, t.Len(), elem
	case reflect.Struct:
		tt.Kind = Struct
		tt.Fields = make([]Field, t.NumField())
		for i := range tt.Fields {
			f := t.Field(i)
			ft, err := typeOf(f.Type, path+"."+f.Name)
			if err != nil {
				return nil, err
			}
			if tag, ok := f.Tag.Lookup("memvec"); ok {
				if err := applyTag(ft, tag, path+"."+f.Name); err != nil {
					return nil, err
				}
			}
			tt.Fields[i] = Field{Name: f.Name, Offset: int(f.Offset), Type: ft}
		}
	default:
		if _, ok := primitiveKinds[t.Kind()]; !ok {
			return nil, fmt.Errorf("%s is a %s: %w", path, t.Kind(), ErrUnsupportedType)
		}
		tt.Kind = kindNamed(primitiveName(t))
	}
	return tt, nil
}

// textTag is the value of the memvec tag that makes a [N]byte field text.
const textTag = "string"

// applyTag applies a field's memvec tag to its type ft, or returns an
// error wrapping ErrUnsupportedType that names the field (its path): the
// only tag is "string", on an array of bytes.
func applyTag(ft *Type, tag, path string) error {
	switch {
	case tag != textTag:
		return fmt.Errorf("%s has the tag memvec:%q; the only memvec tag is memvec:%q, for text in a [N]byte: %w", path, tag, textTag, ErrUnsupportedType)
	case ft.Kind != Array || ft.Elem.Kind != Uint8:
		return fmt.Errorf("%s is tagged memvec:%q, but is %s, not an array of bytes ([N]byte): %w", path, textTag, ft.shortName(), ErrUnsupportedType)
	}
	ft.Text = true
	return nil
}

// timeType is time.Time, the non-plain type users most often try to store.
var timeType = reflect.TypeFor[time.Time]()

// primitiveName is the name of a primitive Go type's kind: int and uint by
// their size.
func primitiveName(t reflect.Type) string {
	name := primitiveKinds[t.Kind()]
	if name != "bool" {
		name += strconv.Itoa(int(t.Size()) * 8)
	}
	return name
}

// The stored layout (FORMAT.md, "The stored layout") is JSON in one
// canonical form: these keys, in this order, no spaces.
//
//	layout = {"size":N,"align":N,"type":type}
//	type   = {"kind":"f64"[,"name":S]}
//	       | {"kind":"array","size":N[,"name":S],"len":N[,"text":true],"elem":type}
//	       | {"kind":"struct","size":N[,"name":S],"fields":[field,...]}
//	field  = {"name":S,"offset":N,"type":type}

// appendLayoutJSON appends the canonical JSON of the layout to b.
func appendLayoutJSON(b []byte, l *Layout) []byte {
	b = append(b, `{"size":`...)
	b = strconv.AppendInt(b, int64(l.Size), 10)
	b = append(b, `,"align":`...)
	b = strconv.AppendInt(b, int64(l.Align), 10)
	b = append(b, `,"type":`...)
	b = appendTypeJSON(b, l.Type)
	return append(b, '}')
}

func appendTypeJSON(b []byte, t *Type) []byte {
	b = append(b, `{"kind":"`...)
	b = append(b, t.Kind.String()...)
	b = append(b, '"')
	if !t.Kind.Primitive() {
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, int64(t.Size), 10)
	}
	if t.Name != "" {
		b = append(b, `,"name":`...)
		b = appendJSONString(b, t.Name)
	}
	switch t.Kind {
	case Array:
		b = append(b, `,"len":`...)
		b = strconv.AppendInt(b, int64(t.Len), 10)
		if t.Text {
			b = append(b, `,"text":true`...)
		}
		b = append(b, `,"elem":`...)
		b = appendTypeJSON(b, t.Elem)
	case Struct:
		b = append(b, `,"fields":[`...)
		for i, f := range t.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendJSONString(b, f.Name)
			b = append(b, `,"offset":`...)
			b = strconv.AppendInt(b, int64(f.Offset), 10)
			b = append(b, `,"type":`...)
			b = appendTypeJSON(b, f.Type)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string, as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// maxLayoutSection bounds the stored layout, so that it fits in a layout
// slot (format.MaxSlotSize), and a new vector with its header and both slots in
// format.NewRegionMax bytes (see format.IsBlank): 32,696 bytes. A type whose layout takes
// more is refused.
const maxLayoutSection = format.MaxSlotSize - format.SlotHeaderSize

// maxTypeDepth bounds the nesting of a stored layout that parseLayout
// accepts (Go types nest far less), so that a damaged file cannot exhaust
// the stack.
const maxTypeDepth = 256

// maxLayoutPieces bounds the work a stored layout may ask for: computing
// its fingerprint, describing it, comparing it walks every array of
// structs element by element. A damaged file must not make an open spin.
const maxLayoutPieces = 1 << 22

// pieces counts the primitives of t with arrays of arrays of primitives
// unrolled and every array of primitives counted once, saturating past
// maxLayoutPieces.
func (t *Type) pieces() int {
	switch t.Kind {
	case Array:
		if t.Elem.Kind.Primitive() {
			return min(t.Len, 1)
		}
		e := t.Elem.pieces()
		if e == 0 {
			return 0
		}
		return int(min(int64(t.Len)*int64(e), maxLayoutPieces+1))
	case Struct:
		n := 0
		for _, f := range t.Fields {
			n = min(n+f.Type.pieces(), maxLayoutPieces+1)
		}
		return n
	}
	return 1
}

// jsonType is a type of the stored layout as encoding/json decodes it.
type jsonType struct {
	Kind   string      `json:"kind"`
	Size   *int64      `json:"size"`
	Name   string      `json:"name"`
	Len    *int64      `json:"len"`
	Text   bool        `json:"text"`
	Elem   *jsonType   `json:"elem"`
	Fields []jsonField `json:"fields"`
}

type jsonField struct {
	Name   string    `json:"name"`
	Offset *int64    `json:"offset"`
	Type   *jsonType `json:"type"`
}

type jsonLayout struct {
	Size  *int64    `json:"size"`
	Align *int64    `json:"align"`
	Type  *jsonType `json:"type"`
}

// errLayout reports a stored layout that is not valid.
var errLayout = errors.New("stored layout")

// parseLayout decodes and validates a stored layout: valid JSON of the
// documented form (unknown keys are ignored), every size consistent, every
// field inside its struct, in order of offset. The fingerprint is computed
// from it; the caller compares it with the header's.
func parseLayout(b []byte) (*Layout, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var jl jsonLayout
	if err := d.Decode(&jl); err != nil {
		return nil, fmt.Errorf("%w: %v", errLayout, err)
	}
	if d.More() {
		return nil, fmt.Errorf("%w: bytes after the JSON object", errLayout)
	}
	if jl.Size == nil || jl.Align == nil || jl.Type == nil {
		return nil, fmt.Errorf("%w: size, align or type missing", errLayout)
	}
	t, err := convertType(jl.Type, "", 0)
	if err != nil {
		return nil, err
	}
	if n := t.pieces(); n > maxLayoutPieces {
		return nil, fmt.Errorf("%w: %d fields and arrays of primitives once arrays of structs are unrolled, more than %d", errLayout, n, maxLayoutPieces)
	}
	a := *jl.Align
	if a <= 0 || a&(a-1) != 0 || a > 4096 {
		return nil, fmt.Errorf("%w: alignment %d is not a power of two up to 4096", errLayout, a)
	}
	if *jl.Size != int64(t.Size) || t.Size%int(a) != 0 {
		return nil, fmt.Errorf("%w: size %d, but the type takes %d bytes (alignment %d)", errLayout, *jl.Size, t.Size, a)
	}
	l := &Layout{Size: t.Size, Align: int(a), Type: t}
	l.Fingerprint, _ = l.runs()
	return l, nil
}

// convertType validates a decoded type at path and converts it.
func convertType(j *jsonType, path string, depth int) (*Type, error) {
	where := path
	if where == "" {
		where = "the element"
	}
	if depth > maxTypeDepth {
		return nil, fmt.Errorf("%w: %s nests more than %d types deep", errLayout, where, maxTypeDepth)
	}
	if j == nil {
		return nil, fmt.Errorf("%w: %s has no type", errLayout, where)
	}
	k := kindNamed(j.Kind)
	if k == 0 {
		return nil, fmt.Errorf("%w: %s has unknown kind %q", errLayout, where, j.Kind)
	}
	if j.Text && k != Array {
		return nil, fmt.Errorf("%w: %s holds text, but is %s, not an array of u8", errLayout, where, k)
	}
	t := &Type{Kind: k, Name: j.Name}
	size := func() (int, error) {
		if j.Size == nil || *j.Size < 0 || *j.Size > math.MaxInt32 {
			return 0, fmt.Errorf("%w: %s (%s) has no valid size", errLayout, where, k)
		}
		return int(*j.Size), nil
	}
	switch k {
	case Array:
		var err error
		if t.Size, err = size(); err != nil {
			return nil, err
		}
		if j.Len == nil || *j.Len < 0 || *j.Len > math.MaxInt32 {
			return nil, fmt.Errorf("%w: %s is an array without a valid len", errLayout, where)
		}
		t.Len = int(*j.Len)
		if t.Elem, err = convertType(j.Elem, path+"[]", depth+1); err != nil {
			return nil, err
		}
		if int64(t.Len)*int64(t.Elem.Size) != int64(t.Size) {
			return nil, fmt.Errorf("%w: %s is %d elements of %d bytes, not %d bytes", errLayout, where, t.Len, t.Elem.Size, t.Size)
		}
		if j.Text && t.Elem.Kind != Uint8 {
			return nil, fmt.Errorf("%w: %s holds text, but is an array of %s, not of u8", errLayout, where, t.Elem.shortName())
		}
		t.Text = j.Text
	case Struct:
		var err error
		if t.Size, err = size(); err != nil {
			return nil, err
		}
		end := 0
		t.Fields = make([]Field, len(j.Fields))
		for i, jf := range j.Fields {
			p := jf.Name
			if path != "" {
				p = path + "." + jf.Name
			}
			if jf.Offset == nil || *jf.Offset < int64(end) || *jf.Offset > int64(t.Size) {
				return nil, fmt.Errorf("%w: field %s has no valid offset (at least %d, at most %d)", errLayout, p, end, t.Size)
			}
			ft, err := convertType(jf.Type, p, depth+1)
			if err != nil {
				return nil, err
			}
			off := int(*jf.Offset)
			if off+ft.Size > t.Size {
				return nil, fmt.Errorf("%w: field %s (%d bytes at %d) ends past its %d-byte struct", errLayout, p, ft.Size, off, t.Size)
			}
			t.Fields[i] = Field{Name: jf.Name, Offset: off, Type: ft}
			end = off + ft.Size
		}
	default:
		if j.Size != nil && *j.Size != int64(k.Size()) {
			return nil, fmt.Errorf("%w: %s is %s, %d bytes, not %d", errLayout, where, k, k.Size(), *j.Size)
		}
		t.Size = k.Size()
	}
	return t, nil
}

// runs computes the fingerprint of the layout from its Type tree, by the
// rule of FORMAT.md, for a Go type (computeLayout) and for a stored layout
// alike, with a short description of its runs for people.
func (l *Layout) runs() (fingerprint uint64, desc string) {
	b := &layoutBuilder{h: fnv.New64a()}
	fmt.Fprintf(b.h, "size=%d;align=%d;", l.Size, l.Align)
	b.flattenType(l.Type, 0)
	b.finish()
	return b.h.Sum64(), b.desc.String()
}

// flattenType adds the primitive runs of t placed at off: arrays of
// primitives and arrays whose element is one dense run are one run, with
// no walk per element.
func (b *layoutBuilder) flattenType(t *Type, off uintptr) {
	switch t.Kind {
	case Array:
		if t.Len == 0 {
			return
		}
		var elem []run
		sub := &layoutBuilder{runs: &elem}
		sub.flattenType(t.Elem, 0)
		sub.finish()
		if len(elem) == 0 {
			return
		}
		if len(elem) == 1 && elem[0].count*elem[0].width == uintptr(t.Elem.Size) {
			r := elem[0]
			r.off += off
			r.count *= uintptr(t.Len)
			b.add(r)
			return
		}
		for i := range uintptr(t.Len) {
			for _, r := range elem {
				r.off += off + i*uintptr(t.Elem.Size)
				b.add(r)
			}
		}
	case Struct:
		for _, f := range t.Fields {
			b.flattenType(f.Type, off+uintptr(f.Offset))
		}
	default:
		b.add(run{kind: t.Kind.String(), width: uintptr(t.Kind.Size()), off: off, count: 1})
	}
}

// describeMismatch says, field by field, how the layout a region holds
// differs from the element type's: where they first differ, then both
// layouts.
func describeMismatch(file, typ *Layout) string {
	var b strings.Builder
	switch {
	case file.Size != typ.Size:
		fmt.Fprintf(&b, "the region's elements are %d bytes, the type's %d", file.Size, typ.Size)
	case file.Align != typ.Align:
		fmt.Fprintf(&b, "the region's elements align to %d bytes, the type's to %d", file.Align, typ.Align)
	}
	if d := firstDifference(file, typ); d != "" {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d)
	}
	fmt.Fprintf(&b, "; the region holds %s; the type is %s", file, typ)
	return b.String()
}

// firstDifference names the first field at which two layouts differ, in
// declaration order, arrays of primitives and text arrays folded: a field
// of another path, kind or offset, or missing from one of them.
func firstDifference(file, typ *Layout) string {
	nextF, stopF := iter.Pull(file.folded())
	defer stopF()
	nextT, stopT := iter.Pull(typ.folded())
	defer stopT()
	for {
		f, okF := nextF()
		t, okT := nextT()
		switch {
		case !okF && !okT:
			return ""
		case !okF:
			return fmt.Sprintf("first difference: the type has %s, the region nothing more", t)
		case !okT:
			return fmt.Sprintf("first difference: the region has %s, the type nothing more", f)
		case f != t:
			return fmt.Sprintf("first difference: the region has %s, the type %s", f, t)
		}
	}
}

// samePaths reports whether two types of the same fingerprint hold the
// same primitives by path: the same field names, array lengths and text
// arrays, the same kinds at the same offsets, whatever the names of their
// Go types. Fields of no size are left out, as Primitives leaves them:
// they hold no primitive. It walks the tree, not the primitives, so its
// cost does not grow with the length of an array.
func samePaths(a, b *Type) bool {
	if a.Size == 0 || b.Size == 0 {
		return a.Size == b.Size
	}
	if a.Kind != b.Kind || a.Size != b.Size || a.Text != b.Text {
		return false
	}
	switch a.Kind {
	case Array:
		return a.Len == b.Len && samePaths(a.Elem, b.Elem)
	case Struct:
		fa, fb := a.Fields, b.Fields
		for {
			for len(fa) > 0 && fa[0].Type.Size == 0 {
				fa = fa[1:]
			}
			for len(fb) > 0 && fb[0].Type.Size == 0 {
				fb = fb[1:]
			}
			if len(fa) == 0 || len(fb) == 0 {
				return len(fa) == len(fb)
			}
			if fa[0].Name != fb[0].Name || fa[0].Offset != fb[0].Offset || !samePaths(fa[0].Type, fb[0].Type) {
				return false
			}
			fa, fb = fa[1:], fb[1:]
		}
	}
	return true
}
