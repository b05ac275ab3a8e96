package memvec

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func init() { children["views"] = viewsChild }

// viewsChild takes a Slice of the first 100 elements of a new vector
// ($MEMVEC_BACKEND: anon or file at $MEMVEC_PATH), pushes 3,000,000 more,
// then writes and reads through the old view and checks that it still
// aliases the vector. A dangling view would kill it with SIGSEGV, which is
// why it runs in a child process.
func viewsChild() {
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(1)
	}
	var v *MemVec[point]
	var err error
	if os.Getenv("MEMVEC_BACKEND") == "file" {
		v, err = Open[point](os.Getenv("MEMVEC_PATH"))
	} else {
		v, err = Make[point](0)
	}
	if err != nil {
		fail("open: %v", err)
	}
	for i := range 100 {
		if err := v.Push(pt(i)); err != nil {
			fail("push: %v", err)
		}
	}
	view := v.Slice()
	first := &view[0]
	iterated := 0
	for i, x := range v.All() { // an iterator reading across the growth
		if x != pt(i) {
			fail("element %d is %v", i, x)
		}
		if i == 50 {
			for j := 100; j < 3_000_100; j++ {
				if err := v.Push(pt(j)); err != nil {
					fail("push: %v", err)
				}
			}
		}
		iterated++
	}
	if iterated != 100 {
		fail("the iterator visited %d elements, not the 100 there when it started", iterated)
	}
	view[5] = pt(-5) // write through the old view, read through the vector
	if v.Index(5) != pt(-5) {
		fail("a write through the old view did not reach the vector")
	}
	v.Set(7, pt(-7)) // and the other way
	for i, x := range view {
		want := pt(i)
		switch i {
		case 5:
			want = pt(-5)
		case 7:
			want = pt(-7)
		}
		if x != want {
			fail("old view[%d] is %v, want %v", i, x, want)
		}
	}
	if &v.Slice()[0] != first {
		fail("the region moved")
	}
	if err := v.Close(); err != nil {
		fail("close: %v", err)
	}
	fmt.Println("ok")
}

// TestViewsSurviveGrowth: a Slice taken before 3,000,000 pushes (72 MB of
// growth) still aliases the vector after them, on both backends, and so
// does an iterator that runs across them.
func TestViewsSurviveGrowth(t *testing.T) {
	for _, backend := range []string{"anon", "file"} {
		t.Run(backend, func(t *testing.T) {
			if backend == "file" && runtime.GOOS == "windows" {
				t.Skip("on Windows a file's view moves on every resize, as documented; TestFileResizeMovesView specifies it")
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=views", "MEMVEC_BACKEND="+backend, "MEMVEC_PATH="+vecPath(t))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			require.Equal(t, "ok\n", string(out))
		})
	}
}

// TestGrowthPastReservationMoves: past its reservation a region moves to a
// larger one, keeping every element; that is the documented fallback.
func TestGrowthPastReservationMoves(t *testing.T) {
	const reserve = 64 << 10
	open := map[string]func(t *testing.T) *MemVec[point]{
		"anon": func(t *testing.T) *MemVec[point] {
			v, err := Make[point](0, Reserve(reserve))
			require.NoError(t, err)
			t.Cleanup(func() { v.Close() })
			return v
		},
		"file": func(t *testing.T) *MemVec[point] { return openVec[point](t, vecPath(t), Reserve(reserve)) },
	}
	for name, open := range open {
		t.Run(name, func(t *testing.T) {
			v := open(t)
			require.NoError(t, v.Push(pt(0)))
			before := uintptr(unsafe.Pointer(&v.Slice()[0]))
			n := 3 * reserve / 24
			for i := 1; i < n; i++ {
				require.NoError(t, v.Push(pt(i)))
			}
			require.NotEqual(t, before, uintptr(unsafe.Pointer(&v.Slice()[0])), "growth past the reservation moves the region")
			for i, x := range v.All() {
				require.Equal(t, pt(i), x)
			}
		})
	}
}

// TestReservationRefusedFallsBack: when the system refuses the address
// space asked for, a region reserves what it needs and works.
func TestReservationRefusedFallsBack(t *testing.T) {
	const tooMuch = math.MaxInt &^ (1<<20 - 1) // more address space than there is
	v, err := Make[point](0, Reserve(tooMuch))
	require.NoError(t, err)
	defer v.Close()
	f := openVec[point](t, vecPath(t), Reserve(tooMuch))
	for i := range 100_000 {
		require.NoError(t, v.Push(pt(i)))
		require.NoError(t, f.Push(pt(i)))
	}
	require.Equal(t, pt(99_999), v.Index(99_999))
	require.Equal(t, pt(99_999), f.Index(99_999))
}
