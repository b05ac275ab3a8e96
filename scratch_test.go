//go:build unix || windows

package memvec

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireNoName requires that the scratch files in dir have no name there:
// the directory is empty. Where Windows keeps the name of an unnamed file
// until its close (see region.createUnnamed there: mem's NameStays), every
// name in it must refuse to be opened instead, for reading too, and the
// names must be as many as the scratch files at most.
func requireNoName(t *testing.T, dir string, mems ...Memory) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	stays := 0
	for _, m := range mems {
		if m.(*scratchFile).r.NameStays() {
			stays++
		}
	}
	if stays == 0 {
		require.Empty(t, entries, "no name may reach a scratch file")
		return
	}
	t.Logf("the system kept the names of %d scratch files of %d until their close", stays, len(mems))
	require.LessOrEqual(t, len(entries), stays)
	for _, e := range entries {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err == nil {
			f.Close()
		}
		require.Error(t, err, "the name of a scratch file that Windows keeps must open nothing")
	}
}

// TestTempDirVectorHasNoName: a vector and a Bytes made with TempDir work
// as anonymous ones do, across growth and a Clip, while the directory
// holds no name of their files; and after Close it is empty.
func TestTempDirVectorHasNoName(t *testing.T) {
	dir := tempDir(t)
	v, err := Make[point](10, TempDir(dir))
	require.NoError(t, err)
	b, err := MakeBytes(TempDir(dir))
	require.NoError(t, err)
	requireNoName(t, dir, v.Memory(), b.idx, b.dat)
	require.Equal(t, "unnamed file in "+dir, memoryName(v.Memory()))

	const n = 300_000 // 7.2 MB: growth past several doublings
	for i := range n {
		require.NoError(t, v.Push(pt(i)))
		if i%100 == 0 {
			require.NoError(t, b.Push([]byte(strconv.Itoa(i))))
		}
	}
	requireNoName(t, dir, v.Memory(), b.idx, b.dat)
	for i, p := range v.All() {
		if p != pt(i) {
			require.Failf(t, "element changed", "element %d is %v", i, p)
		}
	}
	for i := range b.Len() {
		require.Equal(t, strconv.Itoa(i*100), b.String(i))
	}
	v.Truncate(10)
	require.NoError(t, v.Clip())
	require.NoError(t, v.Append(pts(10, 11)...))
	require.Equal(t, append(generate(10, pt), pts(10, 11)...), v.Slice())
	require.NoError(t, v.Sync(), "Sync has nothing to do")

	require.NoError(t, v.Close())
	require.NoError(t, b.Close())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "a closed scratch file is gone")
	require.ErrorIs(t, v.Push(pt(0)), ErrClosed)
}

// TestTempDirOptions: TempDir applies to Make and MakeBytes only, with
// Reserve and Advise; everything else is an error that names it, and
// creates nothing.
func TestTempDirOptions(t *testing.T) {
	dir := tempDir(t)
	path := filepath.Join(dir, "x.vec")
	_, err := Open[point](path, TempDir(dir))
	require.ErrorContains(t, err, "memvec: open "+path+": TempDir applies to Make and MakeBytes only")
	_, err = OpenFile(path, TempDir(dir))
	require.ErrorContains(t, err, "TempDir applies to Make and MakeBytes only")
	_, err = OpenBytes(path, TempDir(dir))
	require.ErrorContains(t, err, "TempDir applies to Make and MakeBytes only")
	_, err = NewAnon(4096, TempDir(dir))
	require.EqualError(t, err, "memvec: map anonymous memory: option TempDir does not apply to anonymous memory")
	writeVec(t, path, pts(1, 2))
	require.ErrorContains(t, Migrate(path, widen, TempDir(dir)), "option TempDir does not apply to Migrate")
	require.ErrorContains(t, Relabel[point](path, TempDir(dir)), "option TempDir does not apply to Relabel")
	require.NoError(t, os.Remove(path))

	for name, opt := range map[string]Option{"ReadOnly": ReadOnly(), "Follow": Follow(), "Shared": Shared(),
		"MustExist": MustExist(), "CreateNew": CreateNew(), "LockTimeout": LockTimeout(0), "Mode": Mode(0o600), "SyncEvery": SyncEvery(1)} {
		want := fmt.Sprintf("memvec: make unnamed file in %s: option %s does not apply to TempDir, whose file nobody else opens and nothing keeps", dir, name)
		_, err := Make[point](0, TempDir(dir), opt)
		require.EqualError(t, err, want)
		_, err = MakeBytes(opt, TempDir(dir))
		require.EqualError(t, err, want)
	}
	_, err = Make[point](0, TempDir(dir), Reserve(-1))
	require.ErrorContains(t, err, "Reserve(-1): negative size")
	_, err = Make[string](0, TempDir(dir))
	require.ErrorIs(t, err, ErrUnsupportedType)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "a refused option creates nothing")

	missing := filepath.Join(dir, "missing")
	_, err = Make[point](0, TempDir(missing))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, "memvec: create unnamed file in "+missing+": ")

	v, err := Make[point](0, TempDir(dir), Reserve(1<<20), Advise(AdviseSequential))
	require.NoError(t, err)
	require.NoError(t, v.Append(generate(100_000, pt)...)) // past the reservation: the region moves
	require.Equal(t, pt(99_999), v.Index(99_999))
	require.NoError(t, v.Close())

	// An empty dir is the system's temporary directory.
	v, err = Make[point](0, TempDir(""))
	require.NoError(t, err)
	require.Equal(t, "unnamed file in "+os.TempDir(), memoryName(v.Memory()))
	require.NoError(t, v.Close())
}

// widen converts a point to a wider element: the conversion that the
// Migrate refused above never runs.
func widen(p point) [4]float64 { return [4]float64{p.X, p.Y, p.Z, 0} }

func init() {
	children["tempdirhold"] = tempDirHoldChild
}

// tempDirHoldChild makes a vector and a Bytes with TempDir($MEMVEC_PATH),
// pushes $MEMVEC_N points and records of 1 KiB until the Bytes's data is
// as large, says "pushed", and waits for its stdin to close, then closes
// them and says "closed".
func tempDirHoldChild() {
	dir := os.Getenv("MEMVEC_PATH")
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	v, err := Make[point](0, TempDir(dir))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	b, err := MakeBytes(TempDir(dir))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	rec := make([]byte, 1024)
	for i := range n {
		err = v.Push(pt(i))
		if err == nil && i%(1024/24) == 0 {
			err = b.Push(rec)
		}
		if err != nil {
			fmt.Println(err)
			os.Exit(childFailed)
		}
	}
	fmt.Println("pushed")
	io.Copy(io.Discard, os.Stdin)
	if err := errors.Join(v.Close(), b.Close()); err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("closed")
}

// TestTempDirGoneAtKill kills (kill -9, TerminateProcess) a process that
// holds scratch files, and requires the directory empty after: on Unix,
// where the files never had a name there, while it ran too; on Windows,
// where a name may stay while the file lives, once the process is gone.
// (The disk space the files held coming back is checked on Linux, on
// filesystems of their own: TestTempDirSpaceFreedAtKill.)
func TestTempDirGoneAtKill(t *testing.T) {
	dir := tempDir(t)
	c := startChild(t, "tempdirhold", "MEMVEC_PATH="+dir, "MEMVEC_N=200000")
	c.expect(t, "pushed")
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		require.Equal(t, "windows", runtime.GOOS, "on Unix no name reaches a scratch file: %v", entries)
	}
	c.kill(t, nil)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "a killed process's scratch files are gone")
}
