package memvec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
	"github.com/stretchr/testify/require"
)

// nearX reports whether two points are at most 1 apart in X: an eq that
// is not transitive, so that CompactFunc must compare neighbours of the
// input, as slices.CompactFunc does, and not each with the last kept.
func nearX(a, b point) bool { return a.X-b.X <= 1 && b.X-a.X <= 1 }

// sameY reports whether two points have the same Y.
func sameY(a, b point) bool { return a.Y == b.Y }

// odd reports whether a point's X is odd.
func odd(x point) bool { return int(x.X)%2 != 0 }

// zeros returns n zero points.
func zeros(n int) []point { return make([]point, n) }

// withRuns is a vector's contents with runs of equal Y, and X telling the
// elements of a run apart.
var withRuns = []point{{0, 1, 0}, {1, 1, 0}, {2, 2, 0}, {3, 3, 0}, {4, 3, 0}, {5, 3, 0}, {6, 1, 0}, {7, 1, 0}}

// TestSlicesMethodsMatchSlices specifies Delete, DeleteFunc, CompactFunc,
// Replace, Resize, AppendSeq and AppendInPlace as the slices functions of
// the same names (or what a slice does for those that have none): each case
// runs the method on a vector and the function on a plain []point holding
// the same elements, and requires the same elements after, on each backend.
func TestSlicesMethodsMatchSlices(t *testing.T) {
	big := pts(seq(3000)...)
	tests := []struct {
		name  string
		init  []point
		vec   func(v *MemVec[point]) error
		slice func(s []point) []point
	}{
		{"Delete middle", pts(seq(6)...), func(v *MemVec[point]) error { return v.Delete(1, 3) }, func(s []point) []point { return slices.Delete(s, 1, 3) }},
		{"Delete one", pts(seq(6)...), func(v *MemVec[point]) error { return v.Delete(2, 3) }, func(s []point) []point { return slices.Delete(s, 2, 3) }},
		{"Delete nothing", pts(seq(6)...), func(v *MemVec[point]) error { return v.Delete(2, 2) }, func(s []point) []point { return slices.Delete(s, 2, 2) }},
		{"Delete nothing at end", pts(seq(6)...), func(v *MemVec[point]) error { return v.Delete(6, 6) }, func(s []point) []point { return slices.Delete(s, 6, 6) }},
		{"Delete tail", pts(seq(6)...), func(v *MemVec[point]) error { return v.Delete(4, 6) }, func(s []point) []point { return slices.Delete(s, 4, 6) }},
		{"Delete all", pts(seq(6)...), func(v *MemVec[point]) error { return v.Delete(0, 6) }, func(s []point) []point { return slices.Delete(s, 0, 6) }},
		{"Delete on empty", nil, func(v *MemVec[point]) error { return v.Delete(0, 0) }, func(s []point) []point { return slices.Delete(s, 0, 0) }},
		{"Delete most of many", big, func(v *MemVec[point]) error { return v.Delete(10, 2990) }, func(s []point) []point { return slices.Delete(s, 10, 2990) }},

		{"DeleteFunc some", pts(seq(7)...), func(v *MemVec[point]) error { return v.DeleteFunc(odd) }, func(s []point) []point { return slices.DeleteFunc(s, odd) }},
		{"DeleteFunc none", pts(0, 2, 4), func(v *MemVec[point]) error { return v.DeleteFunc(odd) }, func(s []point) []point { return slices.DeleteFunc(s, odd) }},
		{"DeleteFunc all", pts(1, 3, 5), func(v *MemVec[point]) error { return v.DeleteFunc(odd) }, func(s []point) []point { return slices.DeleteFunc(s, odd) }},
		{"DeleteFunc first", pts(1, 2, 4), func(v *MemVec[point]) error { return v.DeleteFunc(odd) }, func(s []point) []point { return slices.DeleteFunc(s, odd) }},
		{"DeleteFunc last", pts(0, 2, 3), func(v *MemVec[point]) error { return v.DeleteFunc(odd) }, func(s []point) []point { return slices.DeleteFunc(s, odd) }},
		{"DeleteFunc on empty", nil, func(v *MemVec[point]) error { return v.DeleteFunc(odd) }, func(s []point) []point { return slices.DeleteFunc(s, odd) }},
		{"DeleteFunc many", big, func(v *MemVec[point]) error { return v.DeleteFunc(odd) }, func(s []point) []point { return slices.DeleteFunc(s, odd) }},

		{"CompactFunc runs", withRuns, func(v *MemVec[point]) error { return v.CompactFunc(sameY) }, func(s []point) []point { return slices.CompactFunc(s, sameY) }},
		{"CompactFunc no runs", pts(seq(5)...), func(v *MemVec[point]) error { return v.CompactFunc(sameY) }, func(s []point) []point { return slices.CompactFunc(s, sameY) }},
		{"CompactFunc one run", zeros(5), func(v *MemVec[point]) error { return v.CompactFunc(sameY) }, func(s []point) []point { return slices.CompactFunc(s, sameY) }},
		{"CompactFunc one element", pts(3), func(v *MemVec[point]) error { return v.CompactFunc(sameY) }, func(s []point) []point { return slices.CompactFunc(s, sameY) }},
		{"CompactFunc on empty", nil, func(v *MemVec[point]) error { return v.CompactFunc(sameY) }, func(s []point) []point { return slices.CompactFunc(s, sameY) }},
		{"CompactFunc intransitive", pts(1, 2, 3, 5, 6, 8, 9, 10), func(v *MemVec[point]) error { return v.CompactFunc(nearX) }, func(s []point) []point { return slices.CompactFunc(s, nearX) }},
		{"CompactFunc many", append(zeros(1500), big...), func(v *MemVec[point]) error { return v.CompactFunc(sameY) }, func(s []point) []point { return slices.CompactFunc(s, sameY) }},

		{"Replace same size", pts(seq(5)...), func(v *MemVec[point]) error { return v.Replace(1, 3, pt(8), pt(9)) }, func(s []point) []point { return slices.Replace(s, 1, 3, pt(8), pt(9)) }},
		{"Replace shrinks", pts(seq(5)...), func(v *MemVec[point]) error { return v.Replace(1, 4, pt(8)) }, func(s []point) []point { return slices.Replace(s, 1, 4, pt(8)) }},
		{"Replace grows", pts(seq(5)...), func(v *MemVec[point]) error { return v.Replace(1, 2, pt(7), pt(8), pt(9)) }, func(s []point) []point { return slices.Replace(s, 1, 2, pt(7), pt(8), pt(9)) }},
		{"Replace by nothing", pts(seq(5)...), func(v *MemVec[point]) error { return v.Replace(1, 3) }, func(s []point) []point { return slices.Replace(s, 1, 3) }},
		{"Replace empty range inserts", pts(seq(5)...), func(v *MemVec[point]) error { return v.Replace(2, 2, pt(9)) }, func(s []point) []point { return slices.Replace(s, 2, 2, pt(9)) }},
		{"Replace nothing by nothing", pts(seq(5)...), func(v *MemVec[point]) error { return v.Replace(2, 2) }, func(s []point) []point { return slices.Replace(s, 2, 2) }},
		{"Replace at end appends", pts(seq(5)...), func(v *MemVec[point]) error { return v.Replace(5, 5, pt(9)) }, func(s []point) []point { return slices.Replace(s, 5, 5, pt(9)) }},
		{"Replace tail grows", pts(seq(5)...), func(v *MemVec[point]) error { return v.Replace(3, 5, pt(7), pt(8), pt(9)) }, func(s []point) []point { return slices.Replace(s, 3, 5, pt(7), pt(8), pt(9)) }},
		{"Replace all", pts(seq(5)...), func(v *MemVec[point]) error { return v.Replace(0, 5, pt(9)) }, func(s []point) []point { return slices.Replace(s, 0, 5, pt(9)) }},
		{"Replace on empty", nil, func(v *MemVec[point]) error { return v.Replace(0, 0, pt(9)) }, func(s []point) []point { return slices.Replace(s, 0, 0, pt(9)) }},
		{"Replace by own tail, growing", pts(seq(6)...), func(v *MemVec[point]) error { return v.Replace(1, 2, v.Slice()[2:5]...) }, func(s []point) []point { return slices.Replace(s, 1, 2, slices.Clone(s[2:5])...) }},
		{"Replace by own tail, shrinking", pts(seq(6)...), func(v *MemVec[point]) error { return v.Replace(0, 3, v.Slice()[4:6]...) }, func(s []point) []point { return slices.Replace(s, 0, 3, slices.Clone(s[4:6])...) }},
		{"Replace by own overlapping", pts(seq(6)...), func(v *MemVec[point]) error { return v.Replace(1, 4, v.Slice()[2:6]...) }, func(s []point) []point { return slices.Replace(s, 1, 4, slices.Clone(s[2:6])...) }},
		{"Replace by own head", pts(seq(6)...), func(v *MemVec[point]) error { return v.Replace(3, 4, v.Slice()[:3]...) }, func(s []point) []point { return slices.Replace(s, 3, 4, slices.Clone(s[:3])...) }},
		{"Replace grows the memory", pts(seq(5)...), func(v *MemVec[point]) error { return v.Replace(2, 3, big...) }, func(s []point) []point { return slices.Replace(s, 2, 3, big...) }},
		{"Replace by own, growing the memory", big, func(v *MemVec[point]) error { return v.Replace(1, 1, v.Slice()...) }, func(s []point) []point { return slices.Replace(s, 1, 1, slices.Clone(s)...) }},

		{"Resize shrinks", pts(seq(5)...), func(v *MemVec[point]) error { return v.Resize(2) }, func(s []point) []point { return s[:2] }},
		{"Resize to Len", pts(seq(5)...), func(v *MemVec[point]) error { return v.Resize(5) }, func(s []point) []point { return s }},
		{"Resize to 0", pts(seq(5)...), func(v *MemVec[point]) error { return v.Resize(0) }, func(s []point) []point { return s[:0] }},
		{"Resize grows with zeros", pts(seq(2)...), func(v *MemVec[point]) error { return v.Resize(5) }, func(s []point) []point { return append(s, zeros(3)...) }},
		{"Resize on empty", nil, func(v *MemVec[point]) error { return v.Resize(3) }, func(s []point) []point { return zeros(3) }},
		{"Resize zeroes dropped elements", pts(seq(5)...), func(v *MemVec[point]) error { v.Truncate(1); return v.Resize(4) }, func(s []point) []point { return append(s[:1:1], zeros(3)...) }},
		{"Resize zeroes deleted elements", pts(seq(5)...), func(v *MemVec[point]) error { v.Delete(0, 3); return v.Resize(5) }, func(s []point) []point { return append(slices.Delete(s, 0, 3), zeros(3)...) }},
		{"Resize grows the memory", big, func(v *MemVec[point]) error { v.Truncate(10); return v.Resize(20000) }, func(s []point) []point { return append(s[:10:10], zeros(19990)...) }},

		{"AppendSeq", pts(0), func(v *MemVec[point]) error { return v.AppendSeq(slices.Values(pts(7, 8, 9))) }, func(s []point) []point { return slices.AppendSeq(s, slices.Values(pts(7, 8, 9))) }},
		{"AppendSeq nothing", pts(0), func(v *MemVec[point]) error { return v.AppendSeq(slices.Values(pts())) }, func(s []point) []point { return slices.AppendSeq(s, slices.Values(pts())) }},
		{"AppendSeq own values", pts(seq(4)...), func(v *MemVec[point]) error { return v.AppendSeq(v.Values()) }, func(s []point) []point { return slices.AppendSeq(s, slices.Values(s)) }},
		{"AppendSeq own values, growing", big, func(v *MemVec[point]) error { return v.AppendSeq(v.Values()) }, func(s []point) []point { return slices.AppendSeq(s, slices.Values(s)) }},
		{"AppendSeq grows the memory", nil, func(v *MemVec[point]) error { return v.AppendSeq(slices.Values(big)) }, func(s []point) []point { return slices.AppendSeq(s, slices.Values(big)) }},

		{"AppendInPlace fills all", pts(0), func(v *MemVec[point]) error {
			return v.AppendInPlace(3, func(s []point) int { copy(s, pts(7, 8, 9)); return len(s) })
		}, func(s []point) []point { return append(s, pts(7, 8, 9)...) }},
		{"AppendInPlace fills some", pts(0), func(v *MemVec[point]) error {
			return v.AppendInPlace(5, func(s []point) int { copy(s, pts(7, 8)); return 2 })
		}, func(s []point) []point { return append(s, pts(7, 8)...) }},
		{"AppendInPlace fills none", pts(0), func(v *MemVec[point]) error {
			return v.AppendInPlace(5, func(s []point) int { copy(s, pts(7, 8)); return 0 })
		}, func(s []point) []point { return s }},
		{"AppendInPlace of 0", pts(0), func(v *MemVec[point]) error {
			return v.AppendInPlace(0, func(s []point) int { return len(s) })
		}, func(s []point) []point { return s }},
		{"AppendInPlace counts unset elements as zero", pts(seq(5)...), func(v *MemVec[point]) error {
			v.Truncate(1)
			return v.AppendInPlace(3, func(s []point) int { s[1] = pt(9); return 3 })
		}, func(s []point) []point { return append(s[:1:1], point{}, pt(9), point{}) }},
		{"AppendInPlace reads the vector", pts(seq(3)...), func(v *MemVec[point]) error {
			return v.AppendInPlace(3, func(s []point) int {
				for i := range s {
					s[i] = v.Index(v.Len() - 1 - i)
				}
				return len(s)
			})
		}, func(s []point) []point { return append(s, pts(2, 1, 0)...) }},
		{"AppendInPlace grows the memory", pts(0), func(v *MemVec[point]) error {
			return v.AppendInPlace(len(big), func(s []point) int { return copy(s, big) })
		}, func(s []point) []point { return append(s, big...) }},
	}
	// The cases that read a view of the vector while it grows.
	viewAcrossGrowth := map[string]bool{"AppendSeq own values, growing": true}
	for _, be := range backends {
		for _, tt := range tests {
			t.Run(be.name+"/"+tt.name, func(t *testing.T) {
				if viewAcrossGrowth[tt.name] && be.name == "file" && runtime.GOOS == "windows" {
					t.Skip("on Windows a file's view moves on every resize, as documented")
				}
				v := be.open(t)
				require.NoError(t, v.Append(tt.init...))
				require.NoError(t, tt.vec(v))
				want := tt.slice(slices.Clip(slices.Clone(tt.init)))
				require.Equal(t, len(want), v.Len())
				require.True(t, slices.Equal(want, v.Slice()), "want %v\n got %v", head(want), head(v.Slice()))
				require.Equal(t, uint64(v.Len()), v.length.Load(), "the header's length")
				require.LessOrEqual(t, v.Len(), v.Cap())
			})
		}
	}
}

// head returns at most the first 10 of s, for a failure message.
func head(s []point) []point { return s[:min(len(s), 10)] }

// TestSlicesMethodsPanic specifies the calls that panic: bad indices, as
// the slices functions panic for them (each case with a slices call checks
// that the function panics too), a negative length or count, and a fill
// that returns a count out of range or panics itself. A panicking call
// leaves the vector and its generation unchanged.
func TestSlicesMethodsPanic(t *testing.T) {
	const n = 3
	tests := []struct {
		name  string
		vec   func(v *MemVec[point])
		slice func(s []point) // nil: no slices function to compare with
	}{
		{"Delete -1", func(v *MemVec[point]) { v.Delete(-1, 1) }, func(s []point) { _ = slices.Delete(s, -1, 1) }},
		{"Delete j < i", func(v *MemVec[point]) { v.Delete(2, 1) }, func(s []point) { _ = slices.Delete(s, 2, 1) }},
		{"Delete j > Len", func(v *MemVec[point]) { v.Delete(1, n+1) }, func(s []point) { _ = slices.Delete(s, 1, n+1) }},
		{"Delete i = j > Len", func(v *MemVec[point]) { v.Delete(n+1, n+1) }, func(s []point) { _ = slices.Delete(s, n+1, n+1) }},
		{"Replace -1", func(v *MemVec[point]) { v.Replace(-1, 1, pt(9)) }, func(s []point) { _ = slices.Replace(s, -1, 1, pt(9)) }},
		{"Replace j < i", func(v *MemVec[point]) { v.Replace(2, 1, pt(9)) }, func(s []point) { _ = slices.Replace(s, 2, 1, pt(9)) }},
		{"Replace j > Len", func(v *MemVec[point]) { v.Replace(1, n+1, pt(9)) }, func(s []point) { _ = slices.Replace(s, 1, n+1, pt(9)) }},
		{"Replace i = j > Len", func(v *MemVec[point]) { v.Replace(n+1, n+1, pt(9)) }, func(s []point) { _ = slices.Replace(s, n+1, n+1, pt(9)) }},
		{"Replace i = j > Len by nothing", func(v *MemVec[point]) { v.Replace(n+1, n+1) }, func(s []point) { _ = slices.Replace(s, n+1, n+1) }},
		{"Resize -1", func(v *MemVec[point]) { v.Resize(-1) }, func(s []point) { _ = make([]point, len(s)-n-1) }},
		{"AppendInPlace -1", func(v *MemVec[point]) { v.AppendInPlace(-1, func(s []point) int { return 0 }) }, nil},
		{"AppendInPlace fill returns -1", func(v *MemVec[point]) { v.AppendInPlace(2, func(s []point) int { return -1 }) }, nil},
		{"AppendInPlace fill returns n+1", func(v *MemVec[point]) {
			v.AppendInPlace(2, func(s []point) int { s[0], s[1] = pt(8), pt(9); return 3 })
		}, nil},
		{"AppendInPlace fill panics", func(v *MemVec[point]) {
			v.AppendInPlace(2, func(s []point) int { s[0] = pt(9); panic("fill") })
		}, nil},
		{"AppendSeq seq panics first", func(v *MemVec[point]) {
			v.AppendSeq(func(func(point) bool) { panic("seq") })
		}, nil},
	}
	for _, be := range backends {
		for _, tt := range tests {
			t.Run(be.name+"/"+tt.name, func(t *testing.T) {
				if tt.slice != nil {
					require.Panics(t, func() { tt.slice(pts(seq(n)...)) }, "the slices function panics too")
				}
				v := filled(t, be.open, n)
				gen := v.word64(format.OffGeneration).Load()
				require.Panics(t, func() { tt.vec(v) })
				require.Equal(t, pts(seq(n)...), v.Slice(), "a panicking call leaves the vector unchanged")
				require.Equal(t, uint64(n), v.length.Load())
				require.Equal(t, gen, v.word64(format.OffGeneration).Load(), "a panicking call is no rewrite")
				require.NoError(t, v.Push(pt(n)), "the vector goes on working")
				require.Equal(t, pts(seq(n+1)...), v.Slice())
			})
		}
	}
}

// TestSlicesMethodsPanicMessages: the panics the vector raises itself say
// the operation, the region and what is wrong, in the package's form.
func TestSlicesMethodsPanicMessages(t *testing.T) {
	for _, be := range backends {
		v := filled(t, be.open, 3)
		r := regionName(v)
		for msg, call := range map[string]func(){
			"delete " + r + ": range [-1:1] out of range [0:3]": func() { v.Delete(-1, 1) },
			"replace " + r + ": range [2:1] out of range [0:3]": func() { v.Replace(2, 1, pt(9)) },
			"resize " + r + ": negative length -1":              func() { v.Resize(-1) },
			"append " + r + ": negative count -1":               func() { v.AppendInPlace(-1, func([]point) int { return 0 }) },
			"append " + r + ": AppendInPlace's fill returned 3, out of range [0:2]": func() {
				v.AppendInPlace(2, func([]point) int { return 3 })
			},
		} {
			require.PanicsWithValue(t, "memvec: "+msg, call, be.name)
		}
	}
}

// TestCallbackPanicsLeaveVectorConsistent: a del or eq that panics in the
// middle of DeleteFunc or CompactFunc leaves the elements decided so far
// decided and the rest as they were, the header's length matching, and the
// generation even, so that followers are not left seeing a rewrite that
// never ends. AppendSeq keeps what it appended before seq panicked.
func TestCallbackPanicsLeaveVectorConsistent(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			check := func(t *testing.T, v *MemVec[point], want []point) {
				t.Helper()
				require.Equal(t, want, v.Slice())
				require.Equal(t, uint64(len(want)), v.length.Load())
				require.Zero(t, v.word64(format.OffGeneration).Load()&1, "the generation is even")
			}
			t.Run("DeleteFunc", func(t *testing.T) {
				v := filled(t, be.open, 10)
				require.PanicsWithValue(t, "del", func() {
					v.DeleteFunc(func(x point) bool {
						if x.X == 6 {
							panic("del")
						}
						return odd(x)
					})
				})
				check(t, v, pts(0, 2, 4, 6, 7, 8, 9))
			})
			t.Run("DeleteFunc at the end", func(t *testing.T) {
				v := filled(t, be.open, 10)
				require.Panics(t, func() {
					v.DeleteFunc(func(x point) bool {
						if x.X == 9 {
							panic("del")
						}
						return x.X < 3
					})
				})
				check(t, v, pts(3, 4, 5, 6, 7, 8, 9))
			})
			t.Run("CompactFunc", func(t *testing.T) {
				v := be.open(t)
				require.NoError(t, v.Append(withRuns...))
				require.PanicsWithValue(t, "eq", func() {
					v.CompactFunc(func(a, b point) bool {
						if a.X == 5 {
							panic("eq")
						}
						return sameY(a, b)
					})
				})
				// {4,3} went (equal to {3,3}); {5,3} was being compared.
				check(t, v, []point{withRuns[0], withRuns[2], withRuns[3], withRuns[5], withRuns[6], withRuns[7]})
			})
			t.Run("AppendSeq", func(t *testing.T) {
				v := filled(t, be.open, 2)
				require.PanicsWithValue(t, "seq", func() {
					v.AppendSeq(func(yield func(point) bool) {
						for i := 7; ; i++ {
							if i == 10 {
								panic("seq")
							}
							if !yield(pt(i)) {
								return
							}
						}
					})
				})
				check(t, v, pts(0, 1, 7, 8, 9))
			})
		})
	}
}

// TestAppendInPlaceFillMustNotChangeVector: a fill that changes the
// vector's length or moves its room (here a Push, a Truncate, a Clip, a
// Close) makes AppendInPlace panic rather than count what fill was handed.
func TestAppendInPlaceFillMustNotChangeVector(t *testing.T) {
	for _, be := range backends {
		for name, change := range map[string]func(v *MemVec[point]){
			"Push":     func(v *MemVec[point]) { v.Push(pt(9)) },
			"Truncate": func(v *MemVec[point]) { v.Truncate(1) },
			"Clip":     func(v *MemVec[point]) { v.Clip() },
			"Close":    func(v *MemVec[point]) { v.Close() },
		} {
			t.Run(be.name+"/"+name, func(t *testing.T) {
				v := filled(t, be.open, 3)
				require.PanicsWithValue(t, "memvec: append "+regionName(v)+": AppendInPlace's fill changed the vector's length or the memory under s", func() {
					v.AppendInPlace(2, func(s []point) int {
						change(v)
						return 0
					})
				})
				if !v.closed {
					require.Equal(t, uint64(v.Len()), v.length.Load())
					require.LessOrEqual(t, v.Len(), 4)
				}
			})
		}
	}
}

// TestSlicesMethodsReadOnly: on a read-only vector and a follower, every
// new mutator returns ErrReadOnly, before it checks its indices or calls
// its function, and the file is not changed.
func TestSlicesMethodsReadOnly(t *testing.T) {
	opts := map[string]Option{"ReadOnly": ReadOnly(), "Follow": Follow()}
	for name, opt := range opts {
		t.Run(name, func(t *testing.T) {
			path := vecPath(t)
			w := openVec[point](t, path)
			require.NoError(t, w.Append(pts(1, 1, 2)...))
			require.NoError(t, w.Close())
			before, err := os.ReadFile(path)
			require.NoError(t, err)

			v := openVec[point](t, path, opt)
			for op, err := range slicesMethodErrors(t, v) {
				require.ErrorIs(t, err, ErrReadOnly, op)
			}
			require.Equal(t, pts(1, 1, 2), v.Slice())
			require.NoError(t, v.Close())
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, before, after, "a read-only vector must not change its file")
		})
	}
}

// TestSlicesMethodsClosed: after Close every new mutator returns ErrClosed,
// before it checks its indices or calls its function.
func TestSlicesMethodsClosed(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			v := filled(t, be.open, 3)
			require.NoError(t, v.Close())
			for op, err := range slicesMethodErrors(t, v) {
				require.ErrorIs(t, err, ErrClosed, op)
			}
		})
	}
}

// slicesMethodErrors calls each new mutator on v, with valid and with bad
// indices, and yields its name and error; a callback called fails the test.
func slicesMethodErrors(t *testing.T, v *MemVec[point]) iter.Seq2[string, error] {
	called := func(string) { t.Helper(); t.Errorf("a callback was called") }
	del := func(point) bool { called("del"); return true }
	eq := func(point, point) bool { called("eq"); return true }
	fill := func(s []point) int { called("fill"); return len(s) }
	seq := func(func(point) bool) { called("seq") }
	ops := []struct {
		name string
		op   func() error
	}{
		{"Delete", func() error { return v.Delete(0, 1) }},
		{"Delete nothing", func() error { return v.Delete(1, 1) }},
		{"Delete bad range", func() error { return v.Delete(2, 1) }},
		{"DeleteFunc", func() error { return v.DeleteFunc(del) }},
		{"CompactFunc", func() error { return v.CompactFunc(eq) }},
		{"Replace", func() error { return v.Replace(0, 1, pt(9)) }},
		{"Replace at end", func() error { return v.Replace(3, 3, pt(9)) }},
		{"Replace nothing", func() error { return v.Replace(1, 1) }},
		{"Replace bad range", func() error { return v.Replace(0, 9, pt(9)) }},
		{"Resize down", func() error { return v.Resize(1) }},
		{"Resize up", func() error { return v.Resize(10) }},
		{"Resize to Len", func() error { return v.Resize(v.Len()) }},
		{"Resize -1", func() error { return v.Resize(-1) }},
		{"AppendSeq", func() error { return v.AppendSeq(seq) }},
		{"AppendInPlace", func() error { return v.AppendInPlace(2, fill) }},
		{"AppendInPlace -1", func() error { return v.AppendInPlace(-1, fill) }},
	}
	return func(yield func(string, error) bool) {
		for _, o := range ops {
			var err error
			require.NotPanics(t, func() { err = o.op() }, o.name)
			if !yield(o.name, err) {
				return
			}
		}
	}
}

// TestSlicesMethodsGrowthFailureLeavesVectorUnchanged: on a Memory that
// cannot grow, a Replace, Resize or AppendInPlace that must grow returns
// the memory's error and leaves the region byte for byte as it was (no
// rewrite begun, fill not called); AppendSeq keeps the values it appended
// before, stops seq, and says how many it appended.
func TestSlicesMethodsGrowthFailureLeavesVectorUnchanged(t *testing.T) {
	full := func(t *testing.T) (*MemVec[point], *heapRegion) {
		mem := newHeapRegion(0)
		mem.limit = pageSize
		v, err := New[point](mem)
		require.NoError(t, err)
		for v.Len() < v.Cap() {
			require.NoError(t, v.Push(pt(v.Len())))
		}
		return v, mem
	}
	for name, grow := range map[string]func(v *MemVec[point]) error{
		"Replace":             func(v *MemVec[point]) error { return v.Replace(1, 2, pt(8), pt(9)) },
		"Replace empty range": func(v *MemVec[point]) error { return v.Replace(1, 1, pt(9)) },
		"Replace at end":      func(v *MemVec[point]) error { return v.Replace(v.Len(), v.Len(), pt(9)) },
		"Replace by own":      func(v *MemVec[point]) error { return v.Replace(0, 1, v.Slice()[:3]...) },
		"Resize":              func(v *MemVec[point]) error { return v.Resize(v.Len() + 1) },
		"AppendInPlace": func(v *MemVec[point]) error {
			return v.AppendInPlace(1, func([]point) int { t.Error("fill called"); return 0 })
		},
	} {
		t.Run(name, func(t *testing.T) {
			v, mem := full(t)
			before := bytes.Clone(mem.b)
			err := grow(v)
			require.ErrorContains(t, err, "over the limit")
			require.Equal(t, before, mem.b, "the region is unchanged, generation included")
			require.Equal(t, pts(seq(v.Cap())...), v.Slice())
			require.NoError(t, v.Delete(0, 1), "the vector goes on working")
		})
	}
	t.Run("AppendSeq", func(t *testing.T) {
		v, mem := full(t)
		n := v.Len()
		v.Truncate(n - 5)
		gen := v.word64(format.OffGeneration).Load()
		stopped := false
		err := v.AppendSeq(func(yield func(point) bool) {
			for i := range 10 {
				if !yield(pt(1000 + i)) {
					stopped = true
					return
				}
			}
		})
		require.Regexp(t, `^memvec: resize \*memvec\.heapRegion: heap memory: \d+ bytes is over the limit of \d+ \(AppendSeq stopped after appending 5 values, which stay\)$`, err.Error())
		require.True(t, stopped, "seq was stopped")
		require.Equal(t, append(pts(seq(n-5)...), pts(1000, 1001, 1002, 1003, 1004)...), v.Slice())
		require.Equal(t, gen, v.word64(format.OffGeneration).Load())
		w, err := New[point](mem)
		require.NoError(t, err)
		require.Equal(t, v.Slice(), w.Slice(), "the appended values are counted in the header")
	})
}

// TestSlicesMethodsGeneration specifies which calls announce a rewrite to
// followers: those that change or drop elements below the length bump the
// generation by two (odd during the change), and those that only append,
// or change nothing, leave it alone. Every call leaves the header's length
// equal to Len.
func TestSlicesMethodsGeneration(t *testing.T) {
	const n = 6
	tests := []struct {
		name    string
		op      func(v *MemVec[point]) error
		rewrite bool
	}{
		{"Delete", func(v *MemVec[point]) error { return v.Delete(1, 3) }, true},
		{"Delete tail", func(v *MemVec[point]) error { return v.Delete(4, n) }, true},
		{"Delete nothing", func(v *MemVec[point]) error { return v.Delete(2, 2) }, false},
		{"Delete nothing at end", func(v *MemVec[point]) error { return v.Delete(n, n) }, false},
		{"DeleteFunc some", func(v *MemVec[point]) error { return v.DeleteFunc(odd) }, true},
		{"DeleteFunc last", func(v *MemVec[point]) error { return v.DeleteFunc(func(x point) bool { return x.X == n-1 }) }, true},
		{"DeleteFunc none", func(v *MemVec[point]) error { return v.DeleteFunc(func(point) bool { return false }) }, false},
		{"CompactFunc some", func(v *MemVec[point]) error { return v.CompactFunc(nearX) }, true},
		{"CompactFunc none", func(v *MemVec[point]) error { return v.CompactFunc(sameY) }, false},
		{"Replace", func(v *MemVec[point]) error { return v.Replace(1, 2, pt(9)) }, true},
		{"Replace grows", func(v *MemVec[point]) error { return v.Replace(1, 2, pts(seq(500)...)...) }, true},
		{"Replace tail grows", func(v *MemVec[point]) error { return v.Replace(n-1, n, pt(8), pt(9)) }, true},
		{"Replace empty range", func(v *MemVec[point]) error { return v.Replace(2, 2, pt(9)) }, true},
		{"Replace nothing", func(v *MemVec[point]) error { return v.Replace(2, 2) }, false},
		{"Replace at end", func(v *MemVec[point]) error { return v.Replace(n, n, pt(8), pt(9)) }, false},
		{"Replace at end, growing", func(v *MemVec[point]) error { return v.Replace(n, n, pts(seq(500)...)...) }, false},
		{"Resize shrinks", func(v *MemVec[point]) error { return v.Resize(2) }, true},
		{"Resize to Len", func(v *MemVec[point]) error { return v.Resize(n) }, false},
		{"Resize grows", func(v *MemVec[point]) error { return v.Resize(n + 500) }, false},
		{"AppendSeq", func(v *MemVec[point]) error { return v.AppendSeq(slices.Values(pts(seq(500)...))) }, false},
		{"AppendInPlace", func(v *MemVec[point]) error {
			return v.AppendInPlace(500, func(s []point) int { return len(s) })
		}, false},
		{"AppendInPlace none", func(v *MemVec[point]) error { return v.AppendInPlace(5, func([]point) int { return 0 }) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := filled(t, backends[1].open, n)
			require.True(t, v.persistent)
			before := v.word64(format.OffGeneration).Load()
			require.Zero(t, before&1)
			require.NoError(t, tt.op(v))
			after := v.word64(format.OffGeneration).Load()
			if tt.rewrite {
				require.Equal(t, before+2, after, "a rewrite bumps the generation by two")
			} else {
				require.Equal(t, before, after, "appending or changing nothing is no rewrite")
			}
			require.Equal(t, uint64(v.Len()), v.length.Load())
		})
	}
}

// TestSlicesMethodsFollowed: a follower in the same process sees, after
// each call, the writer's elements, and ErrRewritten exactly when the call
// changed or dropped elements it could see.
func TestSlicesMethodsFollowed(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(seq(10)...)...))
	f := openVec[point](t, path, Follow())
	steps := []struct {
		op      func() error
		rewrite bool
	}{
		{func() error { return w.AppendSeq(slices.Values(pts(10, 11))) }, false},
		{func() error { return w.Delete(0, 2) }, true},
		{func() error { return w.Delete(3, 3) }, false},
		{func() error { return w.AppendInPlace(3, func(s []point) int { copy(s, pts(12, 13)); return 2 }) }, false},
		{func() error { return w.DeleteFunc(odd) }, true},
		{func() error { return w.DeleteFunc(odd) }, false},
		{func() error { return w.Replace(w.Len(), w.Len(), pt(20), pt(20)) }, false},
		{func() error { return w.CompactFunc(sameY) }, true},
		{func() error { return w.Replace(0, 1, pts(seq(1000)...)...) }, true},
		{func() error { return w.Resize(w.Len() + 2) }, false},
		{func() error { return w.Resize(5) }, true},
	}
	for i, st := range steps {
		require.NoError(t, st.op(), "step %d", i)
		n, err := f.Refresh()
		if st.rewrite {
			require.ErrorIs(t, err, ErrRewritten, "step %d", i)
		} else {
			require.NoError(t, err, "step %d", i)
		}
		require.Equal(t, w.Len(), n)
		require.Equal(t, w.Slice(), f.Slice(), "step %d", i)
	}
}

// TestSlicesMethodsDoNotAllocate pins that the new mutators, with room
// enough and xs not in the vector, allocate nothing.
func TestSlicesMethodsDoNotAllocate(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			v := filled(t, be.open, 100)
			require.NoError(t, v.Grow(1000))
			xs := pts(1, 2, 3)
			fill := func(s []point) int { return len(s) }
			for name, op := range map[string]func(){
				"Delete":        func() { v.Delete(10, 13); v.Append(xs...) },
				"DeleteFunc":    func() { v.DeleteFunc(odd); v.Resize(100) },
				"CompactFunc":   func() { v.CompactFunc(sameY); v.Resize(100) },
				"Replace":       func() { v.Replace(10, 11, xs...); v.Truncate(100) },
				"Resize":        func() { v.Resize(200); v.Resize(100) },
				"AppendInPlace": func() { v.AppendInPlace(50, fill); v.Truncate(100) },
			} {
				require.Zero(t, testing.AllocsPerRun(100, op), name)
			}
		})
	}
}

// TestAppendSeqErrorWrapsMemoryError: the error of an AppendSeq stopped by
// a failed growth wraps the memory's, so errors.Is finds it.
func TestAppendSeqErrorWrapsMemoryError(t *testing.T) {
	v, err := New[point](failingRegion{newHeapRegion(0)})
	require.NoError(t, err)
	err = v.AppendSeq(slices.Values(pts(seq(1000)...)))
	require.ErrorIs(t, err, errNoRoom)
	require.ErrorContains(t, err, fmt.Sprintf("after appending %d values", v.Len()))
	require.Equal(t, pts(seq(v.Len())...), v.Slice())
}

// errNoRoom is the error of a failingRegion's growth.
var errNoRoom = errors.New("no room")

// failingRegion is a heapRegion that cannot grow past its first page.
type failingRegion struct{ *heapRegion }

func (m failingRegion) Resize(size int) error {
	if size > pageSize {
		return errNoRoom
	}
	return m.heapRegion.Resize(size)
}

// TestAppendSeqCountsInBatches specifies when AppendSeq stores the length:
// once per appendSeqBatch values, before it takes the slow path (to grow
// the memory, or to fault in the next pages of a prefaulter), and when it
// returns; never past the values written.
func TestAppendSeqCountsInBatches(t *testing.T) {
	const start, total = 3, 1000
	for _, grown := range []bool{true, false} {
		t.Run(fmt.Sprintf("grown=%v", grown), func(t *testing.T) {
			v := filled(t, backends[1].open, start)
			if grown {
				require.NoError(t, v.Grow(total))
			}
			// room is where the fast path ends; slow is the length the
			// last slow path counted, which it did on reaching room.
			room, slow, slowPaths := cap(v.s), 0, 0
			err := v.AppendSeq(func(yield func(point) bool) {
				for i := range total {
					if c := cap(v.s); c != room {
						slow, room = room, c
						slowPaths++
					}
					// i values yielded so far: the header counts each
					// whole batch of them, or all of them up to the last
					// slow path, whichever is more.
					counted := int(v.length.Load())
					require.Equal(t, counted, v.Len())
					require.LessOrEqual(t, counted, start+i, "never a value not written")
					require.Equal(t, max(start+i-i%appendSeqBatch, slow), counted, "after %d values", i)
					if !yield(pt(start + i)) {
						return
					}
				}
			})
			require.NoError(t, err)
			require.Equal(t, pts(seq(start+total)...), v.Slice())
			require.Equal(t, uint64(start+total), v.length.Load())
			if !grown {
				require.NotZero(t, slowPaths, "a growth counts the values written before it")
			}
		})
	}
}

// TestAppendSeqWakesWaitingFollower: a follower sleeping in Wait sees the
// values of an AppendSeq while it runs, without waiting for a batch to
// fill: the next value after it went to sleep wakes it.
func TestAppendSeqWakesWaitingFollower(t *testing.T) {
	if !region.CanSleep {
		t.Skip("followers poll here: they see AppendSeq's values batch by batch")
	}
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(0, 1)...))
	require.NoError(t, w.Grow(appendSeqBatch)) // no growth to count the values either
	f := openVec[point](t, path, Follow())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen := make(chan int, 1)
	go func() {
		n, err := f.Wait(ctx, 2)
		if err != nil {
			n = -1
		}
		seen <- n
	}()
	const most = appendSeqBatch - 10
	yielded, saw := 0, 0
	require.NoError(t, w.AppendSeq(func(yield func(point) bool) {
		for yielded < most {
			select {
			case saw = <-seen:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if !yield(pt(2 + yielded)) {
				return
			}
			yielded++
		}
	}))
	require.Less(t, yielded, most, "the follower's Wait returned before AppendSeq did")
	require.Greater(t, saw, 2)
	require.LessOrEqual(t, saw, 2+yielded)
	require.Equal(t, w.Slice()[:saw], f.Slice())
}

// TestSlicesMethodsGrowPastReservation: the methods that grow keep working
// when the region moves (past its reservation here; on Windows a file's
// region moves at every growth), holding no pointer into the old one.
func TestSlicesMethodsGrowPastReservation(t *testing.T) {
	const reserve = 64 << 10
	n := 3 * reserve / 24
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
		for op, grow := range map[string]func(v *MemVec[point]) error{
			"AppendSeq": func(v *MemVec[point]) error { return v.AppendSeq(slices.Values(pts(seq(n)...)[1:])) },
			"AppendInPlace": func(v *MemVec[point]) error {
				return v.AppendInPlace(n-1, func(s []point) int { return copy(s, pts(seq(n)...)[1:]) })
			},
			"Replace": func(v *MemVec[point]) error { return v.Replace(1, 1, pts(seq(n)...)[1:]...) },
			"Resize": func(v *MemVec[point]) error {
				if err := v.Resize(n); err != nil {
					return err
				}
				for i := range n {
					v.Set(i, pt(i))
				}
				return nil
			},
		} {
			t.Run(name+"/"+op, func(t *testing.T) {
				v := open(t)
				require.NoError(t, v.Push(pt(0)))
				before := uintptr(unsafe.Pointer(&v.Slice()[0]))
				require.NoError(t, grow(v))
				require.NotEqual(t, before, uintptr(unsafe.Pointer(&v.Slice()[0])), "growth past the reservation moves the region")
				require.True(t, slices.Equal(pts(seq(n)...), v.Slice()))
				require.Equal(t, uint64(n), v.length.Load())
				require.NoError(t, v.Push(pt(n)))
			})
		}
	}
}
