package memvec

// Map's benchmarks against Go's built-in map, in the same run, for the two
// shapes of BENCHMARKS.md ("Maps"): Map[uint64, uint64] (type=u64) and
// Map[[16]byte, [3]int64] (type=k16). The runs at 5×10^7 entries, which
// need a process each (peak RSS, GC pauses), and the comparison with bbolt
// are in scripts/mapbench, a module of its own so that bbolt stays out of
// this one's go.mod.

import (
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

const (
	mapGetN = 1_000_000  // the entries BenchmarkMapGet reads from
	mapPutN = 10_000_000 // the entries BenchmarkMapPut grows to
)

// mapMix is a bijection of uint64 (splitmix64's finalizer): the keys of
// entry i, spread at random, made again from i rather than kept in a
// table that would share the caches with the map.
func mapMix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	return x ^ x>>31
}

func mapKeyU64(i uint64) uint64 { return mapMix(i) }
func mapValU64(i uint64) uint64 { return i }

func mapKeyK16(i uint64) (k [16]byte) {
	a, b := mapMix(i), mapMix(i^0x5555_5555_5555_5555)
	for j := range 8 {
		k[j], k[8+j] = byte(a>>(8*j)), byte(b>>(8*j))
	}
	return k
}
func mapValK16(i uint64) [3]int64 { return [3]int64{int64(i), -int64(i), 1} }

// mapOrder returns the order in which BenchmarkMapGet reads entries 0 to
// n-1: a random permutation, read in turn.
func mapOrder(n int) []uint32 {
	p := make([]uint32, n)
	for i := range p {
		p[i] = uint32(i)
	}
	for i := n - 1; i > 0; i-- {
		j := mapMix(uint64(i)) % uint64(i+1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// BenchmarkMapGet reads present keys of a map of 10^6 entries in random
// order, warm (every key read once before the timer): Map.Get against Go's
// map. With n=10000 the map stays in the caches, which shows the cost of
// the code alone.
func BenchmarkMapGet(b *testing.B) {
	for _, n := range []int{mapGetN, 10_000} {
		order := mapOrder(n)
		name := "n=" + strconv.Itoa(n)
		benchMapGet(b, name+"/type=u64", order, mapKeyU64, mapValU64)
		benchMapGet(b, name+"/type=k16", order, mapKeyK16, mapValK16)
	}
}

func benchMapGet[K comparable, V any](b *testing.B, name string, order []uint32, key func(uint64) K, val func(uint64) V) {
	b.Run(name+"/impl=memvec", func(b *testing.B) {
		m, err := MakeMap[K, V](0)
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		for i := range uint64(len(order)) {
			if err := m.Put(key(i), val(i)); err != nil {
				b.Fatal(err)
			}
		}
		get := func(k K) (V, bool) { return m.Get(k) }
		readMap(b, order, key, get)
	})
	b.Run(name+"/impl=gomap", func(b *testing.B) {
		m := make(map[K]V)
		for i := range uint64(len(order)) {
			m[key(i)] = val(i)
		}
		get := func(k K) (V, bool) { v, ok := m[k]; return v, ok }
		readMap(b, order, key, get)
	})
}

// readMap reads every key once, then times b.N reads in order's order.
// The call through get costs both impls the same.
func readMap[K comparable, V any](b *testing.B, order []uint32, key func(uint64) K, get func(K) (V, bool)) {
	for _, i := range order {
		if _, ok := get(key(uint64(i))); !ok {
			b.Fatalf("key %d missing", i)
		}
	}
	found, i := 0, 0
	for b.Loop() {
		if _, ok := get(key(uint64(order[i]))); ok {
			found++
		}
		if i++; i == len(order) {
			i = 0
		}
	}
	if found != b.N {
		b.Fatalf("%d of %d keys found", found, b.N)
	}
}

// BenchmarkMapPut grows a map from empty to 10^7 entries, without Sync: a
// Map in a file (the Sync at Close outside the timer) and in anonymous
// memory against Go's map, each made with no capacity. An op is the whole
// growth; ns/put is per key.
func BenchmarkMapPut(b *testing.B) {
	benchMapPut(b, "type=u64", mapKeyU64, mapValU64)
	benchMapPut(b, "type=k16", mapKeyK16, mapValK16)
}

func benchMapPut[K comparable, V any](b *testing.B, name string, key func(uint64) K, val func(uint64) V) {
	for _, backend := range []string{"file", "anon"} {
		b.Run(name+"/impl=memvec/backend="+backend, func(b *testing.B) {
			dir := b.TempDir()
			for b.Loop() {
				coldStart(b)
				var m *Map[K, V]
				var err error
				if backend == "file" {
					m, err = OpenMap[K, V](filepath.Join(dir, "m"), CreateNew())
				} else {
					m, err = MakeMap[K, V](0)
				}
				if err != nil {
					b.Fatal(err)
				}
				if err := fillMap(m, mapPutN, key, val); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := m.Close(); err != nil {
					b.Fatal(err)
				}
				if backend == "file" {
					removeFile(b, filepath.Join(dir, "m"))
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/mapPutN, "ns/put")
		})
	}
	b.Run(name+"/impl=gomap", func(b *testing.B) {
		for b.Loop() {
			coldStart(b)
			fillGoMap(make(map[K]V), mapPutN, key, val)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/mapPutN, "ns/put")
	})
}

func removeFile(b *testing.B, path string) {
	if err := os.Remove(path); err != nil {
		b.Fatal(err)
	}
}

//go:noinline
func fillMap[K comparable, V any](m *Map[K, V], n int, key func(uint64) K, val func(uint64) V) error {
	for i := range uint64(n) {
		if err := m.Put(key(i), val(i)); err != nil {
			return err
		}
	}
	return nil
}

//go:noinline
func fillGoMap[K comparable, V any](m map[K]V, n int, key func(uint64) K, val func(uint64) V) {
	for i := range uint64(n) {
		m[key(i)] = val(i)
	}
}

// BenchmarkMapPutLatency grows a map from empty to 10^7 entries as
// BenchmarkMapPut does, timing every Put (and every insertion into Go's
// map, for the baseline): the worst (worst-ns) and the 99.9th percentile
// (p999-ns). On a shared machine, and more so in a virtual machine, the
// worst wall-clock time includes the times the scheduler or the hypervisor
// gave the CPU to something else: on Linux the same figures of the
// thread's CPU time (worst-cpu-ns, p999-cpu-ns) leave those out, and keep
// the work the Put did, in the kernel too (its page faults, its growth).
// That clock is accounted in arrears (a read may add a millisecond the
// thread ran before), so each Put's CPU time is capped at its wall-clock
// time. Two reads of each clock a Put are in every figure.
func BenchmarkMapPutLatency(b *testing.B) {
	benchMapPutLatency(b, "type=u64", mapKeyU64, mapValU64)
	benchMapPutLatency(b, "type=k16", mapKeyK16, mapValK16)
}

func benchMapPutLatency[K comparable, V any](b *testing.B, name string, key func(uint64) K, val func(uint64) V) {
	run := func(b *testing.B, put func(K, V) error) {
		// The thread's CPU time is read on the thread that runs the Puts.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var h, cpu latencies
		for i := range uint64(mapPutN) {
			k, v := key(i), val(i)
			c := threadCPU()
			t := time.Now()
			err := put(k, v)
			wall := time.Since(t)
			h.add(wall)
			if c >= 0 {
				cpu.add(min(threadCPU()-c, wall))
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(h.worst), "worst-ns")
		b.ReportMetric(float64(h.quantile(0.999)), "p999-ns")
		b.ReportMetric(float64(h.quantile(0.5)), "p50-ns")
		if cpu.n > 0 {
			b.ReportMetric(float64(cpu.worst), "worst-cpu-ns")
			b.ReportMetric(float64(cpu.quantile(0.999)), "p999-cpu-ns")
		}
	}
	b.Run(name+"/impl=memvec/backend=file", func(b *testing.B) {
		dir := b.TempDir()
		for b.Loop() {
			coldStart(b)
			m, err := OpenMap[K, V](filepath.Join(dir, "m"), CreateNew())
			if err != nil {
				b.Fatal(err)
			}
			run(b, m.Put)
			b.StopTimer()
			if err := m.Close(); err != nil {
				b.Fatal(err)
			}
			removeFile(b, filepath.Join(dir, "m"))
			b.StartTimer()
		}
	})
	b.Run(name+"/impl=gomap", func(b *testing.B) {
		for b.Loop() {
			coldStart(b)
			m := make(map[K]V)
			run(b, func(k K, v V) error { m[k] = v; return nil })
			runtime.KeepAlive(m)
		}
	})
}

// latencies is a histogram of durations: exact below 64 µs, then in
// buckets of 1/16 of a power of two.
type latencies struct {
	fine   [1 << 16]uint32
	coarse [64 * 16]uint32
	n      uint64
	worst  time.Duration
}

func (h *latencies) add(d time.Duration) {
	h.n++
	h.worst = max(h.worst, d)
	if d < 1<<16 {
		h.fine[d]++
		return
	}
	e := bits.Len64(uint64(d)) - 1
	h.coarse[e*16+int(uint64(d)>>(e-4)&15)]++
}

// quantile returns the duration below which a fraction q of those added
// lie (the bucket's lower bound above 64 µs).
func (h *latencies) quantile(q float64) time.Duration {
	want := uint64(q * float64(h.n))
	var seen uint64
	for d, c := range h.fine {
		if seen += uint64(c); seen > want {
			return time.Duration(d)
		}
	}
	for i, c := range h.coarse {
		if seen += uint64(c); seen > want {
			e := i / 16
			return time.Duration(1<<e | (i%16)<<(e-4))
		}
	}
	return h.worst
}
