package memvec

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// rec is the model test's element: mixed kinds with padding, so that a
// wrong offset or size shows.
type rec struct {
	A int64
	B float32
	C [3]uint8
	D bool
}

// TestModel runs thousands of random operations on a vector and on a plain
// []rec side by side and requires them to agree after every one. The file
// vector is also closed and reopened (read-write, and now and then
// read-only) along the way, so that what it holds is what it persisted.
func TestModel(t *testing.T) {
	const ops = 6000
	for _, backend := range []string{"anon", "file"} {
		t.Run(backend, func(t *testing.T) {
			seed := rand.Uint64()
			t.Logf("seed %d", seed)
			r := rand.New(rand.NewPCG(seed, 0))
			path := vecPath(t)
			open := func() *MemVec[rec] {
				if backend == "anon" {
					v, err := Make[rec](r.IntN(50))
					require.NoError(t, err)
					return v
				}
				v, err := Open[rec](path)
				require.NoError(t, err)
				return v
			}
			v := open()
			defer func() { v.Close() }()
			var model []rec
			next := 0
			gen := func() rec {
				next++
				return rec{A: int64(next), B: float32(next) / 3, C: [3]uint8{uint8(next), uint8(next >> 8), 7}, D: next%2 == 0}
			}
			for op := 0; op < ops; op++ {
				n := len(model)
				switch k := r.IntN(114); {
				case k < 30:
					x := gen()
					require.NoError(t, v.Push(x))
					model = append(model, x)
				case k < 38:
					xs := make([]rec, r.IntN(300))
					for i := range xs {
						xs[i] = gen()
					}
					require.NoError(t, v.Append(xs...))
					model = append(model, xs...)
				case k < 46:
					x, ok := v.Pop()
					require.Equal(t, n > 0, ok)
					if n > 0 {
						require.Equal(t, model[n-1], x)
						model = model[:n-1]
					}
				case k < 54:
					i := r.IntN(n + 1)
					xs := []rec{gen(), gen()}[:1+r.IntN(2)]
					require.NoError(t, v.Insert(i, xs...))
					model = slices.Insert(model, i, xs...)
				case k < 62 && n > 0:
					i := r.IntN(n)
					require.Equal(t, model[i], v.Remove(i))
					model = slices.Delete(model, i, i+1)
				case k < 68 && n > 0:
					i := r.IntN(n)
					require.Equal(t, model[i], v.SwapRemove(i))
					model[i] = model[n-1]
					model = model[:n-1]
				case k < 76 && n > 0:
					i, x := r.IntN(n), gen()
					v.Set(i, x)
					model[i] = x
				case k < 79:
					m := r.IntN(n + 1)
					v.Truncate(m)
					model = model[:m]
				case k < 80:
					v.Clear()
					model = model[:0]
				case k < 84:
					require.NoError(t, v.Grow(r.IntN(2000)))
				case k < 86:
					require.NoError(t, v.Clip())
					require.Equal(t, v.Len(), v.Cap())
				case k < 88:
					require.NoError(t, v.Sync())
				case k < 92 && backend == "file":
					require.NoError(t, v.Close())
					if r.IntN(4) == 0 {
						ro, err := Open[rec](path, ReadOnly())
						require.NoError(t, err)
						require.Equal(t, len(model), ro.Len())
						require.True(t, slices.Equal(model, ro.Slice()), "read-only reopen after op %d", op)
						require.NoError(t, ro.Close())
					}
					v = open()
				case 100 <= k && k < 102:
					i := r.IntN(n + 1)
					j := i + r.IntN(n-i+1)
					require.NoError(t, v.Delete(i, j))
					model = slices.Delete(model, i, j)
				case 102 <= k && k < 103:
					c := int64(r.IntN(7))
					del := func(x rec) bool { return x.A%7 == c }
					require.NoError(t, v.DeleteFunc(del))
					model = slices.DeleteFunc(model, del)
				case 103 <= k && k < 104:
					eq := func(a, b rec) bool { return a.D == b.D }
					require.NoError(t, v.CompactFunc(eq))
					model = slices.CompactFunc(model, eq)
				case 104 <= k && k < 107:
					i := r.IntN(n + 1)
					j := i + r.IntN(min(n-i, 5)+1)
					if r.IntN(4) == 0 { // some of the vector's own elements
						a := r.IntN(n + 1)
						b := a + r.IntN(n-a+1)
						xs := slices.Clone(model[a:b])
						require.NoError(t, v.Replace(i, j, v.Slice()[a:b]...))
						model = slices.Replace(model, i, j, xs...)
						break
					}
					xs := make([]rec, r.IntN(8))
					for i := range xs {
						xs[i] = gen()
					}
					require.NoError(t, v.Replace(i, j, xs...))
					model = slices.Replace(model, i, j, xs...)
				case 107 <= k && k < 109:
					m := r.IntN(n + 100)
					require.NoError(t, v.Resize(m))
					if m <= n {
						model = model[:m]
					} else {
						model = append(model, make([]rec, m-n)...)
					}
				case 109 <= k && k < 111:
					xs := make([]rec, r.IntN(300))
					for i := range xs {
						xs[i] = gen()
					}
					require.NoError(t, v.AppendSeq(slices.Values(xs)))
					model = append(model, xs...)
				case 111 <= k && k < 114:
					room := r.IntN(300)
					set := make([]rec, r.IntN(room+1))
					for i := range set {
						if r.IntN(8) != 0 { // the others are left to be zero
							set[i] = gen()
						}
					}
					require.NoError(t, v.AppendInPlace(room, func(s []rec) int {
						for i, x := range set {
							if x != (rec{}) {
								s[i] = x
							}
						}
						return len(set)
					}))
					model = append(model, set...)
				default:
					if n > 0 {
						i := r.IntN(n)
						require.Equal(t, model[i], v.Index(i))
					}
				}
				require.Equal(t, len(model), v.Len(), "op %d", op)
				require.LessOrEqual(t, v.Len(), v.Cap())
				if op%97 == 0 || op == ops-1 {
					require.True(t, slices.Equal(model, v.Slice()), "contents after op %d", op)
					var back []rec
					for i, x := range v.Backward() {
						require.Equal(t, model[i], x)
						back = append(back, x)
					}
					require.Len(t, back, len(model))
				}
			}
		})
	}
}
