//go:build unix || windows

package memvec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOpenOptionCombinations opens a missing file, an empty one and one
// holding a vector with every combination of the open options that
// matters: MustExist never creates, CreateNew creates only what is
// missing, and the combinations that contradict each other are refused
// before anything is created or opened.
func TestOpenOptionCombinations(t *testing.T) {
	type setup int
	const (
		missing setup = iota
		empty         // an existing, empty file
		vector        // an existing file holding three elements
	)
	setups := map[setup]string{missing: "missing", empty: "empty", vector: "vector"}
	cases := []struct {
		name    string
		opts    []Option
		setup   setup
		wantLen int   // when the open succeeds
		errIs   error // when it fails with a system error
		errHas  string
	}{
		{name: "default creates", setup: missing},
		{name: "default opens empty", setup: empty},
		{name: "default opens", setup: vector, wantLen: 3},

		{name: "MustExist missing", opts: []Option{MustExist()}, setup: missing, errIs: fs.ErrNotExist},
		{name: "MustExist empty", opts: []Option{MustExist()}, setup: empty},
		{name: "MustExist", opts: []Option{MustExist()}, setup: vector, wantLen: 3},
		{name: "MustExist LockTimeout Reserve", opts: []Option{MustExist(), LockTimeout(time.Millisecond), Reserve(1 << 20)}, setup: vector, wantLen: 3},
		{name: "MustExist Mode", opts: []Option{MustExist(), Mode(0o600)}, setup: vector, wantLen: 3},

		{name: "CreateNew", opts: []Option{CreateNew()}, setup: missing},
		{name: "CreateNew empty", opts: []Option{CreateNew()}, setup: empty, errIs: fs.ErrExist},
		{name: "CreateNew vector", opts: []Option{CreateNew()}, setup: vector, errIs: fs.ErrExist},
		{name: "CreateNew Mode LockTimeout Reserve", opts: []Option{CreateNew(), Mode(0o600), LockTimeout(time.Millisecond), Reserve(1 << 20)}, setup: missing},

		{name: "ReadOnly missing", opts: []Option{ReadOnly()}, setup: missing, errIs: fs.ErrNotExist},
		{name: "ReadOnly MustExist missing", opts: []Option{ReadOnly(), MustExist()}, setup: missing, errIs: fs.ErrNotExist},
		{name: "ReadOnly MustExist", opts: []Option{MustExist(), ReadOnly()}, setup: vector, wantLen: 3},
		{name: "Follow MustExist missing", opts: []Option{Follow(), MustExist()}, setup: missing, errIs: fs.ErrNotExist},
		{name: "Follow MustExist", opts: []Option{MustExist(), Follow()}, setup: vector, wantLen: 3},

		{name: "CreateNew MustExist missing", opts: []Option{CreateNew(), MustExist()}, setup: missing, errHas: "CreateNew and MustExist exclude each other"},
		{name: "CreateNew MustExist", opts: []Option{MustExist(), CreateNew()}, setup: vector, errHas: "CreateNew and MustExist exclude each other"},
		{name: "CreateNew ReadOnly missing", opts: []Option{CreateNew(), ReadOnly()}, setup: missing, errHas: "CreateNew and ReadOnly exclude each other"},
		{name: "CreateNew ReadOnly", opts: []Option{ReadOnly(), CreateNew()}, setup: vector, errHas: "CreateNew and ReadOnly exclude each other"},
		{name: "CreateNew Follow missing", opts: []Option{CreateNew(), Follow()}, setup: missing, errHas: "CreateNew and Follow exclude each other"},
		{name: "CreateNew Follow", opts: []Option{Follow(), CreateNew()}, setup: vector, errHas: "CreateNew and Follow exclude each other"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := vecPath(t)
			switch c.setup {
			case empty:
				require.NoError(t, os.WriteFile(path, nil, 0o644))
			case vector:
				w := openVec[point](t, path)
				require.NoError(t, w.Append(pt(0), pt(1), pt(2)))
				require.NoError(t, w.Close())
			}
			v, err := Open[point](path, c.opts...)
			if c.errIs == nil && c.errHas == "" {
				require.NoError(t, err, "%s file", setups[c.setup])
				defer v.Close()
				require.Equal(t, c.wantLen, v.Len())
				return
			}
			require.Error(t, err)
			require.Nil(t, v)
			require.True(t, strings.HasPrefix(err.Error(), "memvec: open "+path+": "), "the message names the operation and the path: %v", err)
			if c.errIs != nil {
				require.ErrorIs(t, err, c.errIs)
			}
			if c.errHas != "" {
				require.ErrorContains(t, err, c.errHas)
			}
			// A refused open changes nothing: a missing file stays
			// missing, an existing one keeps its elements.
			switch c.setup {
			case missing:
				_, err := os.Lstat(path)
				require.ErrorIs(t, err, fs.ErrNotExist, "a refused open created the file")
			case vector:
				r := openVec[point](t, path, ReadOnly())
				require.Equal(t, []point{pt(0), pt(1), pt(2)}, r.Slice())
			}
		})
	}
}

// TestCreateNewMode: the file CreateNew creates has the Mode's permission
// bits (on Unix; Windows has none to check but read-only).
func TestCreateNewMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no permission bits")
	}
	path := vecPath(t)
	openVec[point](t, path, CreateNew(), Mode(0o600))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
}

// TestCreateNewExactlyOneWins: of opens that race to create one path with
// CreateNew, exactly one creates it and the others fail with fs.ErrExist
// (not ErrLocked: they never opened the winner's file).
func TestCreateNewExactlyOneWins(t *testing.T) {
	const rounds, racers = 20, 8
	for round := range rounds {
		path := vecPath(t)
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			mu    sync.Mutex
			won   []*MemVec[point]
			errs  []error
		)
		for range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				v, err := Open[point](path, CreateNew())
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				won = append(won, v)
			}()
		}
		close(start)
		wg.Wait()
		require.Len(t, won, 1, "round %d: winners", round)
		for _, err := range errs {
			require.ErrorIs(t, err, fs.ErrExist, "round %d", round)
		}
		require.NoError(t, won[0].Push(pt(1)))
		require.NoError(t, won[0].Close())
	}
}

func init() {
	children["createnew"] = createNewChild
}

// createNewChild waits for a line on stdin, opens $MEMVEC_PATH with
// CreateNew, says "won" or "exists", and holds what it won until its stdin
// is closed.
func createNewChild() {
	in := bufio.NewReader(os.Stdin)
	if _, err := in.ReadString('\n'); err != nil {
		os.Exit(childFailed)
	}
	v, err := Open[point](os.Getenv("MEMVEC_PATH"), CreateNew())
	switch {
	case errors.Is(err, fs.ErrExist):
		fmt.Println("exists")
	case err != nil:
		fmt.Println(err)
		os.Exit(childFailed)
	default:
		fmt.Println("won")
	}
	io.Copy(io.Discard, in)
	if v != nil {
		v.Close()
	}
}

// TestCreateNewExactlyOneProcessWins: the same race between processes.
func TestCreateNewExactlyOneProcessWins(t *testing.T) {
	const racers = 4
	path := vecPath(t)
	children := make([]*child, racers)
	for i := range children {
		children[i] = startChild(t, "createnew", "MEMVEC_PATH="+path)
	}
	for _, c := range children {
		_, err := io.WriteString(c.stdin, "go\n")
		require.NoError(t, err)
	}
	won := 0
	for _, c := range children {
		require.True(t, c.lines.Scan(), "child ended early: %v", c.lines.Err())
		switch c.lines.Text() {
		case "won":
			won++
		case "exists":
		default:
			t.Fatalf("child: %s", c.lines.Text())
		}
	}
	require.Equal(t, 1, won, "winners")
	for _, c := range children {
		c.release(t)
	}
}

// inapplicable are the options that do not apply to anonymous memory, by
// the name the error must give.
var inapplicable = []struct {
	name string
	opt  Option
}{
	{"ReadOnly", ReadOnly()},
	{"Follow", Follow()},
	{"MustExist", MustExist()},
	{"CreateNew", CreateNew()},
	{"LockTimeout", LockTimeout(0)}, // given, even with its default value
	{"Mode", Mode(0o644)},
	{"SyncEvery", SyncEvery(time.Second)},
}

// TestMakeRefusesInapplicableOptions: Make returns an error naming each
// option it cannot apply, alone or beside Reserve, and accepts Reserve.
func TestMakeRefusesInapplicableOptions(t *testing.T) {
	for _, c := range inapplicable {
		t.Run(c.name, func(t *testing.T) {
			for _, opts := range [][]Option{{c.opt}, {Reserve(1 << 20), c.opt}, {c.opt, Reserve(1 << 20)}} {
				v, err := Make[point](10, opts...)
				require.Nil(t, v)
				require.EqualError(t, err, "memvec: make anonymous memory: option "+c.name+" does not apply to anonymous memory")
			}
		})
	}
	v, err := Make[point](10, Reserve(1<<20))
	require.NoError(t, err)
	defer v.Close()
	require.Equal(t, 1<<20, v.Memory().(*Anon).Reserved())
}

// TestNewAnonRefusesInapplicableOptions: the same for NewAnon.
func TestNewAnonRefusesInapplicableOptions(t *testing.T) {
	for _, c := range inapplicable {
		t.Run(c.name, func(t *testing.T) {
			for _, size := range []int{0, 100} {
				a, err := NewAnon(size, Reserve(1<<20), c.opt)
				require.Nil(t, a)
				require.EqualError(t, err, "memvec: map anonymous memory: option "+c.name+" does not apply to anonymous memory")
			}
		})
	}
	a, err := NewAnon(100, Reserve(1<<20))
	require.NoError(t, err)
	defer a.Close()
	require.Equal(t, 1<<20, a.Reserved())
}

// TestAnonReservedMapped: an Anon reserves DefaultReserve at its first
// growth and maps its size in whole pages, growing with the pushes; both
// are 0 before the first growth and after Close.
func TestAnonReservedMapped(t *testing.T) {
	a, err := NewAnon(0)
	require.NoError(t, err)
	require.Zero(t, a.Reserved())
	require.Zero(t, a.Mapped())
	require.NoError(t, a.Close())

	v, err := Make[point](0)
	require.NoError(t, err)
	am, ok := v.Memory().(*Anon)
	require.True(t, ok, "Make's memory is an *Anon: %T", v.Memory())
	require.Equal(t, DefaultReserve, am.Reserved())
	require.Equal(t, pageSize, am.Mapped())
	n := 3 * pageSize / 24
	for i := range n {
		require.NoError(t, v.Push(pt(i)))
		require.Equal(t, roundUp(len(am.Bytes()), pageSize), am.Mapped())
	}
	require.Greater(t, am.Mapped(), 3*pageSize)
	require.Equal(t, DefaultReserve, am.Reserved())
	require.NoError(t, v.Close())
	require.Same(t, am, v.Memory().(*Anon), "Memory returns the closed memory after Close")
	require.Zero(t, am.Reserved())
	require.Zero(t, am.Mapped())
}

// TestFileReservedMappedSizes: a writer's File reserves DefaultReserve on
// Unix (on Windows its view is the file), maps the file in whole pages,
// reports the file's size, and occupies on disk at least the bytes it was
// grown to hold, since growth reserves the blocks. After Close every number
// is 0 and DiskSize fails with ErrClosed.
func TestFileReservedMappedSizes(t *testing.T) {
	path := vecPath(t)
	v := openVec[point](t, path)
	f, ok := v.Memory().(*File)
	require.True(t, ok, "Open's memory is a *File: %T", v.Memory())
	require.Equal(t, path, f.Name())
	check := func(pushed int) {
		t.Helper()
		fi, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, fi.Size(), f.FileSize())
		require.Equal(t, int64(len(f.Bytes())), f.FileSize())
		require.Equal(t, roundUp(int(f.FileSize()), pageSize), f.Mapped())
		if runtime.GOOS == "windows" {
			require.Equal(t, int(f.FileSize()), f.Reserved())
		} else {
			require.Equal(t, max(DefaultReserve, f.Mapped()), f.Reserved())
		}
		disk, err := f.DiskSize()
		require.NoError(t, err)
		require.GreaterOrEqual(t, disk, int64(ptOff+pushed*24), "disk size after %d pushes", pushed)
		if runtime.GOOS == "linux" {
			// fallocate reserved every block of the file.
			require.GreaterOrEqual(t, disk, f.FileSize())
		}
	}
	check(0)
	const n = 100_000
	for i := range n {
		require.NoError(t, v.Push(pt(i)))
		if i%10_000 == 0 {
			check(i + 1)
		}
	}
	check(n)
	require.Greater(t, f.FileSize(), int64(n*24))
	require.NoError(t, v.Close())
	require.Same(t, f, v.Memory().(*File))
	require.Zero(t, f.Reserved())
	require.Zero(t, f.Mapped())
	require.Zero(t, f.FileSize())
	_, err := f.DiskSize()
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorContains(t, err, "memvec: stat "+path+": ")
}

// TestReadOnlyFileReservesNothing: a ReadOnly file maps its size in whole
// pages and reserves nothing more.
func TestReadOnlyFileReservesNothing(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pt(0), pt(1)))
	require.NoError(t, w.Close())
	f, err := OpenFile(path, ReadOnly())
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, int64(pageSize), f.FileSize())
	require.Equal(t, pageSize, f.Mapped())
	require.Equal(t, pageSize, f.Reserved())
}

// TestFileSizeKeptByFollowers: a Clip that followers keep from truncating
// the file leaves FileSize above the region's size.
func TestFileSizeKeptByFollowers(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	for i := range 10_000 {
		require.NoError(t, w.Push(pt(i)))
	}
	f := w.Memory().(*File)
	before := f.FileSize()
	r := openVec[point](t, path, Follow())
	require.Equal(t, before, r.Memory().(*File).FileSize())
	w.Truncate(1)
	require.ErrorIs(t, w.Clip(), ErrFollowed)
	require.Less(t, int64(len(f.Bytes())), before)
	require.Equal(t, before, f.FileSize(), "the followed file keeps its size")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, fi.Size(), f.FileSize())
	require.GreaterOrEqual(t, f.Mapped(), len(f.Bytes()))
}

// TestMemoryIsWhatNewWasGiven: Memory returns the memory a vector was made
// with.
func TestMemoryIsWhatNewWasGiven(t *testing.T) {
	a, err := NewAnon(0)
	require.NoError(t, err)
	v, err := New[point](a)
	require.NoError(t, err)
	require.Same(t, a, v.Memory().(*Anon))
	require.NoError(t, v.Close())
	require.Same(t, a, v.Memory().(*Anon))
}
