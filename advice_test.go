package memvec

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// hints are the vector's hint methods, by name, for the tables below.
var hints = []struct {
	name string
	call func(v *MemVec[point], i, j int) error
}{
	{"WillNeed", (*MemVec[point]).WillNeed},
	{"DontNeed", (*MemVec[point]).DontNeed},
	{"Populate", (*MemVec[point]).Populate},
}

// TestHintsKeepElements: no hint changes an element or the length, on
// either backend, for elements synced and elements not yet synced, with
// every advice. DontNeed on anonymous memory is the hint that could lose
// them (MADV_DONTNEED zeroes private pages).
func TestHintsKeepElements(t *testing.T) {
	const n = 100_000 // 2.4 MB: hundreds of pages
	for _, b := range backends {
		for _, h := range hints {
			t.Run(b.name+"/"+h.name, func(t *testing.T) {
				v := b.open(t)
				require.NoError(t, v.Append(pts(seq(n/2)...)...))
				require.NoError(t, v.Sync())
				for i := n / 2; i < n; i++ {
					require.NoError(t, v.Push(pt(i)))
				}
				for _, r := range [][2]int{{0, n}, {1, n - 1}, {n / 3, n / 2}, {5, 5}} {
					require.NoError(t, h.call(v, r[0], r[1]))
				}
				require.Equal(t, n, v.Len())
				for i, p := range v.All() {
					if p != pt(i) {
						t.Fatalf("after %s, element %d is %v, want %v", h.name, i, p, pt(i))
					}
				}
			})
		}
	}
}

// TestAdvisedVectorsGrow: a vector opened with each advice pushes past its
// capacity and past a small reservation, and keeps its elements.
func TestAdvisedVectorsGrow(t *testing.T) {
	for _, a := range []Advice{AdviseNormal, AdviseSequential, AdviseRandom} {
		opens := map[string]func(t *testing.T) *MemVec[point]{
			"anon": func(t *testing.T) *MemVec[point] {
				v, err := Make[point](0, Advise(a), Reserve(1<<20))
				require.NoError(t, err)
				t.Cleanup(func() { v.Close() })
				return v
			},
			"file": func(t *testing.T) *MemVec[point] {
				return openVec[point](t, vecPath(t), Advise(a), Reserve(1<<20))
			},
		}
		for name, open := range opens {
			t.Run(fmt.Sprintf("%s/%v", name, a), func(t *testing.T) {
				v := open(t)
				const n = 200_000 // 4.8 MB, past the 1 MiB reservation
				for i := range n {
					require.NoError(t, v.Push(pt(i)))
				}
				require.NoError(t, v.Clip())
				for i, p := range v.All() {
					if p != pt(i) {
						t.Fatalf("element %d is %v, want %v", i, p, pt(i))
					}
				}
			})
		}
	}
}

// TestHintsPanicOutOfRange: a range outside [0, Len()] panics, as slicing
// does, on an open vector and a closed one alike.
func TestHintsPanicOutOfRange(t *testing.T) {
	v, err := Make[point](0)
	require.NoError(t, err)
	defer v.Close()
	require.NoError(t, v.Append(pts(seq(10)...)...))
	for _, h := range hints {
		for _, r := range [][2]int{{-1, 5}, {0, 11}, {6, 5}, {11, 11}, {-1, -1}} {
			require.Panics(t, func() { h.call(v, r[0], r[1]) }, "%s(%d, %d)", h.name, r[0], r[1])
		}
		for _, r := range [][2]int{{0, 0}, {0, 10}, {10, 10}, {3, 4}} {
			require.NotPanics(t, func() { h.call(v, r[0], r[1]) }, "%s(%d, %d)", h.name, r[0], r[1])
		}
	}
}

// TestHintsAfterClose: every hint returns ErrClosed after Close.
func TestHintsAfterClose(t *testing.T) {
	for _, b := range backends {
		v := b.open(t)
		require.NoError(t, v.Close())
		for _, h := range hints {
			err := h.call(v, 0, 0)
			require.True(t, errors.Is(err, ErrClosed), "%s %s: %v", b.name, h.name, err)
		}
	}
}

// TestAdviceString names each advice.
func TestAdviceString(t *testing.T) {
	require.Equal(t, "normal", AdviseNormal.String())
	require.Equal(t, "sequential", AdviseSequential.String())
	require.Equal(t, "random", AdviseRandom.String())
	require.Equal(t, "Advice(7)", Advice(7).String())
}
