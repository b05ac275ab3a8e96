//go:build unix || windows

package memvec

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"testing"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
	"github.com/stretchr/testify/require"
)

// The element types numpy must read: every primitive kind, nested structs,
// arrays of primitives, of structs and of arrays, text, padding by hand and
// Go's.
type (
	npInner struct {
		A int8 // 1 byte of Go's padding after it
		B [2]uint16
	}
	npCelsius float32
	npRecord  struct {
		Flag  bool
		I8    int8
		I16   int16
		I32   int32
		I64   int64
		U8    uint8
		U16   uint16
		U32   uint32
		U64   uint64
		F32   float32
		F64   float64
		C64   complex64
		C128  complex128
		_     [3]byte // padding by hand
		Inner npInner
		Pts   [3]npInner
		Grid  [2][3]float32
		Temp  npCelsius
		Name  [13]byte `memvec:"string"` // text: numpy's S13
		Last  bool     // Go pads the struct after it
	}
)

// npRecords returns n records: the minimum of every field, the maximum,
// the special floats (NaN with payloads, the infinities, -0, the smallest
// subnormals), then random bits.
func npRecords(n int) []npRecord {
	rs := make([]npRecord, n)
	for i := range rs {
		r := &rs[i]
		switch i {
		case 0:
			*r = npRecord{I8: math.MinInt8, I16: math.MinInt16, I32: math.MinInt32, I64: math.MinInt64,
				F32: -math.MaxFloat32, F64: -math.MaxFloat64, C64: complex(-math.MaxFloat32, math.SmallestNonzeroFloat32),
				C128: complex(-math.MaxFloat64, math.SmallestNonzeroFloat64)}
		case 1:
			*r = npRecord{Flag: true, I8: math.MaxInt8, I16: math.MaxInt16, I32: math.MaxInt32, I64: math.MaxInt64,
				U8: math.MaxUint8, U16: math.MaxUint16, U32: math.MaxUint32, U64: math.MaxUint64,
				F32: math.MaxFloat32, F64: math.MaxFloat64, Last: true}
			SetString(r.Name[:], "all 13 bytes!")
		case 2:
			nan32, nan64 := math.Float32frombits(0x7fc00001), math.Float64frombits(0xfff8000000000123)
			*r = npRecord{F32: nan32, F64: nan64, C64: complex(float32(math.Inf(1)), float32(math.Copysign(0, -1))),
				C128: complex(math.Inf(-1), math.NaN()), Temp: npCelsius(math.Inf(-1)),
				Grid: [2][3]float32{{nan32, float32(math.Copysign(0, -1)), float32(math.Inf(1))}, {1, 2, 3}}}
			SetString(r.Name[:], "é\xff\x00x") // UTF-8, a byte that is not, a zero inside
		default:
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			b := unsafe.Slice((*byte)(unsafe.Pointer(r)), unsafe.Sizeof(*r))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			r.Flag, r.Last = rng.IntN(2) == 1, rng.IntN(2) == 1 // a bool is 0 or 1
		}
	}
	return rs
}

// npColumn is a column of the manifest that scripts/check_memvec_numpy.py
// reads: a primitive's path and kind, and its value in every element.
type npColumn struct {
	Path   string `json:"path"`
	Kind   string `json:"kind"`
	Values []any  `json:"values"`
}

type npFile struct {
	Name     string      `json:"name"`
	File     string      `json:"file"`
	Len      int         `json:"len"`
	ItemSize int         `json:"itemsize"`
	Columns  []*npColumn `json:"columns"`
}

// npExpect describes what a file of xs must read as, from the Go values
// themselves (by reflection, not from the layout the file stores): a
// column per primitive that is not in a blank field, floats as their bits,
// a column per text field (tagged memvec:"string"), also when xs is empty.
func npExpect[T any](name, path string, xs []T) npFile {
	f := npFile{Name: name, File: path, Len: len(xs), ItemSize: int(unsafe.Sizeof(*new(T)))}
	byPath := map[string]*npColumn{}
	record := false // false: the columns of a zero T, without values
	add := func(path, kind string, x any) {
		c := byPath[path]
		if c == nil {
			c = &npColumn{Path: path, Kind: kind, Values: []any{}}
			byPath[path] = c
			f.Columns = append(f.Columns, c)
		}
		if record {
			c.Values = append(c.Values, x)
		}
	}
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		p := v.Addr().UnsafePointer()
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				name := v.Type().Field(i).Name
				if name == "_" {
					continue
				}
				if path != "" {
					name = path + "." + name
				}
				if v.Type().Field(i).Tag.Get("memvec") == "string" {
					// As numpy's S<N> holds it: the trailing zeros left out.
					add(name, "text", hex.EncodeToString(bytes.TrimRight(v.Field(i).Bytes(), "\x00")))
					continue
				}
				walk(v.Field(i), name)
			}
		case reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i), path+"["+strconv.Itoa(i)+"]")
			}
		case reflect.Bool:
			add(path, "bool", v.Bool())
		case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			add(path, "i", v.Int())
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			add(path, "u", v.Uint())
		case reflect.Float32:
			add(path, "f32", *(*uint32)(p))
		case reflect.Float64:
			add(path, "f64", *(*uint64)(p))
		case reflect.Complex64:
			add(path, "c64", *(*[2]uint32)(p))
		case reflect.Complex128:
			add(path, "c128", *(*[2]uint64)(p))
		default:
			panic("npExpect: " + v.Type().String())
		}
	}
	walk(reflect.ValueOf(new(T)).Elem(), "")
	record = true
	for i := range xs {
		walk(reflect.ValueOf(&xs[i]).Elem(), "")
	}
	return f
}

// npWrite writes a vector file of xs and returns what it must read as.
func npWrite[T any](t *testing.T, name string, xs []T) npFile {
	path := vecPath(t)
	v := openVec[T](t, path)
	require.NoError(t, v.Append(xs...))
	require.NoError(t, v.Close())
	return npExpect(name, path, xs)
}

// numpyPython returns a Python that imports numpy: $MEMVEC_PYTHON if set,
// else python3 from PATH, else Debian's /usr/bin/python3 (which a Python of
// one's own, earlier on PATH, may hide). It skips the test if there is
// none, unless MEMVEC_REQUIRE_NUMPY=1 (as in CI), which fails it.
func numpyPython(t *testing.T) string {
	candidates := []string{"python3", "/usr/bin/python3"}
	if p := os.Getenv("MEMVEC_PYTHON"); p != "" {
		candidates = []string{p}
	}
	var tried []string
	for _, p := range candidates {
		out, err := exec.Command(p, "-c", "import numpy").CombinedOutput()
		if err == nil {
			return p
		}
		tried = append(tried, p+": "+err.Error()+" "+string(out))
	}
	if os.Getenv("MEMVEC_REQUIRE_NUMPY") == "1" {
		t.Fatalf("MEMVEC_REQUIRE_NUMPY=1, but no Python with numpy: %q", tried)
	}
	t.Skipf("no Python with numpy (set MEMVEC_REQUIRE_NUMPY=1 to fail instead): %q", tried)
	return ""
}

// TestNumpyReadsFiles: scripts/memvec_numpy.py's load reads files written
// here into numpy arrays whose every value is the Go value, bit for bit,
// with a dtype it builds from the layout stored in the file.
func TestNumpyReadsFiles(t *testing.T) {
	python := numpyPython(t)
	records := npRecords(100)
	files := []npFile{
		npWrite(t, "records", records),
		npWrite(t, "float64", []float64{1.5, math.NaN(), math.Inf(-1), math.Copysign(0, -1), math.SmallestNonzeroFloat64}),
		npWrite(t, "array element", [][2][3]int16{{{1, 2, 3}, {4, 5, 6}}, {{-1, math.MinInt16, math.MaxInt16}}}),
		npWrite(t, "bool", []bool{true, false, true}),
		npWrite(t, "empty", []npRecord{}),
	}

	// After a reboot, numpy counts what memvec counts: as far as the
	// power-loss checksums hold. Python reads the boot identifier as
	// memvec does on Linux only.
	if runtime.GOOS == "linux" && region.BootID() != 0 {
		path := vecPath(t)
		v := openVec[npRecord](t, path)
		require.NoError(t, v.Append(records[:60]...))
		require.NoError(t, v.Sync())
		require.NoError(t, v.Append(records[60:]...))
		require.NoError(t, v.Close())
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		binary.NativeEndian.PutUint64(b[format.OffBootID:], region.BootID()^0xff) // another boot than this one
		rebooted := writeVecFile(t, b)
		off := int(binary.NativeEndian.Uint32(b[format.OffDataOffset:]))
		b[off+70*int(unsafe.Sizeof(npRecord{}))+20] ^= 1 // element 70, past the Sync
		torn := writeVecFile(t, b)
		for _, c := range []struct {
			name, path string
			want       int
		}{{"rebooted", rebooted, 100}, {"rebooted, torn", torn, 60}} {
			r, err := OpenRaw(c.path)
			require.NoError(t, err)
			require.Equal(t, c.want, r.Len(), "memvec's own count")
			require.NoError(t, r.Close())
			files = append(files, npExpect(c.name, c.path, records[:c.want]))
		}
	}

	manifest := filepath.Join(tempDir(t), "manifest.json")
	data, err := json.Marshal(files)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(manifest, data, 0o644))
	cmd := exec.Command(python, filepath.Join("scripts", "check_memvec_numpy.py"), manifest)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1") // no __pycache__ in scripts/
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("%s", out)
}

// TestPandasReadsTextFields: pandas makes a DataFrame of a file with a
// text field, as numpy's S<N> (a [N]byte without the tag is a subarray,
// which pandas refuses: "Data must be 1-dimensional"). It needs pandas
// beside numpy, which CI installs (python3-pandas), and skips or fails
// without it as TestNumpyReadsFiles does without numpy.
func TestPandasReadsTextFields(t *testing.T) {
	python := numpyPython(t)
	if out, err := exec.Command(python, "-c", "import pandas").CombinedOutput(); err != nil {
		if os.Getenv("MEMVEC_REQUIRE_NUMPY") == "1" {
			t.Fatalf("MEMVEC_REQUIRE_NUMPY=1, but %s has no pandas: %v %s", python, err, out)
		}
		t.Skipf("%s has no pandas (set MEMVEC_REQUIRE_NUMPY=1 to fail instead): %s", python, out)
	}
	type record struct {
		Time  int64
		Level uint8
		Msg   [55]byte `memvec:"string"`
	}
	var rs [3]record
	for i, msg := range []string{"run started, pid 42", "", "été, \"quoted\", and more"} {
		rs[i].Time, rs[i].Level = int64(i)*1000, uint8(i)
		SetString(rs[i].Msg[:], msg)
	}
	path := vecPath(t)
	writeVec(t, path, rs[:])
	script := `
import sys
sys.path.insert(0, "scripts")
import pandas
from memvec_numpy import load
df = pandas.DataFrame(load(sys.argv[1]))
print(list(df.columns), [m.decode() for m in df["Msg"]], list(df["Time"]), list(df["Level"]))
`
	cmd := exec.Command(python, "-c", script, path)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, `['Time', 'Level', 'Msg'] ['run started, pid 42', '', 'été, "quoted", and more'] [0, 1000, 2000] [0, 1, 2]`+"\n", string(out))
}
