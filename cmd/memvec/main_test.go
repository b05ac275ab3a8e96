package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/memvec/memvec"
	"github.com/memvec/memvec/internal/testdir"
	"github.com/stretchr/testify/require"
)

// asCommand names the environment variable that makes the test binary run
// as the memvec command: the tests run the command as a real process, with
// its own standard output, error and exit status, from the test binary
// itself rather than from a go build, so that they need no Go toolchain
// where they run (the Windows tests run under Wine, which has none).
const asCommand = "MEMVEC_TEST_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(asCommand) == "1" {
		main()
		return // main exits
	}
	os.Exit(m.Run())
}

// memvecCmd returns the memvec command with args, to run as a process.
func memvecCmd(t *testing.T, ctx context.Context, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, exe, args...)
	// Under the race detector, a process sleeps a second at exit unless
	// told not to.
	cmd.Env = append(os.Environ(), asCommand+"=1", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	return cmd
}

// memvecRun runs the memvec command with args and returns its standard
// output and error, with the path of file replaced by FILE, and its exit
// status.
func memvecRun(t *testing.T, file string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := memvecCmd(t, ctx, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run memvec %s: %v", strings.Join(args, " "), err)
	}
	if !cmd.ProcessState.Exited() {
		// Its exit status is -1: the log says which signal ended it.
		t.Logf("memvec %s: %v", strings.Join(args, " "), cmd.ProcessState)
	}
	hide := func(s string) string {
		if file == "" {
			return s
		}
		return strings.ReplaceAll(s, file, "FILE")
	}
	return hide(out.String()), hide(errOut.String()), cmd.ProcessState.ExitCode()
}

// tempDir returns a new temporary directory, removed when the test ends,
// also under Wine (see package testdir).
func tempDir(t *testing.T) string {
	t.Helper()
	return testdir.New(t, "memvec-cmd-test-")
}

// The element types of the tests: nested and named structs, arrays of
// primitives, of arrays and of structs, padding by hand and Go's, bools,
// complex numbers, a named primitive.
type (
	Vec3    struct{ X, Y, Z float64 }
	Celsius float32
	Reading struct {
		ID   uint32
		OK   bool // 3 bytes of Go's padding after it
		Pos  Vec3
		Temp Celsius
		Tags [3]int16
		_    [2]byte // padding by hand
		Z    complex64
		W    complex128
		Age  time.Duration
		Pts  [2]struct {
			A int8
			B uint16
		}
		Grid [2][2]uint8
		Big  uint64
		Neg  int64
	}
)

// readings are two Readings with ordinary values and extremes.
var readings = []Reading{
	{ID: 1, OK: true, Pos: Vec3{1, 2.5, -3}, Temp: 0.1, Tags: [3]int16{1, -2, 3}, Z: complex(1, -2), W: complex(0.5, 1e300),
		Age: time.Second, Grid: [2][2]uint8{{1, 2}, {3, 4}}, Big: 42, Neg: -42},
	{ID: math.MaxUint32, Pos: Vec3{math.NaN(), math.Inf(1), math.Copysign(0, -1)}, Temp: Celsius(math.Inf(-1)),
		Tags: [3]int16{math.MinInt16, math.MaxInt16, 0}, Z: complex(float32(math.Inf(-1)), float32(math.NaN())),
		W: complex(math.Copysign(0, -1), math.Inf(1)), Age: math.MinInt64,
		Pts: [2]struct {
			A int8
			B uint16
		}{{-128, 65535}, {127, 1}}, Big: math.MaxUint64, Neg: math.MinInt64},
}

// writeVec writes a vector file of xs at a new path and returns the path.
func writeVec[T any](t *testing.T, xs ...T) string {
	t.Helper()
	path := filepath.Join(tempDir(t), "test.vec")
	v, err := memvec.Open[T](path)
	require.NoError(t, err)
	for _, x := range xs {
		require.NoError(t, v.Push(x))
	}
	require.NoError(t, v.Close())
	return path
}

// fileInfo returns the header's fields of the file at path, as the
// library reads them.
func fileInfo(t *testing.T, path string) memvec.Info {
	t.Helper()
	r, err := memvec.OpenRaw(path)
	require.NoError(t, err)
	defer r.Close()
	in, ok := r.Info()
	require.True(t, ok)
	return in
}

// TestInfoShowsHeaderLayoutAndLengths: info prints the header, a line per
// field (arrays of primitives folded, named types named, padding shown)
// and the power-loss words.
func TestInfoShowsHeaderLayoutAndLengths(t *testing.T) {
	if strconv.IntSize == 32 {
		// The text below is Reading's 64-bit layout (8-byte fields at
		// 8-byte offsets); on 32-bit platforms they align to 4.
		// TestInfoOfOtherElements checks info there.
		t.Skip("the expected text is the 64-bit layout of Reading")
	}
	path := writeVec(t, readings...)
	in := fileInfo(t, path)
	out, errOut, status := memvecRun(t, path, "info", path)
	require.Equal(t, 0, status, errOut)
	require.Empty(t, errOut)
	want := fmt.Sprintf(`file         FILE
writer       none
format       version 6, little-endian
element      main.Reading, 112 bytes, align 8
fingerprint  0x%016x
data offset  %d
layout       %d bytes, in slot 0 of two of %d bytes (relabelled 0 times)
length       2
capacity     %d elements
file size    %d bytes

layout:
  offset  size  kind    field          type
       0     4  u32     ID
       4     1  bool    OK
       5     3  -       (padding)
       8    24  struct  Pos            main.Vec3
       8     8  f64     Pos.X
      16     8  f64     Pos.Y
      24     8  f64     Pos.Z
      32     4  f32     Temp           main.Celsius
      36     6  i16     Tags[0..2]
      42     2  u8      _[0..1]
      44     8  c64     Z
      52     4  -       (padding)
      56    16  c128    W
      72     8  i64     Age            time.Duration
      80     8  array   Pts[0..1]      [2]struct{ A i8; B u16 }
      80     4  struct  Pts[0]
      80     1  i8      Pts[0].A
      81     1  -       (padding)
      82     2  u16     Pts[0].B
      84     4  struct  Pts[1]
      84     1  i8      Pts[1].A
      85     1  -       (padding)
      86     2  u16     Pts[1].B
      88     4  array   Grid[0..1]     [2][2]u8
      88     2  u8      Grid[0][0..1]
      90     2  u8      Grid[1][0..1]
      92     4  -       (padding)
      96     8  u64     Big
     104     8  i64     Neg

power loss (FORMAT.md, "Power loss"):
  length word      2
  base length      0
  checked lengths  0, 2
  generation       0
  writer's boot    %#016x
  rebooted since   no: a reader counts the length word
`, in.Fingerprint, in.DataOffset, in.LayoutSize, in.SlotSize, in.Cap, in.FileSize, in.BootID)
	require.Equal(t, want, out)
	require.Equal(t, 128+2*in.SlotSize, in.DataOffset, "the data right after the slots, at a multiple of 64")
	require.Greater(t, in.SlotSize, 2*in.LayoutSize+8, "room for a layout twice as long")
}

// TestInfoOfOtherElements: a primitive element is one line, an array
// element its arrays, a zero-size element has no fields.
func TestInfoOfOtherElements(t *testing.T) {
	layout := func(out string) string {
		_, l, ok := strings.Cut(out, "\nlayout:\n")
		require.True(t, ok, out)
		l, _, _ = strings.Cut(l, "\n\n")
		return l
	}
	out, _, status := memvecRun(t, "", "info", writeVec(t, 1.5, 2.5))
	require.Equal(t, 0, status)
	require.Contains(t, out, fmt.Sprintf("\nelement      f64, 8 bytes, align %d\n", unsafe.Alignof(float64(0)))) // 4 on 32-bit platforms
	require.Equal(t, "  offset  size  kind  field      type\n       0     8  f64   (element)", layout(out))

	out, _, status = memvecRun(t, "", "info", writeVec(t, [2][3]int16{}))
	require.Equal(t, 0, status)
	require.Contains(t, out, "\nelement      [2][3]i16, 12 bytes, align 2\n")
	require.Equal(t, `  offset  size  kind   field      type
       0    12  array  [0..1]     [2][3]i16
       0     6  i16    [0][0..2]
       6     6  i16    [1][0..2]`, layout(out))

	out, _, status = memvecRun(t, "", "info", writeVec(t, struct{}{}, struct{}{}))
	require.Equal(t, 0, status)
	require.Contains(t, out, "\nelement      struct{}, 0 bytes, align 1\n")
	require.Contains(t, out, "\nlength       2\ncapacity     unbounded (zero-size elements)\n")
	require.Equal(t, "  offset  size  kind  field  type", layout(out))
}

// TestDumpCSVAndJSONL: every primitive of every element, decoded from the
// stored layout, blank fields and padding skipped; integers exact, floats
// shortest, NaN and infinities as strconv writes them (strings in JSON),
// complex numbers as Go writes them in csv and as pairs in JSON.
func TestDumpCSVAndJSONL(t *testing.T) {
	path := writeVec(t, readings...)
	const csv = `ID,OK,Pos.X,Pos.Y,Pos.Z,Temp,Tags[0],Tags[1],Tags[2],Z,W,Age,Pts[0].A,Pts[0].B,Pts[1].A,Pts[1].B,Grid[0][0],Grid[0][1],Grid[1][0],Grid[1][1],Big,Neg
1,true,1,2.5,-3,0.1,1,-2,3,(1-2i),(0.5+1e+300i),1000000000,0,0,0,0,1,2,3,4,42,-42
4294967295,false,NaN,+Inf,-0,-Inf,-32768,32767,0,(-Inf+NaNi),(-0+Infi),-9223372036854775808,-128,65535,127,1,0,0,0,0,18446744073709551615,-9223372036854775808
`
	const jsonl = `{"ID":1,"OK":true,"Pos":{"X":1,"Y":2.5,"Z":-3},"Temp":0.1,"Tags":[1,-2,3],"Z":[1,-2],"W":[0.5,1e+300],"Age":1000000000,"Pts":[{"A":0,"B":0},{"A":0,"B":0}],"Grid":[[1,2],[3,4]],"Big":42,"Neg":-42}
{"ID":4294967295,"OK":false,"Pos":{"X":"NaN","Y":"+Inf","Z":-0},"Temp":"-Inf","Tags":[-32768,32767,0],"Z":["-Inf","NaN"],"W":[-0,"+Inf"],"Age":-9223372036854775808,"Pts":[{"A":-128,"B":65535},{"A":127,"B":1}],"Grid":[[0,0],[0,0]],"Big":18446744073709551615,"Neg":-9223372036854775808}
`
	lines := func(s string, i, j int) string {
		l := strings.SplitAfter(s, "\n")
		return strings.Join(l[i:j], "")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"dump"}, csv},
		{[]string{"dump", "-format", "csv"}, csv},
		{[]string{"dump", "-format", "jsonl"}, jsonl},
		{[]string{"dump", "-from", "1"}, lines(csv, 0, 1) + lines(csv, 2, 3)},
		{[]string{"dump", "-to", "1", "-format", "jsonl"}, lines(jsonl, 0, 1)},
		{[]string{"dump", "-from", "1", "-to", "1"}, lines(csv, 0, 1)},
		{[]string{"dump", "-from", "1", "-to", "5", "-format", "jsonl"}, lines(jsonl, 1, 2)}, // clamped
		{[]string{"dump", "-from", "7", "-to", "9"}, lines(csv, 0, 1)},
	} {
		out, errOut, status := memvecRun(t, path, append(c.args, path)...)
		require.Equal(t, 0, status, "%v: %s", c.args, errOut)
		require.Empty(t, errOut, c.args)
		require.Equal(t, c.want, out, c.args)
	}
}

// tenth is 0.1 in a variable: 0.1+0.2 in constants is exactly 0.3.
var tenth = 0.1

// TestDumpOtherElements: a primitive element is a "value" column and a
// bare JSON value; an array element is a JSON array; a zero-size element
// an empty row and {}; a vector without elements a csv header alone; an
// empty file nothing.
func TestDumpOtherElements(t *testing.T) {
	for _, c := range []struct {
		name       string
		path       string
		csv, jsonl string
	}{
		{"float64", writeVec(t, 1.5, math.NaN(), math.Inf(-1), tenth+0.2, 1e21, -5e-324),
			"value\n1.5\nNaN\n-Inf\n0.30000000000000004\n1e+21\n-5e-324\n",
			"1.5\n\"NaN\"\n\"-Inf\"\n0.30000000000000004\n1e+21\n-5e-324\n"},
		{"bool", writeVec(t, true, false), "value\ntrue\nfalse\n", "true\nfalse\n"},
		{"complex64", writeVec(t, complex64(complex(1.5, -0.25))), "value\n(1.5-0.25i)\n", "[1.5,-0.25]\n"},
		{"array", writeVec(t, [2][3]int16{{1, 2, 3}, {-4, -5, -6}}),
			"[0][0],[0][1],[0][2],[1][0],[1][1],[1][2]\n1,2,3,-4,-5,-6\n", "[[1,2,3],[-4,-5,-6]]\n"},
		{"blank only", writeVec(t, struct {
			A uint8
			_ [3]byte
			B [2]struct {
				_ uint16
				C uint16
			}
		}{A: 7}), "A,B[0].C,B[1].C\n7,0,0\n", `{"A":7,"B":[{"C":0},{"C":0}]}` + "\n"},
		{"zero-size", writeVec(t, struct{}{}, struct{}{}), "\n\n\n", "{}\n{}\n"},
		{"no elements", writeVec[Vec3](t), "X,Y,Z\n", ""},
		{"empty file", writeFile(t, nil), "", ""},
	} {
		out, errOut, status := memvecRun(t, "", "dump", c.path)
		require.Equal(t, 0, status, "%s: %s", c.name, errOut)
		require.Equal(t, c.csv, out, c.name)
		out, errOut, status = memvecRun(t, "", "dump", "-format", "jsonl", c.path)
		require.Equal(t, 0, status, "%s: %s", c.name, errOut)
		require.Equal(t, c.jsonl, out, c.name)
	}
}

// TestDumpWrapperFields: a field of a wrapper type, a struct whose one
// field that is not blank is unexported (atomic.Uint64, or a type of the
// user's), is one value named by the field's path ("Hits", not "Hits.v");
// a struct whose one field is exported keeps its path ("E.X"), and so
// does a struct with two fields.
func TestDumpWrapperFields(t *testing.T) {
	type wrapped struct{ x int32 }
	type elem struct {
		Hits atomic.Uint64
		W    wrapped
		E    struct{ X int32 }
		Two  struct{ a, b int16 }
		Arr  [2]atomic.Int32
	}
	path := filepath.Join(tempDir(t), "wrap.vec")
	v, err := memvec.Open[elem](path)
	require.NoError(t, err)
	require.NoError(t, v.Grow(1))
	require.NoError(t, v.Push(elem{W: wrapped{x: -3}, E: struct{ X int32 }{X: 4}, Two: struct{ a, b int16 }{a: 1, b: 2}}))
	v.Slice()[0].Hits.Store(5)
	v.Slice()[0].Arr[1].Store(-7)
	require.NoError(t, v.Close())

	out, errOut, status := memvecRun(t, "", "dump", path)
	require.Equal(t, 0, status, errOut)
	require.Equal(t, "Hits,W,E.X,Two.a,Two.b,Arr[0],Arr[1]\n5,-3,4,1,2,0,-7\n", out)
	out, errOut, status = memvecRun(t, "", "dump", "-format", "jsonl", path)
	require.Equal(t, 0, status, errOut)
	require.Equal(t, `{"Hits":5,"W":-3,"E":{"X":4},"Two":{"a":1,"b":2},"Arr":[0,-7]}`+"\n", out)
}

// TestDumpLargeElement: an element larger than the encoder's buffer
// streams whole, in order.
func TestDumpLargeElement(t *testing.T) {
	var big [20000]float64
	for i := range big {
		big[i] = float64(i) / 3
	}
	path := writeVec(t, big, big)
	var header, row, arr strings.Builder
	for i, x := range big {
		if i > 0 {
			header.WriteByte(',')
			row.WriteByte(',')
			arr.WriteByte(',')
		}
		header.WriteString("[" + strconv.Itoa(i) + "]")
		row.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		arr.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	}
	require.Greater(t, row.Len(), 3*flushAt)
	out, _, status := memvecRun(t, path, "dump", path)
	require.Equal(t, 0, status)
	require.Equal(t, header.String()+"\n"+row.String()+"\n"+row.String()+"\n", out)
	out, _, status = memvecRun(t, path, "dump", "-format", "jsonl", "-from", "1", path)
	require.Equal(t, 0, status)
	require.Equal(t, "["+arr.String()+"]\n", out)
}

// writeFile writes b to a new file and returns its path.
func writeFile(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(tempDir(t), "test.vec")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path
}

// TestCheck: a valid file and an empty one pass; every damaged one fails
// with the library's reason, for every command, with exit status 1.
func TestCheck(t *testing.T) {
	// ran says what a run printed, for every failure's message: a status
	// alone would not tell why it is not the one wanted.
	ran := func(what string, out, errOut string, status int) string {
		return fmt.Sprintf("%s: exit status %d, standard output %q, standard error %q", what, status, out, errOut)
	}
	good := writeVec(t, readings...)
	out, errOut, status := memvecRun(t, good, "check", good)
	require.Equal(t, 0, status, ran("check of two Readings", out, errOut, status))
	require.Empty(t, errOut, ran("check of two Readings", out, errOut, status))
	require.Equal(t, "FILE: valid, 2 elements of main.Reading\n", out, ran("check of two Readings", out, errOut, status))

	one := writeVec(t, Vec3{1, 2, 3})
	out, errOut, status = memvecRun(t, one, "check", one)
	require.Equal(t, 0, status, ran("check of one Vec3", out, errOut, status))
	require.Equal(t, "FILE: valid, 1 element of main.Vec3\n", out, ran("check of one Vec3", out, errOut, status))

	for _, b := range [][]byte{nil, make([]byte, 4096)} {
		empty := writeFile(t, b)
		what := fmt.Sprintf("check of a new file of %d zero bytes", len(b))
		out, errOut, status = memvecRun(t, empty, "check", empty)
		require.Equal(t, 0, status, ran(what, out, errOut, status))
		require.Empty(t, errOut, ran(what, out, errOut, status))
		require.Equal(t, "FILE: valid, a new vector file with no header yet: no elements\n", out, ran(what, out, errOut, status))
	}

	data, err := os.ReadFile(good)
	require.NoError(t, err)
	in := fileInfo(t, good)
	ne := binary.NativeEndian
	crc := func(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
	damaged := func(at int, c byte) []byte {
		b := bytes.Clone(data)
		b[at] ^= c
		return b
	}
	header := damaged(20, 0x01) // the element size's fifth byte
	section := damaged(140, 0x20)
	cut := data[:in.DataOffset+in.ElemSize+10]
	text := []byte(strings.Repeat("not a vector file\n", 20))
	_, notExist := os.Open(filepath.Join(tempDir(t), "missing.vec"))
	for _, c := range []struct {
		name string
		data []byte // nil: no file
		want string
	}{
		{"header", header, fmt.Sprintf("memvec: open FILE: corrupt region: header checksum is %#08x, header hashes to %#08x\n", ne.Uint32(header[60:]), crc(header[:52]))},
		{"layout slot", section, fmt.Sprintf("memvec: open FILE: corrupt region: layout slot 0's checksum is %#08x, the slot hashes to %#08x\n", ne.Uint32(section[128:]), crc(section[132:136+ne.Uint32(section[132:])]))},
		{"truncated", cut, fmt.Sprintf("memvec: open FILE: corrupt region: header counts 2 elements, the %d-byte region holds at most 1\n", len(cut))},
		{"text", text, "memvec: open FILE: corrupt region: not a memvec region: magic is \"not a ve\", want \"\\x89MEMVEC\\n\"\n"},
		{"short", []byte("hello\n"), "memvec: open FILE: corrupt region: region is 6 bytes, shorter than the 128-byte header\n"},
		{"zero header", make([]byte, 100<<10), "memvec: open FILE: corrupt region: header is all zero, but the region is 102400 bytes, more than a new one (at most 65536 bytes): its header may have been lost\n"},
		{"missing", nil, "memvec: open FILE: " + errors.Unwrap(notExist).Error() + "\n"},
	} {
		path := filepath.Join(tempDir(t), "missing.vec")
		if c.data != nil {
			path = writeFile(t, c.data)
		}
		for _, cmd := range []string{"check", "info", "dump"} {
			out, errOut, status := memvecRun(t, path, cmd, path)
			what := ran(c.name+": "+cmd, out, errOut, status)
			require.Equal(t, 1, status, what)
			require.Empty(t, out, what)
			require.Equal(t, c.want, errOut, what)
		}
	}
}

// TestCheckPowerLossWords: check verifies the power-loss checksums. On
// the writer's boot, one that does not hold is a warning (a reader counts
// the length word); after a reboot, it is what the length keeps, and a
// shorter length than the length word's is a warning. An odd generation
// is a warning.
func TestCheckPowerLossWords(t *testing.T) {
	path := filepath.Join(tempDir(t), "test.vec")
	v, err := memvec.Open[Vec3](path)
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, v.Push(Vec3{X: float64(i)}))
	}
	require.NoError(t, v.Sync())
	require.NoError(t, v.Push(Vec3{X: 3}))
	require.NoError(t, v.Push(Vec3{X: 4}))
	require.NoError(t, v.Close())
	in := fileInfo(t, path)
	require.Equal(t, []uint64{3, 3, 5}, []uint64{in.BaseLen, in.Checked1, in.Checked2})

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	ne := binary.NativeEndian
	elem := func(i int) int { return in.DataOffset + i*in.ElemSize }
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	require.Equal(t, uint32(0), in.Sum1, "the checksum of no elements, [3, 3)")
	require.Equal(t, crc32.Checksum(data[elem(3):elem(5)], castagnoli), in.Sum2, "the checksum of elements [3, 5)")
	torn := bytes.Clone(data)
	torn[elem(4)+3] ^= 0x10 // element 4, past the first checked length
	tornSum := crc32.Checksum(torn[elem(3):elem(5)], castagnoli)
	mismatch := fmt.Sprintf("the checksum of elements [3, 5) is %#08x, the header says %#08x", tornSum, ne.Uint32(data[124:]))
	odd := bytes.Clone(data)
	ne.PutUint64(odd[80:], 7)

	rebooted := func(b []byte) []byte {
		b = bytes.Clone(b)
		ne.PutUint64(b[112:], in.BootID^0xff) // another boot than this one
		return b
	}
	cases := []struct {
		name     string
		data     []byte
		out      string
		warnings string
	}{
		{"intact", data, "FILE: valid, 5 elements of main.Vec3\n", ""},
		{"torn", torn, "FILE: valid, 5 elements of main.Vec3; 2 not durable yet: after a reboot, a reader would count 3 elements\n",
			"memvec: check FILE: warning: " + mismatch + ": after a reboot, a reader would count 3 elements, not 5; this machine has not rebooted since the writer opened the file, so a reader counts the length word and nothing is lost, and a writer's next Sync or Close records the checksums anew\n"},
		{"odd generation", odd, "FILE: valid, 5 elements of main.Vec3\n",
			"memvec: check FILE: warning: the generation is odd: a writer died in the middle of a rewrite (Set, Insert, Remove, ...), which may have left an element half written\n"},
	}
	if in.BootID != 0 { // this system tells its boots apart
		cases = append(cases, []struct {
			name     string
			data     []byte
			out      string
			warnings string
		}{
			{"intact, rebooted", rebooted(data), "FILE: valid, 5 elements of main.Vec3\n", ""},
			{"torn, rebooted", rebooted(torn), "FILE: valid, 3 elements of main.Vec3\n",
				"memvec: check FILE: warning: the machine has rebooted since the writer opened the file: a reader counts the 3 elements the power-loss checksums keep, not the 5 of the length word (" + mismatch + ")\n"},
		}...)
	}
	for _, c := range cases {
		p := writeFile(t, c.data)
		out, errOut, status := memvecRun(t, p, "check", p)
		require.Equal(t, 0, status, c.name)
		require.Equal(t, c.out, out, c.name)
		require.Equal(t, c.warnings, errOut, c.name)
	}
	if in.BootID != 0 {
		p := writeFile(t, rebooted(torn))
		out, _, status := memvecRun(t, p, "info", p)
		require.Equal(t, 0, status)
		require.Contains(t, out, "\nlength       3 (the length word says 5: see power loss below)\n")
		require.Contains(t, out, "\n  rebooted since   yes: a reader counts 3, as far as the checksums hold\n")
		out, _, status = memvecRun(t, p, "dump", p)
		require.Equal(t, 0, status)
		require.Equal(t, "X,Y,Z\n0,0,0\n1,0,0\n2,0,0\n", out)
	}
}

// TestCommandsReadBesideAWriter: a file a writer has open is read as a
// follower reads it, and said to be.
func TestCommandsReadBesideAWriter(t *testing.T) {
	path := filepath.Join(tempDir(t), "test.vec")
	w, err := memvec.Open[Vec3](path)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, w.Push(Vec3{1, 2, 3}))
	require.NoError(t, w.Push(Vec3{4, 5, 6}))

	out, errOut, status := memvecRun(t, path, "check", path)
	require.Equal(t, 0, status, errOut)
	require.Equal(t, "FILE: valid, 2 elements of main.Vec3 (a writer has it open)\n", out)
	out, errOut, status = memvecRun(t, path, "info", path)
	require.Equal(t, 0, status, errOut)
	require.Contains(t, out, "file         FILE\nwriter       has the file open: read as a follower\nformat ")
	out, errOut, status = memvecRun(t, path, "dump", path)
	require.Equal(t, 0, status, errOut)
	require.Equal(t, "X,Y,Z\n1,2,3\n4,5,6\n", out)
}

// TestUsageErrors: a command line that does not parse is a message and
// the synopsis on standard error, exit status 2; help is the usage on
// standard output, exit status 0.
func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{nil, "no command"},
		{[]string{"frobnicate", "x.vec"}, `unknown command "frobnicate"`},
		{[]string{"info"}, "info: no FILE"},
		{[]string{"check", "a.vec", "b.vec"}, "check: one FILE, not 2 arguments: a.vec b.vec (flags go before FILE)"},
		{[]string{"dump", "x.vec", "-format", "jsonl"}, "dump: one FILE, not 3 arguments: x.vec -format jsonl (flags go before FILE)"},
		{[]string{"dump", "-format", "xml", "x.vec"}, "dump: -format xml: want csv or jsonl"},
		{[]string{"dump", "-from", "-1", "x.vec"}, "dump: -from -1 is negative"},
		{[]string{"dump", "-to", "-2", "x.vec"}, "dump: -to -2 is negative"},
		{[]string{"dump", "-from", "3", "-to", "2", "x.vec"}, "dump: -from 3 is past -to 2"},
		{[]string{"dump", "-from", "x", "x.vec"}, `dump: invalid value "x" for flag -from: parse error`},
		{[]string{"dump", "-n", "3", "x.vec"}, "dump: flag provided but not defined: -n"},
		{[]string{"info", "-follow", "x.vec"}, "info: flag provided but not defined: -follow"},
	} {
		out, errOut, status := memvecRun(t, "", c.args...)
		require.Equal(t, 2, status, c.args)
		require.Empty(t, out, c.args)
		require.Equal(t, "memvec: "+c.msg+"\n"+synopsis, errOut, c.args)
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"dump", "-h"}, {"info", "-help"}} {
		out, errOut, status := memvecRun(t, "", args...)
		require.Equal(t, 0, status, args)
		require.Empty(t, errOut, args)
		require.Equal(t, usage, out, args)
	}
}

// TestDumpFollow: dump -follow started before its writer prints the
// elements as the writer pushes them, says so when the writer rewrites
// some, and exits with status 0 at SIGINT (on Unix; Windows has no
// signal to send another process, so the test kills it there).
func TestDumpFollow(t *testing.T) {
	path := writeFile(t, nil) // the writer has not started yet
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := memvecCmd(t, ctx, "dump", "-follow", "-format", "jsonl", path)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	lines := make(chan string)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
	}()
	next := func() string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait() // so that stderr holds all the follower wrote
				t.Fatalf("the follower's output ended; its standard error: %s", stderr.String())
			}
			return l
		case <-ctx.Done():
			t.Fatalf("no line from the follower: %v", ctx.Err())
		}
		return ""
	}

	w, err := memvec.Open[Vec3](path)
	require.NoError(t, err)
	defer w.Close()
	line := func(x float64) string { return fmt.Sprintf(`{"X":%g,"Y":0,"Z":0}`, x) }
	for i := range 3 {
		require.NoError(t, w.Push(Vec3{X: float64(i)}))
	}
	for i := range 3 {
		require.Equal(t, line(float64(i)), next())
	}
	for i := 3; i < 8; i++ {
		require.NoError(t, w.Push(Vec3{X: float64(i)}))
		require.Equal(t, line(float64(i)), next())
	}
	// A rewrite: the follower says so, and goes on with element 8.
	w.Set(0, Vec3{X: 100})
	require.NoError(t, w.Push(Vec3{X: 8}))
	require.Equal(t, line(8), next())

	if runtime.GOOS == "windows" {
		require.NoError(t, cmd.Process.Kill())
		cmd.Wait()
		return
	}
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	for l := range lines {
		t.Errorf("unexpected line after the last element: %s", l)
	}
	require.NoError(t, cmd.Wait(), "exit status 0 at SIGINT; standard error: %s", stderr.String())
	require.Equal(t, fmt.Sprintf("memvec: dump %s: the writer changed or dropped elements: those printed may have changed; going on from element 8\n", path), stderr.String())
}

// TestDumpFollowTo: dump -follow with -to exits by itself once it has
// printed element J-1.
func TestDumpFollowTo(t *testing.T) {
	path := writeVec(t, Vec3{X: 0})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := memvecCmd(t, ctx, "dump", "-follow", "-from", "1", "-to", "4", path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	w, err := memvec.Open[Vec3](path)
	require.NoError(t, err)
	defer w.Close()
	for i := 1; i < 10; i++ {
		require.NoError(t, w.Push(Vec3{X: float64(i)}))
	}
	require.NoError(t, cmd.Wait(), stderr.String())
	require.Equal(t, "X,Y,Z\n1,0,0\n2,0,0\n3,0,0\n", stdout.String())
	require.Empty(t, stderr.String())
}

// TestEncoderAllocatesNothingPerElement: the encoder appends to one
// buffer that it reuses.
func TestEncoderAllocatesNothingPerElement(t *testing.T) {
	l, err := memvec.LayoutOf[Reading]()
	require.NoError(t, err)
	p := unsafe.Slice((*byte)(unsafe.Pointer(&readings[1])), unsafe.Sizeof(readings[1]))
	for _, jsonl := range []bool{false, true} {
		e := newEncoder(l, jsonl, bufio.NewWriter(io.Discard))
		e.header()
		require.Zero(t, testing.AllocsPerRun(1000, func() { e.element(p) }), "jsonl %v", jsonl)
	}
}

// TestComplexAsGoWritesIt: csv writes complex numbers as
// strconv.FormatComplex does, signs of special values included.
func TestComplexAsGoWritesIt(t *testing.T) {
	nan, inf, negZero := math.NaN(), math.Inf(1), math.Copysign(0, -1)
	negNaN := math.Float64frombits(math.Float64bits(nan) | 1<<63)
	parts := []float64{0, negZero, 1, -1, 1e-7, -2.5e300, inf, -inf, nan, negNaN}
	for _, re := range parts {
		for _, im := range parts {
			c := complex(re, im)
			require.Equal(t, strconv.FormatComplex(c, 'g', -1, 128), string(appendComplex(nil, re, im, 64, false)))
			c64 := complex64(c)
			require.Equal(t, strconv.FormatComplex(complex128(c64), 'g', -1, 64),
				string(appendComplex(nil, float64(real(c64)), float64(imag(c64)), 32, false)))
		}
	}
}

// TestDumpFollowWaitsForTheFile: dump -follow started before its writer
// has created the file says so on standard error and waits, as tail -F
// does, then prints the elements the writer pushes once it has.
func TestDumpFollowWaitsForTheFile(t *testing.T) {
	path := filepath.Join(tempDir(t), "later.vec")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := memvecCmd(t, ctx, "dump", "-follow", "-to", "3", path)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	errOut := bufio.NewReader(stderr)
	line, err := errOut.ReadString('\n')
	require.NoError(t, err, "dump -follow said nothing on standard error")
	require.Equal(t, "memvec: dump "+path+": no such file yet: waiting for a writer to create it\n", line)
	_, err = os.Stat(path)
	require.ErrorIs(t, err, fs.ErrNotExist, "a follower never creates the file")

	w, err := memvec.Open[Vec3](path)
	require.NoError(t, err)
	defer w.Close()
	for i := range 3 {
		require.NoError(t, w.Push(Vec3{X: float64(i)}))
	}
	rest, _ := io.ReadAll(errOut) // before Wait, which closes the pipe
	require.NoError(t, cmd.Wait(), "standard error: %s", rest)
	require.Equal(t, "X,Y,Z\n0,0,0\n1,0,0\n2,0,0\n", stdout.String())
	require.Empty(t, string(rest))
}
