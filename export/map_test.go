package export

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memvec/memvec"
)

// mval is the value of the maps exported: fields of several kinds and
// sizes, a text field, a blank field, an array and padding (after OK,
// before F) that export leaves out.
type mval struct {
	A    int32
	Name [10]byte `memvec:"string"`
	_    [2]byte
	OK   bool
	F    [2]float64
	S    int16
}

// mvalColumns are the columns of a Map[uint64, mval]'s export.
var mvalColumns = []string{"Key", "Value.A", "Value.Name", "Value.OK", "Value.F[0]", "Value.F[1]", "Value.S"}

// mvalTypes are their Arrow types.
var mvalTypes = []string{"uint64", "int32", "utf8", "bool", "float64", "float64", "int16"}

// makeMval returns the value of key k in its version gen.
func makeMval(k uint64, gen int) mval {
	v := mval{A: int32(k)*3 - int32(gen), OK: k%3 == 0, F: [2]float64{float64(k) / 2, -float64(gen)}, S: int16(k)}
	memvec.SetString(v.Name[:], fmt.Sprintf("k%dé%d", k%1000, gen))
	return v
}

// row returns an entry as the values of its row, in the order of
// mvalColumns.
func (v mval) row(k uint64) []any {
	return []any{k, v.A, memvec.StringOf(v.Name[:]), v.OK, v.F[0], v.F[1], v.S}
}

// rows returns the rows of table tb, each its values in column order.
func (tb table) rows(t *testing.T) [][]any {
	t.Helper()
	n := len(tb.values[0])
	rows := make([][]any, n)
	for i := range n {
		for c := range tb.names {
			require.Len(t, tb.values[c], n, "column %s", tb.names[c])
			rows[i] = append(rows[i], tb.values[c][i])
		}
	}
	return rows
}

// writeMapFile writes a Map[uint64, mval] of n keys, some deleted and
// some updated, in a map file that splits many times, and returns its
// path and its entries.
func writeMapFile(t *testing.T, n int) (string, map[uint64]mval) {
	t.Helper()
	path := filepath.Join(tempDir(t), "entries.map")
	m, err := memvec.OpenMap[uint64, mval](path)
	require.NoError(t, err)
	want := map[uint64]mval{}
	for i := range n {
		k := uint64(i)*0x9e3779b97f4a7c15 + 1 // keys all over the hash space
		v := makeMval(k, 0)
		require.NoError(t, m.Put(k, v))
		want[k] = v
		switch {
		case i%7 == 3:
			ok, err := m.Delete(k)
			require.NoError(t, err)
			require.True(t, ok)
			delete(want, k)
		case i%5 == 1:
			v = makeMval(k, 1)
			require.NoError(t, m.Put(k, v))
			want[k] = v
		}
	}
	require.Equal(t, len(want), m.Len())
	require.NoError(t, m.Close())
	return path, want
}

// requireMapRows requires the rows of tb to be the entries of want, in
// any order, each once.
func requireMapRows(t *testing.T, tb table, want map[uint64]mval) {
	t.Helper()
	require.Equal(t, mvalColumns, tb.names)
	require.Equal(t, mvalTypes, tb.types)
	rows := tb.rows(t)
	require.Len(t, rows, len(want))
	seen := map[uint64]bool{}
	for _, r := range rows {
		k := r[0].(uint64)
		require.False(t, seen[k], "key %d is in two rows", k)
		seen[k] = true
		v, ok := want[k]
		require.True(t, ok, "key %d is not in the map", k)
		require.Equal(t, v.row(k), r, "the row of key %d", k)
	}
}

// TestExportMapFile exports a map file of a few thousand entries, with
// deletes, updates and splits, to both formats, in many batches, and reads
// it back with arrow-go's readers: a row per entry, with the columns of
// struct{ Key uint64; Value mval }, text as strings, the blank field left
// out; every entry once.
func TestExportMapFile(t *testing.T) {
	smallBatches(t, 500, 1<<20)
	path, want := writeMapFile(t, 4000)
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	r, err := memvec.OpenRawMap(path)
	require.NoError(t, err)
	in, ok, err := r.Info()
	require.NoError(t, err)
	require.True(t, ok)
	require.Greater(t, in.Buckets, uint64(64), "the map split")
	size := int64(r.Layout().Size)
	require.NoError(t, r.Close())
	for _, f := range []Format{Parquet, Arrow} {
		t.Run(f.String(), func(t *testing.T) {
			var out bytes.Buffer
			var last Progress
			calls := 0
			require.NoError(t, File(&out, path, Options{Format: f, Progress: func(p Progress) { last = p; calls++ }}))
			n := len(want)
			require.Equal(t, Progress{Done: n, Total: n, DoneBytes: int64(n) * size, TotalBytes: int64(n) * size}, last)
			require.Equal(t, (n+499)/500+1, calls, "a call per batch of 500, and one at the end")
			requireMapRows(t, readBack(t, out.Bytes(), f), want)
		})
	}
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "the input is never written")
}

// TestExportRawMap exports an open RawMap, as a program does: the same
// rows as File's.
func TestExportRawMap(t *testing.T) {
	path, want := writeMapFile(t, 1000)
	r, err := memvec.OpenRawMap(path)
	require.NoError(t, err)
	defer r.Close()
	var out bytes.Buffer
	require.NoError(t, RawMap(&out, r, Options{Format: Arrow}))
	requireMapRows(t, readBack(t, out.Bytes(), Arrow), want)
}

// TestExportMapText exports a map whose key and value are text fields,
// some not UTF-8 or filling the field: string columns, as dump prints
// them.
func TestExportMapText(t *testing.T) {
	type name struct {
		Name [8]byte `memvec:"string"`
	}
	type msg struct {
		N    uint16
		Text [6]byte `memvec:"string"`
	}
	path := filepath.Join(tempDir(t), "text.map")
	m, err := memvec.OpenMap[name, msg](path)
	require.NoError(t, err)
	entries := []struct {
		k, v string
		n    uint16
	}{{"ab", "x\xffy", 1}, {"eightchr", "full!!", 2}, {"", "", 3}, {"é", `\x41`, 4}}
	want := map[string][]any{
		"ab":       {"ab", uint16(1), `x\xffy`},
		"eightchr": {"eightchr", uint16(2), "full!!"},
		"":         {"", uint16(3), ""},
		"é":        {"é", uint16(4), `\x5cx41`},
	}
	for _, e := range entries {
		var k name
		v := msg{N: e.n}
		copy(k.Name[:], e.k)
		copy(v.Text[:], e.v)
		require.NoError(t, m.Put(k, v))
	}
	require.NoError(t, m.Close())
	for _, f := range []Format{Parquet, Arrow} {
		var out bytes.Buffer
		require.NoError(t, File(&out, path, Options{Format: f}))
		tb := readBack(t, out.Bytes(), f)
		require.Equal(t, []string{"Key.Name", "Value.N", "Value.Text"}, tb.names, f.String())
		require.Equal(t, []string{"utf8", "uint16", "utf8"}, tb.types, f.String())
		got := map[string][]any{}
		for _, r := range tb.rows(t) {
			got[r[0].(string)] = r
		}
		require.Equal(t, want, got, f.String())
	}
}

// TestExportEmptyMap: a map with no entries (none ever, or every one
// deleted) is a file of the columns and no rows.
func TestExportEmptyMap(t *testing.T) {
	dir := tempDir(t)
	never := filepath.Join(dir, "never.map")
	m, err := memvec.OpenMap[uint64, mval](never)
	require.NoError(t, err)
	require.NoError(t, m.Close())
	deleted := filepath.Join(dir, "deleted.map")
	m, err = memvec.OpenMap[uint64, mval](deleted)
	require.NoError(t, err)
	for k := range uint64(300) {
		require.NoError(t, m.Put(k, makeMval(k, 0)))
	}
	for k := range uint64(300) {
		_, err := m.Delete(k)
		require.NoError(t, err)
	}
	require.NoError(t, m.Close())
	for _, path := range []string{never, deleted} {
		for _, f := range []Format{Parquet, Arrow} {
			var out bytes.Buffer
			var last Progress
			require.NoError(t, File(&out, path, Options{Format: f, Progress: func(p Progress) { last = p }}))
			require.Equal(t, Progress{}, last)
			requireMapRows(t, readBack(t, out.Bytes(), f), nil)
		}
	}
}

// TestExportMapBesideAWriter exports a map file that a writer has open
// and changes while export reads it, adding more entries than it deletes,
// or deleting more: the file holds the rows export read, each an entry the
// writer put at some point (a value is never torn), as many as the last
// progress says, not the Len of the start, which is only the first
// progress's total.
func TestExportMapBesideAWriter(t *testing.T) {
	for _, grow := range []bool{true, false} {
		name := map[bool]string{true: "grows", false: "shrinks"}[grow]
		t.Run(name, func(t *testing.T) {
			smallBatches(t, 100, 1<<20)
			path := filepath.Join(tempDir(t), "live.map")
			m, err := memvec.OpenMap[uint64, mval](path)
			require.NoError(t, err)
			defer m.Close()
			for k := range uint64(2000) {
				require.NoError(t, m.Put(k, makeMval(k, 0)))
			}
			next, deleted := uint64(2000), uint64(0)
			var progress []Progress
			var out bytes.Buffer
			err = File(&out, path, Options{Format: Parquet, Progress: func(p Progress) {
				progress = append(progress, p)
				// The writer goes on while export reads: new keys,
				// updates, deletes, and the splits they make.
				puts, deletes := 100, 10
				if !grow {
					puts, deletes = 10, 200
				}
				for range puts {
					require.NoError(t, m.Put(next, makeMval(next, 0)))
					require.NoError(t, m.Put(next/2, makeMval(next/2, 1)))
					next++
				}
				for range deletes {
					_, err := m.Delete(deleted)
					require.NoError(t, err)
					deleted++
				}
			}})
			require.NoError(t, err)
			require.Greater(t, len(progress), 2)
			require.Equal(t, 2000, progress[0].Total, "Len as export began")
			last := progress[len(progress)-1]
			tb := readBack(t, out.Bytes(), Parquet)
			require.Equal(t, mvalColumns, tb.names)
			rows := tb.rows(t)
			require.Equal(t, last.Done, len(rows), "the rows are those export read")
			require.Equal(t, last.Total, last.Done)
			if grow {
				require.Greater(t, len(rows), 2000)
			} else {
				require.Less(t, len(rows), 2000)
			}
			t.Logf("%d rows; the map had 2000 entries as export began, %d at the end", len(rows), m.Len())
			for _, r := range rows {
				k := r[0].(uint64)
				require.Less(t, k, next)
				if r[2] == makeMval(k, 0).row(k)[2] {
					require.Equal(t, makeMval(k, 0).row(k), r, "the row of key %d", k)
				} else {
					require.Equal(t, makeMval(k, 1).row(k), r, "the row of key %d", k)
				}
			}
		})
	}
}

// TestExportMapErrors: a damaged map file, or one cut while export reads
// it, is an error that names the path and matches errors.Is, not a crash;
// the map's own errors come through.
func TestExportMapErrors(t *testing.T) {
	path, _ := writeMapFile(t, 2000)
	b, err := os.ReadFile(path)
	require.NoError(t, err)

	// A map block whose bucket count B is past 2^48.
	r, err := memvec.OpenRawMap(path)
	require.NoError(t, err)
	in, _, err := r.Info()
	require.NoError(t, err)
	require.NoError(t, r.Close())
	bad := filepath.Join(tempDir(t), "bad.map")
	damaged := bytes.Clone(b)
	binary.NativeEndian.PutUint64(damaged[in.DataOffset:], 1<<50)
	require.NoError(t, os.WriteFile(bad, damaged, 0o644))
	err = File(&bytes.Buffer{}, bad, Options{})
	require.ErrorIs(t, err, memvec.ErrCorrupt)
	require.ErrorContains(t, err, bad)

	// Cut under the reader's mapping: the buckets fault. Windows refuses
	// to cut a file that a view maps, so there the export cannot meet it.
	r, err = memvec.OpenRawMap(path)
	require.NoError(t, err)
	defer r.Close()
	err = os.Truncate(path, 4096)
	if runtime.GOOS == "windows" {
		require.Error(t, err, "Windows cut a mapped file")
		return
	}
	require.NoError(t, err)
	err = RawMap(&bytes.Buffer{}, r, Options{})
	require.ErrorIs(t, err, memvec.ErrFileChanged)
	require.ErrorContains(t, err, path)
}

// TestExportMap exports a program's own map, in a file and anonymous
// (MakeMap), with Map: the rows RawMap gives the file's; an empty map is
// its columns and no rows.
func TestExportMap(t *testing.T) {
	smallBatches(t, 300, 1<<20)
	path, want := writeMapFile(t, 3000)
	m, err := memvec.OpenMap[uint64, mval](path, memvec.ReadOnly())
	require.NoError(t, err)
	defer m.Close()
	anon, err := memvec.MakeMap[uint64, mval](0)
	require.NoError(t, err)
	defer anon.Close()
	for _, f := range []Format{Parquet, Arrow} {
		var out bytes.Buffer
		require.NoError(t, Map(&out, anon, Options{Format: f}))
		requireMapRows(t, readBack(t, out.Bytes(), f), nil)

		out.Reset()
		var last Progress
		require.NoError(t, Map(&out, m, Options{Format: f, Progress: func(p Progress) { last = p }}))
		requireMapRows(t, readBack(t, out.Bytes(), f), want)
		require.Equal(t, len(want), last.Done)
	}
	for k, v := range want {
		require.NoError(t, anon.Put(k, v))
	}
	var out bytes.Buffer
	require.NoError(t, Map(&out, anon, Options{Format: Arrow}))
	requireMapRows(t, readBack(t, out.Bytes(), Arrow), want)
}

// TestExportMapSet exports a map whose values are of size 0 (a set of
// keys): the key's column alone, a row per key.
func TestExportMapSet(t *testing.T) {
	path := filepath.Join(tempDir(t), "set.map")
	m, err := memvec.OpenMap[int32, struct{}](path)
	require.NoError(t, err)
	want := map[int32]bool{}
	for i := range int32(500) {
		require.NoError(t, m.Put(i*7-1000, struct{}{}))
		want[i*7-1000] = true
	}
	require.NoError(t, m.Close())
	for _, f := range []Format{Parquet, Arrow} {
		var out bytes.Buffer
		require.NoError(t, File(&out, path, Options{Format: f}))
		tb := readBack(t, out.Bytes(), f)
		require.Equal(t, []string{"Key"}, tb.names)
		got := map[int32]bool{}
		for _, k := range tb.values[0] {
			got[k.(int32)] = true
		}
		require.Len(t, tb.values[0], len(want))
		require.Equal(t, want, got)
	}
}
