package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/require"

	"github.com/memvec/memvec/export"
)

// exportedSchema reads the schema and the number of rows of a Parquet or
// Arrow IPC file with arrow-go's readers.
func exportedSchema(t *testing.T, b []byte, format string) (*arrow.Schema, int64) {
	t.Helper()
	if format == "arrow" {
		r, err := ipc.NewFileReader(bytes.NewReader(b))
		require.NoError(t, err)
		rows := int64(0)
		for i := range r.NumRecords() {
			rec, err := r.RecordBatch(i)
			require.NoError(t, err)
			rows += rec.NumRows()
		}
		return r.Schema(), rows
	}
	pf, err := file.NewParquetReader(bytes.NewReader(b))
	require.NoError(t, err)
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	s, err := fr.Schema()
	require.NoError(t, err)
	return s, pf.NumRows()
}

// TestExportCommand: export writes a Parquet or an Arrow IPC file, to -o
// OUT or to standard output (the same bytes), whose columns are dump's
// csv columns and whose rows are the elements; a Bytes's records are one
// column; it prints nothing when standard error is not a terminal.
func TestExportCommand(t *testing.T) {
	path := writeVec(t, readings...)
	dumped, _, status := memvecRun(t, path, "dump", path)
	require.Equal(t, 0, status)
	header, err := csv.NewReader(strings.NewReader(dumped)).Read()
	require.NoError(t, err)
	// Complex fields are two columns: dump's column and .real, .imag.
	var want []string
	for _, h := range header {
		if h == "Z" || h == "W" {
			want = append(want, h+".real", h+".imag")
			continue
		}
		want = append(want, h)
	}
	bytesPath := writeBytes(t, dumpRecords...)
	for _, format := range []string{"parquet", "arrow"} {
		out := filepath.Join(tempDir(t), "out."+format)
		stdout, stderr, status := memvecRun(t, path, "export", "-format", format, "-o", out, path)
		require.Equal(t, 0, status, stderr)
		require.Empty(t, stdout)
		require.Empty(t, stderr, "no progress when standard error is no terminal")
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		schema, rows := exportedSchema(t, b, format)
		var names []string
		for _, f := range schema.Fields() {
			names = append(names, f.Name)
		}
		require.Equal(t, want, names, format)
		require.Equal(t, int64(len(readings)), rows)

		piped, stderr, status := memvecRun(t, path, "export", "-format", format, path)
		require.Equal(t, 0, status, stderr)
		require.True(t, bytes.Equal(b, []byte(piped)), "%s: standard output holds what -o wrote", format)

		piped, stderr, status = memvecRun(t, bytesPath, "export", "-format", format, bytesPath)
		require.Equal(t, 0, status, stderr)
		schema, rows = exportedSchema(t, []byte(piped), format)
		require.Equal(t, "record", schema.Field(0).Name)
		require.Equal(t, arrow.BinaryTypes.LargeBinary, schema.Field(0).Type, "some records are not UTF-8")
		require.Equal(t, int64(len(dumpRecords)), rows)
	}
}

// exportedRows reads every row of a Parquet or Arrow IPC file with
// arrow-go's readers: the columns' names, and each row's values.
func exportedRows(t *testing.T, b []byte, format string) ([]string, [][]any) {
	t.Helper()
	var recs []arrow.RecordBatch
	if format == "arrow" {
		r, err := ipc.NewFileReader(bytes.NewReader(b))
		require.NoError(t, err)
		for i := range r.NumRecords() {
			rec, err := r.RecordBatch(i)
			require.NoError(t, err)
			rec.Retain()
			recs = append(recs, rec)
		}
	} else {
		pf, err := file.NewParquetReader(bytes.NewReader(b))
		require.NoError(t, err)
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
		require.NoError(t, err)
		rr, err := fr.GetRecordReader(context.Background(), nil, nil)
		require.NoError(t, err)
		for rr.Next() {
			rec := rr.RecordBatch()
			rec.Retain()
			recs = append(recs, rec)
		}
		require.NoError(t, rr.Err())
	}
	var names []string
	var rows [][]any
	for i, rec := range recs {
		if i == 0 {
			for _, f := range rec.Schema().Fields() {
				names = append(names, f.Name)
			}
		}
		for r := range int(rec.NumRows()) {
			row := make([]any, rec.NumCols())
			for c := range row {
				row[c] = rec.Column(c).GetOneForMarshal(r)
			}
			rows = append(rows, row)
		}
		rec.Release()
	}
	return names, rows
}

// TestExportMapCommand: export writes a map file as a row per entry, with
// the columns Key, Value.X, Value.Y, Value.Z, every entry once (in no set
// order), to -o OUT or standard output.
func TestExportMapCommand(t *testing.T) {
	want := map[uint32]Vec3{}
	for i := range uint32(3000) {
		want[i*2654435761] = Vec3{float64(i), -float64(i) / 2, float64(i) * 3}
	}
	path := writeMap(t, want)
	for _, format := range []string{"parquet", "arrow"} {
		out := filepath.Join(tempDir(t), "out."+format)
		stdout, stderr, status := memvecRun(t, path, "export", "-format", format, "-o", out, path)
		require.Equal(t, 0, status, stderr)
		require.Empty(t, stdout)
		require.Empty(t, stderr)
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		names, rows := exportedRows(t, b, format)
		require.Equal(t, []string{"Key", "Value.X", "Value.Y", "Value.Z"}, names, format)
		require.Len(t, rows, len(want), format)
		got := map[uint32]Vec3{}
		for _, r := range rows {
			k := r[0].(uint32)
			_, twice := got[k]
			require.False(t, twice, "%s: key %d in two rows", format, k)
			got[k] = Vec3{r[1].(float64), r[2].(float64), r[3].(float64)}
		}
		require.Equal(t, want, got, format)

		piped, stderr, status := memvecRun(t, path, "export", "-format", format, path)
		require.Equal(t, 0, status, stderr)
		require.True(t, bytes.Equal(b, []byte(piped)), "%s: standard output holds what -o wrote", format)
	}
}

// TestExportFailureLeavesNoOutput: an export that fails leaves no OUT (and
// no file beside it), an OUT that was there as it was, and the input as it
// was; an OUT that is the input is refused. The errors name the path.
func TestExportFailureLeavesNoOutput(t *testing.T) {
	dir := tempDir(t)
	bad := filepath.Join(dir, "bad.vec")
	require.NoError(t, os.WriteFile(bad, bytes.Repeat([]byte("not a vector "), 1000), 0o644))
	out := filepath.Join(dir, "out.parquet")
	_, stderr, status := memvecRun(t, "", "export", "-format", "parquet", "-o", out, bad)
	require.Equal(t, 1, status)
	require.Contains(t, stderr, "memvec: ")
	require.Contains(t, stderr, bad)
	require.NoFileExists(t, out)

	require.NoError(t, os.WriteFile(out, []byte("an older export"), 0o644))
	_, _, status = memvecRun(t, "", "export", "-format", "arrow", "-o", out, bad)
	require.Equal(t, 1, status)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "an older export", string(b))

	_, stderr, status = memvecRun(t, "", "export", "-format", "arrow", "-o", out, filepath.Join(dir, "missing.vec"))
	require.Equal(t, 1, status)
	require.Contains(t, stderr, "memvec: export "+filepath.Join(dir, "missing.vec"))

	path := writeVec(t, readings...)
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	_, stderr, status = memvecRun(t, path, "export", "-format", "parquet", "-o", path, path)
	require.Equal(t, 1, status)
	require.Contains(t, stderr, "is the input itself")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{"bad.vec", "out.parquet"}, names, "no partial file is left")
}

// TestExportUsageErrors: a missing or unknown -format is a usage error,
// exit status 2.
func TestExportUsageErrors(t *testing.T) {
	path := writeVec(t, readings...)
	for _, args := range [][]string{{"export", path}, {"export", "-format", "csv", path}, {"export", "-format", "parquet"}} {
		_, stderr, status := memvecRun(t, path, args...)
		require.Equal(t, 2, status, "%v: %s", args, stderr)
		require.Contains(t, stderr, "usage: memvec")
	}
}

// TestProgressLine: the progress line's figures.
func TestProgressLine(t *testing.T) {
	line := progressLine(export.Progress{Done: 100, Total: 1000, DoneBytes: 1 << 20, TotalBytes: 10 << 20}, "elements", time.Second)
	require.Equal(t, "100 of 1000 elements, 1.0 of 10.0 MiB, 1.0 MiB/s, 0:00:09 left", line)
}
