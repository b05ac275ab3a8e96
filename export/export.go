// Package export writes memvec vectors, Bytes and maps as Parquet files
// and Arrow IPC files, for the engines that read those (DuckDB, Spark,
// Trino, Polars, pandas and pyarrow, arrow-go, ...): the memvec command's
// export (memvec export -format parquet|arrow FILE), and the same for a
// program's own vectors and maps.
//
// A vector of structs becomes one column per primitive field, named by
// its path from the element as the memvec command's dump names its csv
// columns ("Pos.X", "Tags[3]"; "value" for an element that is itself a
// primitive); blank fields ("_") are left out. Each kind maps to the Arrow
// type of the same name (bool, int8 ... uint64, float32, float64), and to
// the Parquet physical and logical types pyarrow gives it. A complex field
// is two float columns, its path and ".real" and ".imag". A text field (a
// [N]byte tagged memvec:"string") is one UTF-8 string column: its bytes up
// to the first zero byte, as dump prints them (a byte that is not part of
// a UTF-8 character as \xNN, so that the column is valid UTF-8 and nothing
// is lost). A Bytes is one column, "record": binary, or a UTF-8 string
// where every record is valid UTF-8 (Options.Records).
//
// A map is one row per entry, in no set order, exported as a vector of
// struct{ Key K; Value V } would be (the layout a map file stores): the
// key's columns, "Key" or "Key.X", "Key[0]" ..., then the value's,
// "Value" or "Value.X", "Value[2]" ... (File of a map file, RawMap, Map).
//
// Export streams: it reads the vector in batches of about 32 MiB of
// elements (at most 2^20), each one Parquet row group or one Arrow record
// batch, and gives the pages of the file it has read back to the system
// behind it (memvec.Raw.DontNeed, memvec.Bytes.DontNeed), so that its
// memory stays about 100 MiB whatever the vector's size (more only for a
// Bytes record larger than that, which a batch holds whole). A map is
// read in batches of entries of the same size, copied from its buckets,
// and memvec.RawMap gives the pages of a map file back to the system as it
// reads them, so that its memory stays bounded too.
//
// Importing this package brings arrow-go (github.com/apache/arrow-go) into
// a build; importing package memvec does not.
package export

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/memvec/memvec"
)

// A Format is a file format export writes.
type Format int

const (
	// Parquet is an Apache Parquet file: Snappy-compressed, with the
	// columns' statistics (min, max) per row group, and the Arrow schema
	// in its metadata, so that Arrow readers get the exact types back.
	Parquet Format = iota + 1
	// Arrow is an Arrow IPC file (the random-access file format, also
	// called Feather V2), uncompressed, which Arrow readers can map
	// without a copy.
	Arrow
)

// ParseFormat returns the Format named s: "parquet" or "arrow".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "parquet":
		return Parquet, nil
	case "arrow":
		return Arrow, nil
	}
	return 0, fmt.Errorf("memvec: export: unknown format %q: want parquet or arrow", s)
}

// String returns the format's name, as ParseFormat takes it.
func (f Format) String() string {
	switch f {
	case Parquet:
		return "parquet"
	case Arrow:
		return "arrow"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Records says how a Bytes's records are written.
type Records int

const (
	// RecordsAuto writes them as a UTF-8 string column if every record
	// is valid UTF-8, else as a binary column: it reads the records twice,
	// once to decide.
	RecordsAuto Records = iota
	// RecordsBinary writes them as a binary column (Arrow large_binary,
	// Parquet BYTE_ARRAY).
	RecordsBinary
	// RecordsString writes them as a UTF-8 string column (Arrow
	// large_utf8, Parquet BYTE_ARRAY of logical type STRING); a record
	// that is not valid UTF-8 is an error.
	RecordsString
)

// Options say how to export.
type Options struct {
	// Format is the file format: Parquet (the default) or Arrow.
	Format Format
	// Records says how a Bytes's records are written: RecordsAuto by
	// default.
	Records Records
	// Progress, if not nil, is called after each batch written, and once
	// at the end, in the exporting goroutine.
	Progress func(Progress)
}

// Progress is how far an export is: the elements (a Bytes's records, a
// map's entries) and the bytes of the input written so far, and those it
// exports in all. A map's Total is its Len when the export began (more
// if it yields more entries), until the last call, where it is Done: the
// entries it exported.
type Progress struct {
	Done, Total           int
	DoneBytes, TotalBytes int64
}

// File writes the vector file, the Bytes (a directory) or the map file
// (memvec.OpenMap's) at path to w, as o says. It opens it as a reader
// (memvec.ReadOnly), or, if a writer has it open, as a follower
// (memvec.Follow), and exports what it holds when File opens it: the
// elements a writer appends later are not exported. If the writer
// truncates or rewrites (memvec.ErrRewritten) the elements while File
// reads them, File returns an error wrapping ErrRewritten, and what it
// wrote to w is not to be used. A map file is exported as RawMap exports
// it, opened with memvec.OpenRawMap: beside a live writer, its rows are
// the entries a follower reads as File reads them.
//
// The errors name the path: "memvec: export PATH: ...". A file that
// another program cuts while File reads it is an error wrapping
// memvec.ErrFileChanged, not a crash. File never writes the vector.
func File(w io.Writer, path string, o Options) (err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("memvec: export %s: %w", path, err)
	}
	if fi.IsDir() {
		b, err := openBytes(path)
		if err != nil {
			return err
		}
		defer b.Close()
		return exportBytes(w, b, path, o, true)
	}
	r, err := openRaw(path)
	if errors.Is(err, memvec.ErrTypeMismatch) {
		m, mapErr := openRawMap(path)
		if errors.Is(mapErr, memvec.ErrTypeMismatch) {
			return err // neither a vector nor a map: the vector's error says what it is
		}
		if mapErr != nil {
			return mapErr
		}
		defer m.Close()
		src, err := rawMapEntries(m, path)
		if err != nil {
			return err
		}
		return exportMap(w, src, path, o)
	}
	if err != nil {
		return err
	}
	defer r.Close()
	return exportRaw(w, r, path, o, true)
}

// openRaw opens the vector file at path for reading: as a ReadOnly reader
// (OpenRaw's default), or, if a writer holds the file, as a follower.
func openRaw(path string) (*memvec.Raw, error) {
	opts := []memvec.Option{memvec.Advise(memvec.AdviseSequential)}
	r, err := memvec.OpenRaw(path, opts...)
	if errors.Is(err, memvec.ErrLocked) {
		r, err = memvec.OpenRaw(path, append(opts, memvec.Follow())...)
	}
	return r, err
}

// openBytes opens the Bytes at path for reading, as openRaw does a vector
// file.
func openBytes(path string) (*memvec.Bytes, error) {
	b, err := memvec.OpenBytes(path, memvec.ReadOnly(), memvec.Advise(memvec.AdviseSequential))
	if errors.Is(err, memvec.ErrLocked) {
		b, err = memvec.OpenBytes(path, memvec.Follow(), memvec.Advise(memvec.AdviseSequential))
	}
	return b, err
}

// Raw writes the elements of r, those it holds when Raw is called, to w.
// It leaves r's pages in memory (File gives them back as it reads).
func Raw(w io.Writer, r *memvec.Raw, o Options) error {
	return exportRaw(w, r, r.Name(), o, false)
}

// Vector writes the elements of v, those it holds when Vector is called,
// to w, with the columns of T's layout (memvec.LayoutOf): a program
// exporting its own vector. v must not change while Vector runs (it is
// not safe for concurrent use).
func Vector[T any](w io.Writer, v *memvec.MemVec[T], o Options) error {
	name := "vector"
	if f, ok := v.Memory().(*memvec.File); ok {
		name = f.Name()
	}
	l, err := memvec.LayoutOf[T]()
	if err != nil {
		return fmt.Errorf("memvec: export %s: %w", name, err)
	}
	s := v.Slice()
	var data []byte
	if len(s) > 0 && l.Size > 0 {
		data = unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*l.Size)
	}
	src := elements{layout: l, n: len(s), chunk: func(i, j int) []byte { return data[i*l.Size : j*l.Size] }}
	return exportElements(w, src, name, o)
}

// Bytes writes the records of b, those it holds when Bytes is called, to
// w: one column, "record", as o.Records says. It first checks every offset
// (memvec.Bytes.Check): damaged offsets are an error wrapping
// memvec.ErrCorrupt.
func Bytes(w io.Writer, b *memvec.Bytes, o Options) error {
	return exportBytes(w, b, "", o, false)
}

// elements is what exportElements reads: n elements of the layout, whose
// bytes [i:j] chunk returns (contiguous, as a vector's are), and release,
// if not nil, gives the pages of elements [i:j] back behind the reads.
type elements struct {
	layout  *memvec.Layout
	n       int
	chunk   func(i, j int) []byte
	release func(i, j int)
	// done, if not nil, is called after the last batch: it returns an
	// error if what was read is not what the export began with.
	done func() error
}

// exportRaw exports r's elements; release gives their pages back behind.
func exportRaw(w io.Writer, r *memvec.Raw, name string, o Options, release bool) error {
	l := r.Layout()
	if l == nil {
		return fmt.Errorf("memvec: export %s: the file has no header yet: no layout to make columns of (a writer creates it at its open)", name)
	}
	src := elements{layout: l, n: r.Len()}
	src.chunk = func(i, j int) []byte {
		first := r.Elem(i)
		// The elements are back to back in the mapping: element i's
		// view, extended to j.
		return unsafe.Slice(unsafe.SliceData(first), (j-i)*l.Size)
	}
	if release {
		src.release = func(i, j int) { _ = r.DontNeed(i, j) } // a hint: failing costs only memory
	}
	src.done = func() error { _, err := r.Refresh(); return rewritten(name, err) }
	return exportElements(w, src, name, o)
}

// rewritten returns the error of a Refresh after the export, if any: one
// wrapping ErrRewritten says that the writer rewrote what was exported.
func rewritten(name string, err error) error {
	if errors.Is(err, memvec.ErrRewritten) {
		return fmt.Errorf("memvec: export %s: the writer truncated or rewrote the elements while export read them: the output may hold a mix of old and new; export again: %w", name, err)
	}
	return err
}

// exportElements writes the elements of src.
func exportElements(w io.Writer, src elements, name string, o Options) (err error) {
	bw, err := newBatchWriter(w, src.layout, name, o.Format)
	if err != nil {
		return err
	}
	// The reads of the elements are in the file's mapping, which faults
	// where another program has cut the file: an error here.
	defer catchFault(name, debug.SetPanicOnFault(true), &err)
	size := src.layout.Size
	per := batchRows(size)
	p := Progress{Total: src.n, TotalBytes: int64(src.n) * int64(size)}
	for i := 0; i < src.n; i += per {
		j := min(src.n, i+per)
		if err := bw.write(src.chunk(i, j), j-i); err != nil {
			return err
		}
		if src.release != nil {
			src.release(i, j)
		}
		p.Done, p.DoneBytes = j, int64(j)*int64(size)
		if o.Progress != nil {
			o.Progress(p)
		}
	}
	if src.done != nil {
		if err := src.done(); err != nil {
			return err
		}
	}
	if err := bw.close(); err != nil {
		return err
	}
	if o.Progress != nil {
		o.Progress(p)
	}
	return nil
}

// A batchWriter writes batches of elements of a layout, each one record
// batch (a Parquet row group), with the layout's columns.
type batchWriter struct {
	name   string
	size   int
	cols   []*column
	schema *arrow.Schema
	arrays []arrow.Array
	out    *sink
}

// newBatchWriter returns a batchWriter of the columns of l, in the format
// f, to w; an error if l has no columns.
func newBatchWriter(w io.Writer, l *memvec.Layout, name string, f Format) (*batchWriter, error) {
	if l.Size == 0 {
		// Elements of size 0 hold no values: there is nothing to put
		// in a column, and neither format has a file without columns.
		return nil, fmt.Errorf("memvec: export %s: the elements are of size 0 (%s): no fields to make columns of", name, l)
	}
	cols := columnsOf(l)
	if len(cols) == 0 {
		return nil, fmt.Errorf("memvec: export %s: the elements hold only blank fields (%s): no columns", name, l)
	}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.name, Type: c.typ}
	}
	schema := arrow.NewSchema(fields, nil)
	out, err := newSink(w, schema, f, name)
	if err != nil {
		return nil, err
	}
	return &batchWriter{name: name, size: l.Size, cols: cols, schema: schema, arrays: make([]arrow.Array, len(cols)), out: out}, nil
}

// write writes the m elements in b, back to back, as one batch.
func (bw *batchWriter) write(b []byte, m int) error {
	for k, c := range bw.cols {
		bw.arrays[k] = c.fill(b, m, bw.size)
	}
	rec := array.NewRecordBatch(bw.schema, bw.arrays, int64(m))
	err := bw.out.write(rec)
	rec.Release()
	for _, a := range bw.arrays {
		a.Release()
	}
	if err != nil {
		return fmt.Errorf("memvec: export %s: %w", bw.name, err)
	}
	return nil
}

// close ends the file.
func (bw *batchWriter) close() error {
	if err := bw.out.close(); err != nil {
		return fmt.Errorf("memvec: export %s: %w", bw.name, err)
	}
	return nil
}

// exportBytes exports b's records; release gives their pages back behind.
func exportBytes(w io.Writer, b *memvec.Bytes, name string, o Options, release bool) (err error) {
	if name == "" {
		name = "bytes" // a Bytes has no Name: its own errors name it
	}
	// The reads of the offsets and the records are in the files'
	// mappings, which fault where another program has cut a file: an
	// error here.
	defer catchFault(name, debug.SetPanicOnFault(true), &err)
	if err := b.Check(); err != nil {
		return err
	}
	n := b.Len()
	typ := arrow.DataType(arrow.BinaryTypes.LargeBinary)
	switch o.Records {
	case RecordsString:
		typ = arrow.BinaryTypes.LargeString
		if i, ok := allUTF8(b, n, release); !ok {
			return fmt.Errorf("memvec: export %s: record %d is not valid UTF-8: it cannot be in a string column (export it as binary)", name, i)
		}
	case RecordsAuto:
		if _, ok := allUTF8(b, n, release); ok {
			typ = arrow.BinaryTypes.LargeString
		}
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "record", Type: typ}}, nil)
	out, err := newSink(w, schema, o.Format, name)
	if err != nil {
		return err
	}
	p := Progress{Total: n, TotalBytes: b.Size()}
	var offs []int64
	for i := 0; i < n; {
		// A batch: records from i on until they hold batchBytes, at most
		// maxBatchRows of them, at least one. Their bytes are back to
		// back in the data file's mapping (Check made sure): the
		// batch's data is the first record's view, from the first that
		// is not empty, extended to the batch's size. Its offsets start
		// at 0.
		j, size := i, int64(0)
		var first *byte
		offs = append(offs[:0], 0)
		for j < n && (j == i || j-i < maxBatchRows && size+int64(len(b.At(j))) <= batchBytes) {
			r := b.At(j)
			if first == nil && len(r) > 0 {
				first = unsafe.SliceData(r)
			}
			size += int64(len(r))
			offs = append(offs, size)
			j++
		}
		var data []byte
		if first != nil {
			data = unsafe.Slice(first, size)
		}
		bufs := []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(offs)), memory.NewBufferBytes(data)}
		a := array.MakeFromData(array.NewData(typ, j-i, bufs, nil, 0, 0))
		rec := array.NewRecordBatch(schema, []arrow.Array{a}, int64(j-i))
		err := out.write(rec)
		rec.Release()
		a.Release()
		if err != nil {
			return fmt.Errorf("memvec: export %s: %w", name, err)
		}
		if release {
			_ = b.DontNeed(i, j) // a hint: failing costs only memory
		}
		p.Done, p.DoneBytes = j, p.DoneBytes+size
		if o.Progress != nil {
			o.Progress(p)
		}
		i = j
	}
	if _, err := b.Refresh(); err != nil {
		return rewritten(name, err)
	}
	if err := out.close(); err != nil {
		return fmt.Errorf("memvec: export %s: %w", name, err)
	}
	if o.Progress != nil {
		o.Progress(p)
	}
	return nil
}

// allUTF8 reports whether records [0:n) of b are all valid UTF-8, and if
// not, the first that is not. With release it gives their pages back
// behind it, every batchBytes.
func allUTF8(b *memvec.Bytes, n int, release bool) (int, bool) {
	from, read := 0, int64(0)
	for i := range n {
		r := b.At(i)
		if !utf8.Valid(r) {
			return i, false
		}
		if read += int64(len(r)); release && read >= batchBytes {
			_ = b.DontNeed(from, i+1)
			from, read = i+1, 0
		}
	}
	if release {
		_ = b.DontNeed(from, n)
	}
	return 0, true
}

// A sink writes record batches in a format.
type sink struct {
	buf   *bufio.Writer
	write func(arrow.RecordBatch) error
	done  func() error
}

// newSink returns a sink of the format f that writes to w.
func newSink(w io.Writer, schema *arrow.Schema, f Format, name string) (*sink, error) {
	s := &sink{buf: bufio.NewWriterSize(w, 1<<20)}
	switch f {
	case Parquet, 0:
		props := []parquet.WriterProperty{
			parquet.WithCompression(compress.Codecs.Snappy),
			// Pages of 64 KiB, not 1 MiB: arrow-go grows a page's
			// buffer as it fills it, which costs 2.5 times the time
			// and 3 times the memory at 1 MiB (BENCHMARKS.md).
			parquet.WithDataPageSize(64 << 10),
			parquet.WithMaxRowGroupLength(int64(maxBatchRows)),
			// No dictionary for numbers, whose values rarely repeat
			// (a dictionary that fills falls back to plain, after
			// hashing); a string column tries one.
			parquet.WithDictionaryDefault(false),
			parquet.WithCreatedBy("memvec export (arrow-go " + arrowVersion() + ")"),
		}
		for _, fl := range schema.Fields() {
			if fl.Type.ID() == arrow.STRING || fl.Type.ID() == arrow.LARGE_STRING {
				props = append(props, parquet.WithDictionaryFor(fl.Name, true))
			}
		}
		fw, err := pqarrow.NewFileWriter(schema, s.buf, parquet.NewWriterProperties(props...), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return nil, fmt.Errorf("memvec: export %s: %w", name, err)
		}
		s.write, s.done = fw.Write, fw.Close
	case Arrow:
		fw, err := ipc.NewFileWriter(s.buf, ipc.WithSchema(schema))
		if err != nil {
			return nil, fmt.Errorf("memvec: export %s: %w", name, err)
		}
		s.write, s.done = fw.Write, fw.Close
	default:
		return nil, fmt.Errorf("memvec: export %s: unknown format %v", name, f)
	}
	return s, nil
}

// close ends the file and flushes it to the writer.
func (s *sink) close() error {
	if err := s.done(); err != nil {
		return err
	}
	return s.buf.Flush()
}

// catchFault is deferred by the exports, with the setting that
// debug.SetPanicOnFault(true) replaced (wasOn), to turn a fault in their
// reads of the mapping of the file at name into an error wrapping
// memvec.ErrFileChanged: another program cut the file under the mapping.
// It puts the setting back, and lets any other panic go on.
func catchFault(name string, wasOn bool, err *error) {
	debug.SetPanicOnFault(wasOn)
	r := recover()
	if r == nil {
		return
	}
	_, isRuntime := r.(runtime.Error)
	_, fault := r.(interface{ Addr() uintptr })
	if !isRuntime || !fault {
		panic(r)
	}
	*err = fmt.Errorf("memvec: export %s: the file was cut by another program while export read it: %w", name, memvec.ErrFileChanged)
}

// arrowVersion returns the version of arrow-go in the build, for the
// Parquet file's created_by.
func arrowVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/apache/arrow-go/v18" {
				return d.Version
			}
		}
	}
	return "v18"
}
