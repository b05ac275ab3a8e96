package memvec

import "testing"

func BenchmarkZZCapGet(b *testing.B) {
	for _, c := range []int{0, mapGetN, 2 * mapGetN} {
		b.Run("cap="+map[int]string{0: "0", mapGetN: "n", 2 * mapGetN: "2n"}[c], func(b *testing.B) {
			order := mapOrder(mapGetN)
			m, _ := MakeMap[uint64, uint64](c)
			defer m.Close()
			for i := range uint64(len(order)) {
				m.Put(mapKeyU64(i), mapValU64(i))
			}
			get := func(k uint64) (uint64, bool) { return m.Get(k) }
			readMap(b, order, mapKeyU64, get)
			b.ReportMetric(float64(m.word(mwAlloc).Load())/float64(mapGetN), "B/entry")
		})
	}
}
