package memvec

import (
	"fmt"
	"hash"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
)

// layout describes an element type as the file format sees it: the flat
// sequence of primitive fields (kind, size, offset) plus the total size and
// alignment. Names never matter, so struct{ X, Y, Z float64 } and [3]float64
// have the same layout, and so do int and int64 on 64-bit platforms.
type layout struct {
	size        uintptr
	align       uintptr
	fingerprint uint64
	desc        string  // human-readable, for error messages
	exported    *Layout // the layout as LayoutOf returns it and the file stores it
	section     []byte  // the stored layout: exported's canonical JSON (FORMAT.md)
}

// body returns what the header of a new vector of l's elements records
// (see format.WriteHeader).
func (l *layout) body() format.Body {
	return format.Body{Kind: format.KindVector, ElemSize: uint64(l.size), ElemAlign: uint32(l.align), Fingerprint: l.fingerprint, Layout: l.section}
}

// run is a stretch of count primitives of one kind laid end to end from off.
// Consecutive fields of one kind that touch are merged into one run, which is
// what makes a struct of three float64 and a [3]float64 compare equal, and
// keeps the description of a [1 << 20]float64 short.
type run struct {
	kind  string // "i64", "f32", "bool", ...
	width uintptr
	off   uintptr
	count uintptr
}

// layoutBuilder merges runs as they come and hashes each finished one, so
// that checking a type needs constant memory whatever its size. A builder
// with runs set collects the finished runs instead (an array's element).
type layoutBuilder struct {
	pending run
	h       hash.Hash64
	runs    *[]run
	buf     []byte
	desc    strings.Builder
	n       int // finished runs
}

// add appends r, merging it into the pending run when it continues it: the
// same kind, starting right where the pending one ends.
func (b *layoutBuilder) add(r run) {
	p := &b.pending
	if p.count > 0 && p.kind == r.kind && p.off+p.count*p.width == r.off {
		p.count += r.count
		return
	}
	b.finish()
	b.pending = r
}

// finish hashes the pending run and describes it (the description stops
// after a dozen runs).
func (b *layoutBuilder) finish() {
	r := b.pending
	if r.count == 0 {
		return
	}
	b.pending = run{}
	if b.runs != nil {
		*b.runs = append(*b.runs, r)
		return
	}
	b.buf = append(append(b.buf[:0], r.kind...), '@') // "kind@off*count;"
	b.buf = append(strconv.AppendUint(b.buf, uint64(r.off), 10), '*')
	b.buf = append(strconv.AppendUint(b.buf, uint64(r.count), 10), ';')
	b.h.Write(b.buf)
	switch {
	case b.n < 12:
		if b.n > 0 {
			b.desc.WriteString(" ")
		}
		b.desc.WriteString(r.kind)
		if r.count > 1 {
			fmt.Fprintf(&b.desc, "[%d]", r.count)
		}
		fmt.Fprintf(&b.desc, "@%d", r.off)
	case b.n == 12:
		b.desc.WriteString(" ...")
	}
	b.n++
}

// layouts caches the result of checking a type.
var layouts sync.Map // reflect.Type -> layoutResult

type layoutResult struct {
	l   *layout
	err error
}

// layoutFor returns the layout of T, checking once per type (the result is
// cached) that T is plain data. It returns an error wrapping
// ErrUnsupportedType that names the offending field path otherwise.
func layoutFor[T any]() (*layout, error) {
	t := reflect.TypeFor[T]()
	if r, ok := layouts.Load(t); ok {
		r := r.(layoutResult)
		return r.l, r.err
	}
	l, err := computeLayout(t)
	layouts.Store(t, layoutResult{l, err})
	return l, err
}

// computeLayout checks t, builds its Type tree and fingerprints it from the
// tree, as a reader of a file does (Layout.runs). Its cost is proportional
// to the number of primitive fields, except that an array of primitives,
// or of elements that are one run, counts once.
func computeLayout(t reflect.Type) (*layout, error) {
	root := t.Name()
	if root == "" {
		root = t.String()
	}
	if what, ok := refused[t.Kind()]; ok {
		// Not "string is a string": the type itself is refused, not a
		// field of it.
		return nil, fmt.Errorf("element type %s is %s: %w", root, what, ErrUnsupportedType)
	}
	tt, err := typeOf(t, root)
	if err != nil {
		return nil, err
	}
	ex := &Layout{Size: int(t.Size()), Align: t.Align(), Type: tt}
	fingerprint, desc := ex.runs()
	ex.Fingerprint = fingerprint
	section := appendLayoutJSON(nil, ex)
	if len(section) > maxLayoutSection {
		return nil, fmt.Errorf("element type %s: its layout takes %d bytes to describe, more than the %d a file has room for: %w", root, len(section), maxLayoutSection, ErrUnsupportedType)
	}
	return &layout{
		size:        t.Size(),
		align:       uintptr(t.Align()),
		fingerprint: fingerprint,
		desc:        fmt.Sprintf("%d bytes, align %d, fingerprint %#016x: {%s}", t.Size(), t.Align(), fingerprint, desc),
		exported:    ex,
		section:     section,
	}, nil
}

// primitiveKinds names every kind that is plain data. int and uint are named
// by their size, so they match int64/uint64 (or the 32-bit ones) exactly.
var primitiveKinds = map[reflect.Kind]string{
	reflect.Bool: "bool",
	reflect.Int:  "i", reflect.Int8: "i", reflect.Int16: "i", reflect.Int32: "i", reflect.Int64: "i",
	reflect.Uint: "u", reflect.Uint8: "u", reflect.Uint16: "u", reflect.Uint32: "u", reflect.Uint64: "u",
	reflect.Float32: "f", reflect.Float64: "f",
	reflect.Complex64: "c", reflect.Complex128: "c",
}

// refused says, for each kind that is not plain data, how the error names it.
var refused = map[reflect.Kind]string{
	reflect.Uintptr:       "a uintptr",
	reflect.Pointer:       "a pointer",
	reflect.UnsafePointer: "an unsafe.Pointer",
	reflect.String:        "a string",
	reflect.Slice:         "a slice",
	reflect.Map:           "a map",
	reflect.Chan:          "a channel",
	reflect.Func:          "a func",
	reflect.Interface:     "an interface",
}

// readHeader validates the header at the start of b against l and returns
// the length it records. Every inconsistency is an error wrapping ErrCorrupt
// (or ErrTypeMismatch for another element layout) that says which field is
// wrong; nothing in b is written.
func readHeader(b []byte, l *layout) (length int, err error) {
	h, err := checkHeader(b, l)
	if err != nil {
		return 0, err
	}
	return format.TrustedLength(b, int(h.DataOffset), l.size, region.BootID())
}

// checkHeader is readHeader without the length: it validates the header at
// the start of b against l and returns it.
func checkHeader(b []byte, l *layout) (format.Header, error) {
	h, section, err := format.ReadStatic(b)
	if err != nil {
		return h, err
	}
	if err := isVector(h); err != nil {
		return h, err
	}
	if !samePhysical(h, l) || string(section) != string(l.section) {
		// Another layout, or the same one described otherwise (other
		// names of Go types, spaces, keys in another order): the
		// section must describe what the header says, and its paths
		// be the type's.
		stored, err := storedLayout(h, section)
		if err != nil {
			return h, err
		}
		if err := compareLayouts(h, stored, l); err != nil {
			return h, err
		}
	}
	return h, nil
}

// compareLayouts returns an error wrapping ErrTypeMismatch, saying where
// they first differ, unless the layout stored in a region (its header h
// and its parsed section) is l's: the same size, alignment and fingerprint,
// and the same paths (samePaths).
func compareLayouts(h format.Header, stored *Layout, l *layout) error {
	if !samePhysical(h, l) {
		return fmt.Errorf("%w: %s", ErrTypeMismatch, describeMismatch(stored, l.exported))
	}
	if !samePaths(stored.Type, l.exported.Type) {
		return fmt.Errorf("%w: %s (the kinds and offsets agree: if fields were renamed, not moved, Relabel stores the new names in the file)", ErrTypeMismatch, describeMismatch(stored, l.exported))
	}
	return nil
}

// samePhysical reports whether the header h records l's element size,
// alignment and fingerprint: whether the bytes of the elements are laid out
// alike, whatever their paths.
func samePhysical(h format.Header, l *layout) bool {
	return h.ElemSize == uint64(l.size) && h.ElemAlign == uint32(l.align) && h.Fingerprint == l.fingerprint
}

// storedLayout parses a region's stored layout and checks it against the
// header: the size, alignment and fingerprint it gives must be the
// header's.
func storedLayout(h format.Header, section []byte) (*Layout, error) {
	stored, err := parseLayout(section)
	if err != nil {
		return nil, corrupt("%v", err)
	}
	if uint64(stored.Size) != h.ElemSize || uint32(stored.Align) != h.ElemAlign || stored.Fingerprint != h.Fingerprint {
		return nil, corrupt("stored layout describes %d-byte elements, align %d, fingerprint %#016x; the header says %d bytes, align %d, fingerprint %#016x",
			stored.Size, stored.Align, stored.Fingerprint, h.ElemSize, h.ElemAlign, h.Fingerprint)
	}
	return stored, nil
}

// isVector returns an error wrapping ErrTypeMismatch unless the header h is
// a vector's: a file of another container (Bytes, Map) does not open as a
// vector, whatever its element layout.
func isVector(h format.Header) error {
	if h.Kind != format.KindVector {
		return fmt.Errorf("%w: the file holds a %v, not a vector", ErrTypeMismatch, h.Kind)
	}
	return nil
}
