package export

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memvec/memvec"
)

// engineRec is the element of the vector the engines read.
type engineRec struct {
	A    int64
	B    float64
	C    uint32
	D    int32
	OK   bool
	Name [16]byte `memvec:"string"`
}

// found is what scripts/enginecheck/check.mjs prints for each engine.
type found struct {
	Vector struct {
		Count, SumA, SumB, SumC, SumD, CountOK, NamesMD5 string
		Types                                            []string
	}
	Bytes struct {
		Count, Bytes, RecordsMD5, Type string
	}
	Map struct {
		Count, SumKey, SumN, TagsMD5 string
		Types                        []string
	}
}

// engineMapValue is the value of the map the engines read.
type engineMapValue struct {
	N   int64
	Tag [8]byte `memvec:"string"`
}

// TestEnginesReadTheExport exports a vector file, a Bytes and a map file
// to Parquet and to Arrow, and has DuckDB read the Parquet files and Apache Arrow's
// JavaScript reader the Arrow files (scripts/enginecheck, with Node): the
// counts, the sums, the column types and every string are the vectors'.
// It skips where Node or the packages (npm ci in scripts/enginecheck) are
// missing, unless MEMVEC_REQUIRE_ENGINES=1, as CI sets it.
func TestEnginesReadTheExport(t *testing.T) {
	dir := filepath.Join("..", "scripts", "enginecheck")
	node, err := exec.LookPath("node")
	_, serr := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api"))
	if err != nil || serr != nil {
		if os.Getenv("MEMVEC_REQUIRE_ENGINES") == "1" {
			t.Fatalf("MEMVEC_REQUIRE_ENGINES=1, but node (%v) or the packages (%v; run npm ci in %s) are missing", err, serr, dir)
		}
		t.Skip("no node, or no node_modules in scripts/enginecheck (npm ci there)")
	}
	smallBatches(t, 30000, 1<<20) // a few row groups and record batches
	tmp := tempDir(t)
	const n = 100_000
	var sumA, sumC, sumD int64
	var sumB float64
	countOK := 0
	var names []string
	v, err := memvec.Open[engineRec](filepath.Join(tmp, "vec"))
	require.NoError(t, err)
	for i := range n {
		r := engineRec{A: int64(i) * 1_000_000_007, B: float64(i) / 4, C: uint32(i * 40_000), D: int32(i%1000 - 500), OK: i%7 == 0}
		name := fmt.Sprintf("näme %d", i)
		if i%1000 == 999 {
			name = "" // an empty text
		}
		memvec.SetString(r.Name[:], name)
		require.NoError(t, v.Push(r))
		sumA, sumB, sumC, sumD = sumA+r.A, sumB+r.B, sumC+int64(r.C), sumD+int64(r.D)
		if r.OK {
			countOK++
		}
		names = append(names, name)
	}
	require.NoError(t, v.Close())

	var records [][]byte
	var texts []string
	bytesTotal := 0
	for i := range 20_000 {
		s := strings.Repeat(fmt.Sprintf("record %d, ünïcode; ", i), i%5)
		records = append(records, []byte(s))
		texts = append(texts, s)
		bytesTotal += len(s)
	}
	bytesDir := writeRecords(t, records...)

	mapPath := filepath.Join(tmp, "map")
	m, err := memvec.OpenMap[uint64, engineMapValue](mapPath)
	require.NoError(t, err)
	var sumKey, sumN int64
	var tags []string
	for i := range 50_000 {
		k := uint64(i) * 1_000_003
		var v engineMapValue
		v.N = int64(i%777) - 300
		memvec.SetString(v.Tag[:], fmt.Sprintf("t%d", i))
		require.NoError(t, m.Put(k, v))
		if i%10 == 9 {
			_, err := m.Delete(k)
			require.NoError(t, err)
			continue
		}
		sumKey, sumN = sumKey+int64(k), sumN+v.N
		tags = append(tags, fmt.Sprintf("t%d", i))
	}
	require.NoError(t, m.Close())
	slices.Sort(tags)

	files := map[string]string{}
	for _, in := range []struct{ name, path string }{{"vec", filepath.Join(tmp, "vec")}, {"bytes", bytesDir}, {"map", mapPath}} {
		for _, f := range []Format{Parquet, Arrow} {
			out := filepath.Join(tmp, in.name+"."+f.String())
			w, err := os.Create(out)
			require.NoError(t, err)
			require.NoError(t, File(w, in.path, Options{Format: f}))
			require.NoError(t, w.Close())
			files[in.name+"."+f.String()] = out
		}
	}
	script, err := filepath.Abs(filepath.Join(dir, "check.mjs"))
	require.NoError(t, err)
	cmd := exec.Command(node, script, files["vec.parquet"], files["vec.arrow"], files["bytes.parquet"], files["bytes.arrow"], files["map.parquet"], files["map.arrow"])
	cmd.Dir = dir
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		t.Fatalf("node check.mjs: %v\n%s", err, ee.Stderr)
	}
	require.NoError(t, err)
	var engines map[string]found
	require.NoError(t, json.Unmarshal(out, &engines), "%s", out)
	require.Len(t, engines, 2)

	md5hex := func(ss []string) string {
		h := md5.Sum([]byte(strings.Join(ss, "\n")))
		return hex.EncodeToString(h[:])
	}
	wantTypes := map[string][]string{
		"duckdb": {"A BIGINT", "B DOUBLE", "C UINTEGER", "D INTEGER", "OK BOOLEAN", "Name VARCHAR"},
		"arrow":  {"A Int64", "B Float64", "C Uint32", "D Int32", "OK Bool", "Name Utf8"},
	}
	wantRecordType := map[string]string{"duckdb": "VARCHAR", "arrow": "LargeUtf8"}
	wantMapTypes := map[string][]string{
		"duckdb": {"Key UBIGINT", "Value.N BIGINT", "Value.Tag VARCHAR"},
		"arrow":  {"Key Uint64", "Value.N Int64", "Value.Tag Utf8"},
	}
	for engine, got := range engines {
		t.Logf("%s: %+v", engine, got)
		g := got.Vector
		require.Equal(t, strconv.Itoa(n), g.Count, engine)
		require.Equal(t, strconv.FormatInt(sumA, 10), g.SumA, engine)
		b, err := strconv.ParseFloat(g.SumB, 64)
		require.NoError(t, err)
		require.Equal(t, sumB, b, engine)
		require.Equal(t, strconv.FormatInt(sumC, 10), g.SumC, engine)
		require.Equal(t, strconv.FormatInt(sumD, 10), g.SumD, engine)
		require.Equal(t, strconv.Itoa(countOK), g.CountOK, engine)
		require.Equal(t, md5hex(names), g.NamesMD5, "%s: the strings", engine)
		require.Equal(t, wantTypes[engine], g.Types, engine)

		require.Equal(t, strconv.Itoa(len(records)), got.Bytes.Count, engine)
		require.Equal(t, strconv.Itoa(bytesTotal), got.Bytes.Bytes, engine)
		require.Equal(t, md5hex(texts), got.Bytes.RecordsMD5, "%s: the records", engine)
		require.Equal(t, wantRecordType[engine], got.Bytes.Type, engine)

		require.Equal(t, strconv.Itoa(len(tags)), got.Map.Count, engine)
		require.Equal(t, strconv.FormatInt(sumKey, 10), got.Map.SumKey, engine)
		require.Equal(t, strconv.FormatInt(sumN, 10), got.Map.SumN, engine)
		require.Equal(t, md5hex(tags), got.Map.TagsMD5, "%s: the map's tags", engine)
		require.Equal(t, wantMapTypes[engine], got.Map.Types, engine)
	}
}
