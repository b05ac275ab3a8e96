//go:build unix

package memvec

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/require"
)

// needPython returns the path of python3, skipping the test without it
// unless MEMVEC_REQUIRE_NUMPY=1 (as CI sets) makes it a failure.
func needPython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("MEMVEC_REQUIRE_NUMPY") == "1" {
			t.Fatal("python3 is required (MEMVEC_REQUIRE_NUMPY=1) but missing")
		}
		t.Skip("python3 is not installed")
	}
	return py
}

// TestFormatPythonReader runs the Python reader that FORMAT.md publishes
// on a file Go wrote, and checks that it prints what FORMAT.md says it
// prints: the document and the format cannot drift apart.
func TestFormatPythonReader(t *testing.T) {
	needs64BitAlignment(t)
	if pageSize != 4096 {
		t.Skip("FORMAT.md's output is for 4 KiB pages")
	}
	py := needPython(t)
	m := formatDoc(t, "(?s)## Reading a file in Python\n.*?```python\n(.*?)```.*?it prints:\n\n```\n(.*?)```", "a Python reader with its output")
	dir := tempDir(t)
	script := filepath.Join(dir, "reader.py")
	require.NoError(t, os.WriteFile(script, m[1], 0o644))

	type Point struct{ X, Y, Z float64 }
	path := filepath.Join(dir, "points.vec")
	v := openVec[Point](t, path)
	require.NoError(t, v.Append(Point{1, 2, 3}, Point{4, 5, 6}, Point{7, 8, 9}))
	require.NoError(t, v.Close())
	out, err := exec.Command(py, script, path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, string(m[2]), string(out))
}

// TestFormatNumpyReader runs FORMAT.md's numpy function on a file Go
// wrote, then relabelled (so that its layout is in slot 1), and checks
// every value it maps, text included.
func TestFormatNumpyReader(t *testing.T) {
	py := numpyPython(t)
	m := formatDoc(t, "(?s)## Reading a file with numpy\n.*?```python\n(.*?)```", "a numpy reader")
	dir := tempDir(t)
	type (
		Rec struct {
			ID   uint32
			Pos  struct{ X, Y float64 }
			OK   bool
			_    [3]byte
			Val  [2]int16
			Name [6]byte
		}
		RecV2 struct {
			Key  uint32
			Pos  struct{ X, Y float64 }
			OK   bool
			_    [3]byte
			Val  [2]int16
			Name [6]byte `memvec:"string"`
		}
	)
	path := filepath.Join(dir, "recs.vec")
	v := openVec[Rec](t, path)
	for i := range 100 {
		r := Rec{ID: uint32(i), OK: i%3 == 0, Val: [2]int16{int16(-i), int16(i * 7)}}
		r.Pos.X, r.Pos.Y = float64(i)/4, -float64(i)
		SetString(r.Name[:], "n"+strconv.Itoa(i))
		require.NoError(t, v.Push(r))
	}
	require.NoError(t, v.Close())
	require.NoError(t, Relabel[RecV2](path))
	script := string(m[1]) + `
import sys
a = memmap(sys.argv[1])
assert len(a) == 100, len(a)
for i in range(100):
    r = a[i]
    assert r["Key"] == i and r["Pos"]["X"] == i / 4 and r["Pos"]["Y"] == -i, r
    assert bool(r["OK"]) == (i % 3 == 0) and list(r["Val"]) == [-i, i * 7], r
    assert r["Name"] == b"n%d" % i, r
print("ok", a.dtype.names, a.dtype["Name"])
`
	file := filepath.Join(dir, "numpy_reader.py")
	require.NoError(t, os.WriteFile(file, []byte(script), 0o644))
	out, err := exec.Command(py, file, path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "ok ('Key', 'Pos', 'OK', 'Val', 'Name') |S6\n", string(out))
}

// formatDoc returns the submatches of pattern in FORMAT.md, failing the
// test if it has no match: what, as in "FORMAT.md has no <what>".
func formatDoc(t *testing.T, pattern, what string) [][]byte {
	t.Helper()
	doc, err := os.ReadFile("FORMAT.md")
	require.NoError(t, err)
	m := regexp.MustCompile(pattern).FindSubmatch(doc)
	require.NotNil(t, m, "FORMAT.md has no %s", what)
	return m
}

// TestFormatStoredLayouts: the stored layouts FORMAT.md shows are the ones
// memvec writes, byte for byte (with package main's names for ours), and
// the sizes it gives for main.Point's file are those of a file Go makes.
func TestFormatStoredLayouts(t *testing.T) {
	needs64BitAlignment(t)
	type (
		Point  struct{ X, Y, Z float64 }
		Level  uint8
		Record struct {
			Time  int64
			Level Level
			Msg   [55]byte `memvec:"string"`
		}
	)
	m := formatDoc(t, "(?s)## The stored layout\n(.*?)\n## ", "a section on the stored layout")
	var shown []string
	for _, j := range regexp.MustCompile("(?s)```json\n(.*?)\n```").FindAllSubmatch(m[1], -1) {
		shown = append(shown, strings.ReplaceAll(string(j[1]), `"main.`, `"memvec.`))
	}
	var want []string
	for _, l := range []*layout{must(layoutFor[Point]()), must(layoutFor[[2]int32]()), must(layoutFor[Record]())} {
		want = append(want, string(l.section))
	}
	require.Equal(t, want, shown)

	n := len(must(layoutFor[Point]()).section) - len("memvec") + len("main") // main.Point's
	slot := int(format.SlotSizeFor(n))
	data := roundUp(format.HeaderSize+2*slot, 64)
	// The sentence may be wrapped anywhere: any run of white space matches.
	sentence := strings.Join(strings.Fields("`struct\\{ X, Y, Z float64 \\}` named `main.Point` has a (\\d+)-byte layout in slots of (\\d+) bytes, data at (\\d+), and room for (\\d+) elements in its first page"), `\s+`)
	doc := formatDoc(t, sentence, "main.Point's sizes")
	got := []string{strconv.Itoa(n), strconv.Itoa(slot), strconv.Itoa(data), strconv.Itoa((4096 - data) / 24)}
	require.Equal(t, []string{string(doc[1]), string(doc[2]), string(doc[3]), string(doc[4])}, got)
}
