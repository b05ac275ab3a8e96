package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/require"

	"github.com/memvec/memvec"
)

type point struct{ X, Y float32 }

// rec has a field of every kind, a nested struct, an array, a text field,
// a complex and a blank field.
type rec struct {
	ID    int64
	Score float64
	N     uint32
	D     int32
	OK    bool
	_     [3]byte
	Pos   point
	Tags  [2]uint16
	Name  [12]byte `memvec:"string"`
	Z     complex128
	I8    int8
	U8    uint8
	I16   int16
	U64   uint64
	F32   float32
}

// recColumns are rec's columns, as dump's csv header names them.
var recColumns = []string{"ID", "Score", "N", "D", "OK", "Pos.X", "Pos.Y", "Tags[0]", "Tags[1]", "Name", "Z.real", "Z.imag", "I8", "U8", "I16", "U64", "F32"}

func makeRec(i int) rec {
	r := rec{ID: int64(i) * 7, Score: float64(i) / 4, N: uint32(i), D: -int32(i), OK: i%3 == 0,
		Pos: point{float32(i), -float32(i)}, Tags: [2]uint16{uint16(i), uint16(i >> 16)},
		Z: complex(float64(i), -0.5), I8: int8(i), U8: uint8(i), I16: int16(i), U64: math.MaxUint64 - uint64(i), F32: float32(i) / 8}
	memvec.SetString(r.Name[:], fmt.Sprintf("n%d é", i))
	return r
}

// values returns rec r's values in the order of recColumns, as arrow-go's
// GetOneForMarshal gives them.
func (r rec) values() []any {
	return []any{r.ID, r.Score, r.N, r.D, r.OK, r.Pos.X, r.Pos.Y, r.Tags[0], r.Tags[1], memvec.StringOf(r.Name[:]),
		real(r.Z), imag(r.Z), r.I8, r.U8, r.I16, r.U64, r.F32}
}

// writeRecs writes a vector file of n recs and returns its path.
func writeRecs(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(tempDir(t), "recs.vec")
	v, err := memvec.Open[rec](path)
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, v.Push(makeRec(i)))
	}
	require.NoError(t, v.Close())
	return path
}

// smallBatches makes batches of a few elements for the test, so that a
// small vector spans many.
func smallBatches(t *testing.T, rows int, bytes int64) {
	oldRows, oldBytes := maxBatchRows, batchBytes
	maxBatchRows, batchBytes = rows, bytes
	t.Cleanup(func() { maxBatchRows, batchBytes = oldRows, oldBytes })
}

// table is what a reader read back: the columns' names and types, and
// each column's values.
type table struct {
	names  []string
	types  []string
	values [][]any
}

// readBack reads the Parquet or Arrow file b with arrow-go's readers.
func readBack(t *testing.T, b []byte, f Format) table {
	t.Helper()
	var recs []arrow.RecordBatch
	var schema *arrow.Schema
	switch f {
	case Parquet:
		pf, err := file.NewParquetReader(bytes.NewReader(b))
		require.NoError(t, err)
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
		require.NoError(t, err)
		rr, err := fr.GetRecordReader(context.Background(), nil, nil)
		require.NoError(t, err)
		schema = rr.Schema()
		for rr.Next() {
			r := rr.RecordBatch()
			r.Retain()
			recs = append(recs, r)
		}
		require.NoError(t, rr.Err())
	case Arrow:
		fr, err := ipc.NewFileReader(bytes.NewReader(b))
		require.NoError(t, err)
		schema = fr.Schema()
		for i := range fr.NumRecords() {
			r, err := fr.RecordBatch(i)
			require.NoError(t, err)
			r.Retain()
			recs = append(recs, r)
		}
	}
	var tb table
	for _, fl := range schema.Fields() {
		tb.names = append(tb.names, fl.Name)
		tb.types = append(tb.types, fl.Type.String())
	}
	tb.values = make([][]any, len(tb.names))
	for _, r := range recs {
		for c := range tb.names {
			col := r.Column(c)
			for i := range col.Len() {
				tb.values[c] = append(tb.values[c], valueAt(col, i))
			}
		}
		r.Release()
	}
	return tb
}

// valueAt returns value i of a as the Go type of its Arrow type (int8
// for int8; GetOneForMarshal makes it a float64).
func valueAt(a arrow.Array, i int) any {
	if v, ok := a.(interface{ ValueAsAny(int) any }); ok {
		return v.ValueAsAny(i)
	}
	return a.GetOneForMarshal(i)
}

// TestExportVectorFile exports a vector file of every kind of field to
// both formats, in many batches, and reads it back with arrow-go's
// readers: the columns are named and typed as documented, and hold every
// element's values.
func TestExportVectorFile(t *testing.T) {
	smallBatches(t, 1000, 1<<20)
	const n = 2500
	path := writeRecs(t, n)
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, f := range []Format{Parquet, Arrow} {
		t.Run(f.String(), func(t *testing.T) {
			var out bytes.Buffer
			var last Progress
			calls := 0
			require.NoError(t, File(&out, path, Options{Format: f, Progress: func(p Progress) { last = p; calls++ }}))
			require.Equal(t, Progress{Done: n, Total: n, DoneBytes: n * 96, TotalBytes: n * 96}, last)
			require.Equal(t, 4, calls, "a call per batch of 1000, and one at the end")
			tb := readBack(t, out.Bytes(), f)
			require.Equal(t, recColumns, tb.names)
			require.Equal(t, []string{"int64", "float64", "uint32", "int32", "bool", "float32", "float32", "uint16", "uint16", "utf8",
				"float64", "float64", "int8", "uint8", "int16", "uint64", "float32"}, tb.types)
			for c := range recColumns {
				require.Len(t, tb.values[c], n, recColumns[c])
			}
			for i := range n {
				want := makeRec(i).values()
				for c := range recColumns {
					require.Equal(t, want[c], tb.values[c][i], "element %d, column %s", i, recColumns[c])
				}
			}
		})
	}
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "the input is never written")
}

// TestExportText exports text fields whose bytes are not all UTF-8, or
// fill the field, as dump prints them: a string column of valid UTF-8
// from which the bytes come back.
func TestExportText(t *testing.T) {
	type msg struct {
		Text [6]byte `memvec:"string"`
	}
	texts := [][6]byte{{'a', 'b'}, {'x', 0xff, 'y'}, {'f', 'u', 'l', 'l', '!', '!'}, {}, {'\\', 'x', '4', '1'}, {0xc3, 0xa9}}
	want := []any{"ab", `x\xffy`, "full!!", "", `\x5cx41`, "é"}
	path := filepath.Join(tempDir(t), "text.vec")
	v, err := memvec.Open[msg](path)
	require.NoError(t, err)
	for _, x := range texts {
		require.NoError(t, v.Push(msg{x}))
	}
	require.NoError(t, v.Close())
	for _, f := range []Format{Parquet, Arrow} {
		var out bytes.Buffer
		require.NoError(t, File(&out, path, Options{Format: f}))
		tb := readBack(t, out.Bytes(), f)
		require.Equal(t, []string{"Text"}, tb.names)
		require.Equal(t, want, tb.values[0], f.String())
	}
}

// writeRecords writes a Bytes of records and returns its path.
func writeRecords(t *testing.T, records ...[]byte) string {
	t.Helper()
	dir := filepath.Join(tempDir(t), "records")
	b, err := memvec.OpenBytes(dir)
	require.NoError(t, err)
	require.NoError(t, b.Append(records...))
	require.NoError(t, b.Close())
	return dir
}

// TestExportBytes exports a Bytes: as a string column where every record
// is UTF-8, else as a binary one, in batches that split where the records
// fill batchBytes; RecordsString refuses a record that is not UTF-8.
func TestExportBytes(t *testing.T) {
	smallBatches(t, 1000, 100)
	var text, mixed [][]byte
	for i := range 300 {
		r := []byte(strings.Repeat("é", i%40))
		text = append(text, r)
		mixed = append(mixed, r)
	}
	mixed[150] = []byte{0xff, 0}
	textDir, mixedDir := writeRecords(t, text...), writeRecords(t, mixed...)
	for _, f := range []Format{Parquet, Arrow} {
		var out bytes.Buffer
		require.NoError(t, File(&out, textDir, Options{Format: f}))
		tb := readBack(t, out.Bytes(), f)
		require.Equal(t, []string{"record"}, tb.names)
		require.Equal(t, []string{"large_utf8"}, tb.types)
		require.Len(t, tb.values[0], len(text))
		for i, r := range text {
			require.Equal(t, string(r), tb.values[0][i])
		}

		out.Reset()
		require.NoError(t, File(&out, mixedDir, Options{Format: f}))
		tb = readBack(t, out.Bytes(), f)
		require.Equal(t, []string{"large_binary"}, tb.types)
		require.Len(t, tb.values[0], len(mixed))
		for i, r := range mixed {
			got := tb.values[0][i].([]byte)
			require.True(t, bytes.Equal(r, got), "record %d: %q, want %q", i, got, r)
		}

		err := File(&out, mixedDir, Options{Format: f, Records: RecordsString})
		require.ErrorContains(t, err, "record 150 is not valid UTF-8")
		require.ErrorContains(t, err, mixedDir)
	}
}

// TestExportSnapshotBesideAWriter exports a vector file that a writer has
// open: the export has the elements the writer had published when it
// began, and not those the writer pushes while it runs.
func TestExportSnapshotBesideAWriter(t *testing.T) {
	smallBatches(t, 100, 1<<20)
	path := filepath.Join(tempDir(t), "live.vec")
	v, err := memvec.Open[int64](path)
	require.NoError(t, err)
	defer v.Close()
	for i := range 1000 {
		require.NoError(t, v.Push(int64(i)))
	}
	var out bytes.Buffer
	pushed := 0
	err = File(&out, path, Options{Format: Arrow, Progress: func(p Progress) {
		// The writer goes on while export reads.
		for range 50 {
			require.NoError(t, v.Push(int64(1000+pushed)))
			pushed++
		}
	}})
	require.NoError(t, err)
	require.Greater(t, pushed, 0)
	tb := readBack(t, out.Bytes(), Arrow)
	require.Equal(t, []string{"value"}, tb.names)
	require.Len(t, tb.values[0], 1000)
	for i, x := range tb.values[0] {
		require.Equal(t, int64(i), x)
	}
}

// TestExportFailsIfTheWriterTruncates: a writer that truncates the
// elements while export reads them makes the export an error wrapping
// ErrRewritten, which names the file.
func TestExportFailsIfTheWriterTruncates(t *testing.T) {
	smallBatches(t, 100, 1<<20)
	path := filepath.Join(tempDir(t), "live.vec")
	v, err := memvec.Open[int64](path)
	require.NoError(t, err)
	defer v.Close()
	for i := range 1000 {
		require.NoError(t, v.Push(int64(i)))
	}
	err = File(&bytes.Buffer{}, path, Options{Format: Parquet, Progress: func(p Progress) {
		if p.Done == 100 {
			v.Truncate(10)
			require.NoError(t, v.Push(-1))
		}
	}})
	require.ErrorIs(t, err, memvec.ErrRewritten)
	require.ErrorContains(t, err, "memvec: export "+path)
}

// TestExportVector exports a program's own vector, anonymous memory:
// empty (a file of the columns and no rows), then with elements.
func TestExportVector(t *testing.T) {
	v, err := memvec.Make[rec](0)
	require.NoError(t, err)
	defer v.Close()
	for _, f := range []Format{Parquet, Arrow} {
		var out bytes.Buffer
		require.NoError(t, Vector(&out, v, Options{Format: f}))
		tb := readBack(t, out.Bytes(), f)
		require.Equal(t, recColumns, tb.names, f.String())
		require.Empty(t, tb.values[0], f.String())
	}
	for i := range 10 {
		require.NoError(t, v.Push(makeRec(i)))
	}
	var out bytes.Buffer
	require.NoError(t, Vector(&out, v, Options{Format: Parquet}))
	tb := readBack(t, out.Bytes(), Parquet)
	require.Equal(t, recColumns, tb.names)
	require.Equal(t, makeRec(9).values()[9], tb.values[9][9])
}

// TestExportWrapperFields: a field of a wrapper type (atomic.Uint64, a
// struct whose one field is unexported) is one column named by the
// field's path, as dump names it; a struct whose one field is exported
// keeps its path.
func TestExportWrapperFields(t *testing.T) {
	type wrapped struct{ x int32 }
	type elem struct {
		Hits atomic.Uint64
		W    wrapped
		E    struct{ X int32 }
		Arr  [2]atomic.Int32
	}
	v, err := memvec.Make[elem](1)
	require.NoError(t, err)
	defer v.Close()
	require.NoError(t, v.Push(elem{W: wrapped{x: -3}, E: struct{ X int32 }{X: 4}}))
	v.Slice()[0].Hits.Store(5)
	v.Slice()[0].Arr[1].Store(-7)
	for _, f := range []Format{Parquet, Arrow} {
		var out bytes.Buffer
		require.NoError(t, Vector(&out, v, Options{Format: f}))
		tb := readBack(t, out.Bytes(), f)
		require.Equal(t, []string{"Hits", "W", "E.X", "Arr[0]", "Arr[1]"}, tb.names, f.String())
		require.Equal(t, []string{"uint64", "int32", "int32", "int32", "int32"}, tb.types, f.String())
		require.Equal(t, [][]any{{uint64(5)}, {int32(-3)}, {int32(4)}, {int32(0)}, {int32(-7)}}, tb.values, f.String())
	}
}

// TestExportErrors: what cannot be exported is an error that names the
// path, and matches errors.Is.
func TestExportErrors(t *testing.T) {
	dir := tempDir(t)
	err := File(&bytes.Buffer{}, filepath.Join(dir, "missing.vec"), Options{})
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "memvec: export "+filepath.Join(dir, "missing.vec"))

	bad := filepath.Join(dir, "bad.vec")
	require.NoError(t, os.WriteFile(bad, bytes.Repeat([]byte("not a vector "), 100), 0o644))
	err = File(&bytes.Buffer{}, bad, Options{})
	require.ErrorIs(t, err, memvec.ErrCorrupt)
	require.ErrorContains(t, err, bad)

	empty := filepath.Join(dir, "empty.vec")
	v, err := memvec.Open[struct{}](empty)
	require.NoError(t, err)
	require.NoError(t, v.Push(struct{}{}))
	require.NoError(t, v.Close())
	err = File(&bytes.Buffer{}, empty, Options{})
	require.ErrorContains(t, err, "no fields to make columns of")

	_, err = ParseFormat("csv")
	require.ErrorContains(t, err, `unknown format "csv"`)
}

// failingWriter fails its writes after n bytes.
type failingWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

// TestExportWriteError: an error of the writer ends the export, wrapped.
func TestExportWriteError(t *testing.T) {
	smallBatches(t, 100, 1<<20)
	path := writeRecs(t, 5000)
	for _, f := range []Format{Parquet, Arrow} {
		err := File(&failingWriter{n: 4096}, path, Options{Format: f})
		require.ErrorIs(t, err, errDiskFull, f.String())
		require.ErrorContains(t, err, "memvec: export "+path)
	}
}

// TestRootPackageHasNoArrow: importing package memvec brings no Arrow nor
// Parquet code into a build (this package does).
func TestRootPackageHasNoArrow(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goCmd, "list", "-deps", "github.com/memvec/memvec").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "github.com/memvec/memvec\n")
	for _, dep := range strings.Fields(string(out)) {
		l := strings.ToLower(dep)
		require.False(t, strings.Contains(l, "arrow") || strings.Contains(l, "parquet") || strings.Contains(l, "flatbuffers") || strings.Contains(l, "thrift"),
			"package memvec depends on %s", dep)
	}
	// And the check sees what it looks for: this package has them.
	out, err = exec.Command(goCmd, "list", "-deps", "github.com/memvec/memvec/export").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "github.com/apache/arrow-go/v18/parquet/pqarrow\n")
}
