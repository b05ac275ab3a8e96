package memvec

import (
	"testing"
)

// growthTarget is how far BenchmarkGrowth grows a region: from one page,
// doubling, to 1 GiB.
const growthTarget = 1 << 30

// BenchmarkGrowth measures the growth of anonymous memory from one page to
// 1 GiB by doubling: impl=reserve is Anon (growth in place inside reserved
// address space), impl=mremap the baseline it replaced (mremap with
// MREMAP_MAYMOVE). With touched=true every page is written before the next
// growth, outside the timer, so that mremap has page-table entries to move.
func BenchmarkGrowth(b *testing.B) {
	for _, impl := range []string{"reserve", "mremap"} {
		for _, touched := range []bool{false, true} {
			name := "impl=" + impl + "/touched=false"
			if touched {
				name = "impl=" + impl + "/touched=true"
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(growthTarget)
				for range b.N {
					r := newGrowable(b, impl)
					for size := pageSize; size <= growthTarget; size *= 2 {
						if err := r.Resize(size); err != nil {
							b.Fatal(err)
						}
						if touched {
							b.StopTimer()
							mem := r.Bytes()
							for i := size / 2; i < size; i += pageSize {
								mem[i] = 1
							}
							b.StartTimer()
						}
					}
					b.StopTimer()
					r.Close()
					b.StartTimer()
				}
			})
		}
	}
}

// newGrowable returns an empty region of the impl BenchmarkGrowth compares.
func newGrowable(b *testing.B, impl string) Memory {
	if impl == "mremap" {
		return newMremapRegion(b)
	}
	a, err := NewAnon(0)
	if err != nil {
		b.Fatal(err)
	}
	return a
}
