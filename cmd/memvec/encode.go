package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"

	"github.com/memvec/memvec"
	"github.com/memvec/memvec/internal/textesc"
	"github.com/memvec/memvec/internal/wrapper"
)

// An encoder writes elements as text, decoded by the layout stored in the
// file: a csv row or a JSON value per element. It walks the layout's tree
// for each element and appends to one buffer, which it hands to the writer
// whenever it holds flushAt bytes, so that it allocates nothing per element
// and holds no more than that of even a huge element.
type encoder struct {
	layout *memvec.Layout
	root   *node
	jsonl  bool
	w      *bufio.Writer
	buf    []byte
	text   []byte // a text field's text, before it is quoted
	cols   int    // the csv columns of the element so far
}

// flushAt is the size at which the encoder hands its buffer to the writer.
const flushAt = 32 << 10

// A node is a part of the element type, as the encoder walks it: a
// primitive, an array, a text array (one value, a string) or a struct
// without its blank fields.
type node struct {
	kind   memvec.Kind
	len    int   // Array: the number of elements
	stride int   // Array: the size of an element
	elem   *node // Array
	text   bool  // Array: a text field, whose len bytes are one string
	fields []field
}

// A field is a struct's field that is not blank, with its JSON key.
type field struct {
	name string
	key  []byte // `"Name":`
	off  int
	node *node
}

func newEncoder(l *memvec.Layout, jsonl bool, w *bufio.Writer) *encoder {
	return &encoder{layout: l, root: compile(l.Type), jsonl: jsonl, w: w, buf: make([]byte, 0, flushAt+256)}
}

// compile builds the node of t, dropping blank fields. A wrapper, a
// struct whose one field that is not blank is unexported and at offset 0
// (sync/atomic's Uint64 is struct{ _ noCopy; _ align64; v uint64 }), is
// its field's node: its column is the wrapper's path ("N", not "N.v"),
// its JSON value the field's.
func compile(t *memvec.Type) *node {
	if f, ok := wrapper.Unwrap(t); ok {
		return compile(f)
	}
	n := &node{kind: t.Kind}
	switch t.Kind {
	case memvec.Array:
		n.len, n.stride, n.elem, n.text = t.Len, t.Elem.Size, compile(t.Elem), t.Text
	case memvec.Struct:
		for _, f := range t.Fields {
			if f.Name == "_" {
				continue
			}
			key, _ := json.Marshal(f.Name) // a string always marshals
			n.fields = append(n.fields, field{name: f.Name, key: append(key, ':'), off: f.Offset, node: compile(f.Type)})
		}
	}
	return n
}

// header writes the csv header row: the path of every column, in the
// order of Layout.Primitives, but for those in blank fields and for text
// fields, whose bytes are one column named by the field's path; "value"
// for an element that is itself a primitive. jsonl has none.
func (e *encoder) header() {
	if e.jsonl {
		return
	}
	first := true
	var walk func(n *node, path string)
	walk = func(n *node, path string) {
		switch {
		case n.kind == memvec.Array && !n.text:
			if n.stride == 0 {
				return // no primitives, as Layout.Primitives has none
			}
			for i := range n.len {
				walk(n.elem, path+"["+strconv.Itoa(i)+"]")
			}
		case n.kind == memvec.Struct:
			for _, f := range n.fields {
				walk(f.node, join(path, f.name))
			}
		default:
			if !first {
				e.buf = append(e.buf, ',')
			}
			first = false
			if path == "" {
				path = "value"
			}
			e.buf = appendCSVField(e.buf, []byte(path))
			e.spill()
		}
	}
	walk(e.root, "")
	e.buf = append(e.buf, '\n')
	e.spill()
}

// element writes element p, and a newline.
func (e *encoder) element(p []byte) {
	if e.jsonl {
		e.json(e.root, p)
	} else {
		e.cols = 0
		e.csv(e.root, p)
	}
	e.buf = append(e.buf, '\n')
	e.spill()
}

// flush writes what the buffer holds and flushes the writer.
func (e *encoder) flush() error {
	e.w.Write(e.buf) // the writer keeps its first error, which Flush returns
	e.buf = e.buf[:0]
	return e.w.Flush()
}

// spill hands the buffer to the writer once it holds flushAt bytes.
func (e *encoder) spill() {
	if len(e.buf) >= flushAt {
		e.w.Write(e.buf)
		e.buf = e.buf[:0]
	}
}

// csv appends the primitives of n at p, separated by commas.
func (e *encoder) csv(n *node, p []byte) {
	switch {
	case n.text:
		if e.cols > 0 {
			e.buf = append(e.buf, ',')
		}
		e.cols++
		e.text = textesc.Append(e.text[:0], p[:n.len])
		e.buf = appendCSVField(e.buf, e.text)
		e.spill()
	case n.kind == memvec.Array:
		if n.stride == 0 {
			return // no primitives, as the header has none
		}
		for i := range n.len {
			e.csv(n.elem, p[i*n.stride:])
		}
	case n.kind == memvec.Struct:
		for _, f := range n.fields {
			e.csv(f.node, p[f.off:])
		}
	default:
		if e.cols > 0 {
			e.buf = append(e.buf, ',')
		}
		e.cols++
		e.buf = appendPrimitive(e.buf, n.kind, p, false)
		e.spill()
	}
}

// json appends the JSON value of n at p.
func (e *encoder) json(n *node, p []byte) {
	switch {
	case n.text:
		e.text = textesc.Append(e.text[:0], p[:n.len])
		e.buf = appendJSONString(e.buf, e.text)
		e.spill()
	case n.kind == memvec.Array:
		e.buf = append(e.buf, '[')
		for i := range n.len {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.json(n.elem, p[i*n.stride:])
			e.spill()
		}
		e.buf = append(e.buf, ']')
	case n.kind == memvec.Struct:
		e.buf = append(e.buf, '{')
		for i, f := range n.fields {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = append(e.buf, f.key...)
			e.json(f.node, p[f.off:])
		}
		e.buf = append(e.buf, '}')
	default:
		e.buf = appendPrimitive(e.buf, n.kind, p, true)
	}
}

// appendPrimitive appends the text of the primitive of kind k at the start
// of p, in the writer's byte order (this machine's: memvec opens no other):
// as JSON if jsonl, else as csv.
func appendPrimitive(b []byte, k memvec.Kind, p []byte, jsonl bool) []byte {
	ne := binary.NativeEndian
	switch k {
	case memvec.Bool:
		return strconv.AppendBool(b, p[0] != 0)
	case memvec.Int8:
		return strconv.AppendInt(b, int64(int8(p[0])), 10)
	case memvec.Int16:
		return strconv.AppendInt(b, int64(int16(ne.Uint16(p))), 10)
	case memvec.Int32:
		return strconv.AppendInt(b, int64(int32(ne.Uint32(p))), 10)
	case memvec.Int64:
		return strconv.AppendInt(b, int64(ne.Uint64(p)), 10)
	case memvec.Uint8:
		return strconv.AppendUint(b, uint64(p[0]), 10)
	case memvec.Uint16:
		return strconv.AppendUint(b, uint64(ne.Uint16(p)), 10)
	case memvec.Uint32:
		return strconv.AppendUint(b, uint64(ne.Uint32(p)), 10)
	case memvec.Uint64:
		return strconv.AppendUint(b, ne.Uint64(p), 10)
	case memvec.Float32:
		return appendFloat(b, float64(math.Float32frombits(ne.Uint32(p))), 32, jsonl)
	case memvec.Float64:
		return appendFloat(b, math.Float64frombits(ne.Uint64(p)), 64, jsonl)
	case memvec.Complex64:
		re, im := math.Float32frombits(ne.Uint32(p)), math.Float32frombits(ne.Uint32(p[4:]))
		return appendComplex(b, float64(re), float64(im), 32, jsonl)
	case memvec.Complex128:
		re, im := math.Float64frombits(ne.Uint64(p)), math.Float64frombits(ne.Uint64(p[8:]))
		return appendComplex(b, re, im, 64, jsonl)
	}
	return b // a stored layout has no other kind: it was validated at open
}

// appendFloat appends f as strconv formats it, the shortest decimal that
// reads back as the same float of bits bits; in JSON, which has no NaN nor
// infinities, those as strings: "NaN", "+Inf", "-Inf".
func appendFloat(b []byte, f float64, bits int, jsonl bool) []byte {
	if jsonl && (math.IsNaN(f) || math.IsInf(f, 0)) {
		b = append(b, '"')
		b = strconv.AppendFloat(b, f, 'g', -1, bits)
		return append(b, '"')
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

// appendComplex appends re+im·i: in JSON as [re,im], in csv as Go prints
// it (strconv.FormatComplex): "(1+2i)", "(0-1.5i)", "(NaN+Infi)".
func appendComplex(b []byte, re, im float64, bits int, jsonl bool) []byte {
	if jsonl {
		b = append(b, '[')
		b = appendFloat(b, re, bits, true)
		b = append(b, ',')
		b = appendFloat(b, im, bits, true)
		return append(b, ']')
	}
	b = append(b, '(')
	b = strconv.AppendFloat(b, re, 'g', -1, bits)
	// The imaginary part's sign, as FormatComplex writes it: strconv
	// writes "-" for a negative one (-0 too) and "+" for +Inf, and no
	// sign for NaN, whatever its sign bit, nor for the others.
	if math.IsNaN(im) || !math.Signbit(im) && !math.IsInf(im, 1) {
		b = append(b, '+')
	}
	b = strconv.AppendFloat(b, im, 'g', -1, bits)
	return append(b, 'i', ')')
}
