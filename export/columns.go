package export

import (
	"encoding/binary"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/memvec/memvec"
	"github.com/memvec/memvec/internal/textesc"
	"github.com/memvec/memvec/internal/wrapper"
)

// A column is one column of the export of a vector: a primitive field of
// the element, a text field, or one half of a complex field.
type column struct {
	name string
	kind memvec.Kind // a primitive kind; for a text field, Uint8; for half of a complex, its float
	off  int         // bytes from the start of the element
	text int         // a text field's length in bytes; 0 for any other column
	typ  arrow.DataType
	// buf holds the column's values of a batch, in Arrow's layout: the
	// values (bits for a bool), and for a text column the offsets in offs.
	buf  []byte
	offs []int32
}

// columnsOf returns the columns of l, in the order of its fields, named by
// their paths as the memvec command's dump names its csv columns: "Pos.X",
// "Tags[3]", a text field as one column, "value" for an element that is
// itself a primitive; blank fields ("_") are left out, as dump leaves them
// out, and a wrapper such as atomic.Uint64 is one column named by its
// path ("Hits", not "Hits.v"), as dump names it (see wrapper.Unwrap). A
// complex field is two columns, its path and ".real" and ".imag" (Arrow
// and Parquet have no complex type).
func columnsOf(l *memvec.Layout) []*column {
	var cols []*column
	var walk func(t *memvec.Type, path string, off int)
	walk = func(t *memvec.Type, path string, off int) {
		for f, ok := wrapper.Unwrap(t); ok; f, ok = wrapper.Unwrap(t) {
			t = f // its column is named by its path (see wrapper.Unwrap)
		}
		switch {
		case t.Kind == memvec.Array && t.Text:
			cols = append(cols, &column{name: orValue(path), kind: memvec.Uint8, off: off, text: t.Len, typ: arrow.BinaryTypes.String})
		case t.Kind == memvec.Array:
			if t.Elem.Size == 0 {
				return // no primitives, as dump has none
			}
			for i := range t.Len {
				walk(t.Elem, path+"["+strconv.Itoa(i)+"]", off+i*t.Elem.Size)
			}
		case t.Kind == memvec.Struct:
			for _, f := range t.Fields {
				if f.Name == "_" {
					continue
				}
				walk(f.Type, join(path, f.Name), off+f.Offset)
			}
		case t.Kind == memvec.Complex64 || t.Kind == memvec.Complex128:
			half := memvec.Float32
			if t.Kind == memvec.Complex128 {
				half = memvec.Float64
			}
			base := orValue(path)
			cols = append(cols,
				&column{name: base + ".real", kind: half, off: off, typ: arrowType(half)},
				&column{name: base + ".imag", kind: half, off: off + half.Size(), typ: arrowType(half)})
		default:
			cols = append(cols, &column{name: orValue(path), kind: t.Kind, off: off, typ: arrowType(t.Kind)})
		}
	}
	walk(l.Type, "", 0)
	return cols
}

// join returns the path of field name under path.
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// orValue returns path, or "value" for the element itself.
func orValue(path string) string {
	if path == "" {
		return "value"
	}
	return path
}

// arrowType returns the Arrow type of a primitive kind but the complex
// ones.
func arrowType(k memvec.Kind) arrow.DataType {
	switch k {
	case memvec.Bool:
		return arrow.FixedWidthTypes.Boolean
	case memvec.Int8:
		return arrow.PrimitiveTypes.Int8
	case memvec.Int16:
		return arrow.PrimitiveTypes.Int16
	case memvec.Int32:
		return arrow.PrimitiveTypes.Int32
	case memvec.Int64:
		return arrow.PrimitiveTypes.Int64
	case memvec.Uint8:
		return arrow.PrimitiveTypes.Uint8
	case memvec.Uint16:
		return arrow.PrimitiveTypes.Uint16
	case memvec.Uint32:
		return arrow.PrimitiveTypes.Uint32
	case memvec.Uint64:
		return arrow.PrimitiveTypes.Uint64
	case memvec.Float32:
		return arrow.PrimitiveTypes.Float32
	}
	return arrow.PrimitiveTypes.Float64
}

// fill gathers the column's values of the m elements in src, size bytes
// each, into buf, and returns them as an Arrow array that refers to buf:
// it is valid until the next fill.
func (c *column) fill(src []byte, m, size int) arrow.Array {
	switch {
	case c.text > 0:
		return c.fillText(src, m, size)
	case c.kind == memvec.Bool:
		c.buf = grow(c.buf, (m+7)/8)
		clear(c.buf)
		for i := range m {
			if src[i*size+c.off] != 0 {
				c.buf[i/8] |= 1 << (i % 8)
			}
		}
	default:
		k := c.kind.Size()
		c.buf = grow(c.buf, m*k)
		dst, off := c.buf, c.off
		// One loop per size, each a load and a store per element: the
		// values are in this machine's byte order, as Arrow's are.
		switch k {
		case 1:
			for i := range m {
				dst[i] = src[i*size+off]
			}
		case 2:
			for i := range m {
				binary.NativeEndian.PutUint16(dst[2*i:], binary.NativeEndian.Uint16(src[i*size+off:]))
			}
		case 4:
			for i := range m {
				binary.NativeEndian.PutUint32(dst[4*i:], binary.NativeEndian.Uint32(src[i*size+off:]))
			}
		default:
			for i := range m {
				binary.NativeEndian.PutUint64(dst[8*i:], binary.NativeEndian.Uint64(src[i*size+off:]))
			}
		}
	}
	return array.MakeFromData(array.NewData(c.typ, m, []*memory.Buffer{nil, memory.NewBufferBytes(c.buf)}, nil, 0, 0))
}

// fillText gathers a text column: each element's text, its bytes up to the
// first zero byte, as UTF-8 (see textesc.Append).
func (c *column) fillText(src []byte, m, size int) arrow.Array {
	c.buf = c.buf[:0]
	c.offs = c.offs[:0]
	for i := range m {
		c.offs = append(c.offs, int32(len(c.buf)))
		c.buf = textesc.Append(c.buf, src[i*size+c.off:][:c.text])
	}
	c.offs = append(c.offs, int32(len(c.buf)))
	offs := arrow.Int32Traits.CastToBytes(c.offs)
	return array.MakeFromData(array.NewData(c.typ, m, []*memory.Buffer{nil, memory.NewBufferBytes(offs), memory.NewBufferBytes(c.buf)}, nil, 0, 0))
}

// grow returns b with length n, reusing its array if it has room.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// batchRows returns how many elements of size bytes a batch holds: about
// batchBytes of them, at least one, at most maxBatchRows.
func batchRows(size int) int {
	return int(min(max(1, batchBytes/int64(max(1, size))), int64(maxBatchRows)))
}

// (Variables, not constants, so that a test makes batches of a few
// elements.)
var (
	// batchBytes is the input a batch (a Parquet row group, an Arrow
	// record batch) holds, about: its columns take as much memory, and
	// the input's pages as much before export gives them back.
	batchBytes int64 = 32 << 20
	// maxBatchRows bounds the rows of a batch of small elements: a
	// million rows, a row group size that Parquet readers split well.
	maxBatchRows = 1 << 20
)
