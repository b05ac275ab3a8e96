// Command mapbench measures memvec's Map against Go's built-in map at a
// size that needs a process of its own per measure (peak RSS, GC pauses:
// 5×10^7 entries by default), and against bbolt (go.etcd.io/bbolt), for
// BENCHMARKS.md ("Maps"). It is a module of its own so that bbolt stays out
// of memvec's go.mod. The benchmarks at 10^6 and 10^7 entries are in the
// root package (bench_map_test.go).
//
//	cd scripts/mapbench && go run . -passes 3              # everything
//	go run . -what big -n 50000000 -type u64 -passes 3    # only the big runs
//	go run . -what bolt -bolt-n 1000000                    # only bbolt
//
// The big runs: for each pass, each type and each impl (memvec: a Map in a
// file of -dir; gomap: Go's map), a child process grows the map from empty
// to n entries, reads 10^7 present keys at random, then runs "beside" the
// map a loop that reads a key and allocates a 128-byte object per
// iteration (a program that does other work), and reports its peak RSS
// (VmHWM) and the GC's total stop-the-world pause time (MemStats's
// PauseTotalNs: for the whole process and for the beside phase) and CPU
// time. memvec's child then closes the map (a Sync), and a new process
// reopens it and reads one key. The passes interleave the impls; a ratio
// is memvec's figure over Go's map's of the same pass, and the median of
// the passes is printed with their range.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memvec/memvec"
	bolt "go.etcd.io/bbolt"
)

var (
	what   = flag.String("what", "big,bolt", "what to run: big, bolt, or both")
	n      = flag.Int("n", 50_000_000, "entries of the big runs")
	boltN  = flag.Int("bolt-n", 1_000_000, "entries of the bbolt comparison")
	gets   = flag.Int("gets", 10_000_000, "random reads of the big runs, and iterations of their beside phase")
	types  = flag.String("type", "u64,k16", "the key and value types: u64 (Map[uint64, uint64]), k16 (Map[[16]byte, [3]int64])")
	passes = flag.Int("passes", 3, "interleaved passes")
	dir    = flag.String("dir", os.TempDir(), "where the map and bbolt files go")
	child  = flag.String("child", "", "internal: the role of a child process (big, reopen)")
	impl   = flag.String("impl", "", "internal: memvec or gomap")
)

func main() {
	flag.Parse()
	var err error
	switch *child {
	case "big":
		err = forType(*types, bigChild{})
	case "reopen":
		err = forType(*types, reopenChild{})
	case "":
		err = parent()
	default:
		err = fmt.Errorf("unknown child role %q", *child)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mapbench:", err)
		os.Exit(1)
	}
}

// mix is a bijection of uint64 (splitmix64's finalizer), as in
// bench_map_test.go: entry i's key is made from i, not kept in a table
// that would count in the peak RSS.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	return x ^ x>>31
}

func keyU64(i uint64) uint64 { return mix(i) }
func valU64(i uint64) uint64 { return i }

func keyK16(i uint64) (k [16]byte) {
	binary.LittleEndian.PutUint64(k[:8], mix(i))
	binary.LittleEndian.PutUint64(k[8:], mix(i^0x5555_5555_5555_5555))
	return k
}
func valK16(i uint64) [3]int64 { return [3]int64{int64(i), -int64(i), 1} }

// shape is one of the two key and value types, with bbolt's encoding of
// them.
type shape[K comparable, V any] struct {
	key     func(uint64) K
	val     func(uint64) V
	keyEnc  func([]byte, K) []byte
	valEnc  func([]byte, V) []byte
	valDec  func([]byte) V
	matches func(V, uint64) bool
}

var u64 = shape[uint64, uint64]{
	key: keyU64, val: valU64,
	keyEnc:  func(b []byte, k uint64) []byte { return binary.BigEndian.AppendUint64(b, k) },
	valEnc:  func(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) },
	valDec:  func(b []byte) uint64 { return binary.LittleEndian.Uint64(b) },
	matches: func(v uint64, i uint64) bool { return v == i },
}

var k16 = shape[[16]byte, [3]int64]{
	key: keyK16, val: valK16,
	keyEnc: func(b []byte, k [16]byte) []byte { return append(b, k[:]...) },
	valEnc: func(b []byte, v [3]int64) []byte {
		for _, x := range v {
			b = binary.LittleEndian.AppendUint64(b, uint64(x))
		}
		return b
	},
	valDec: func(b []byte) (v [3]int64) {
		for j := range v {
			v[j] = int64(binary.LittleEndian.Uint64(b[8*j:]))
		}
		return v
	},
	matches: func(v [3]int64, i uint64) bool { return v[0] == int64(i) },
}

// runner runs one role for a shape (Go has no generic methods).
type runner interface {
	u64() error
	k16() error
}

func forType(t string, r runner) error {
	switch t {
	case "u64":
		return r.u64()
	case "k16":
		return r.k16()
	}
	return fmt.Errorf("unknown type %q", t)
}

type bigChild struct{}

func (bigChild) u64() error { return big(u64) }
func (bigChild) k16() error { return big(k16) }

type reopenChild struct{}

func (reopenChild) u64() error { return reopen(u64) }
func (reopenChild) k16() error { return reopen(k16) }

// big is a child's big run; it prints its figures as key=value words.
func big[K comparable, V any](s shape[K, V]) error {
	var get func(K) (V, bool)
	var closeMap func() error
	n := uint64(*n)
	start := time.Now()
	switch *impl {
	case "memvec":
		path := filepath.Join(*dir, "mapbench.map")
		os.Remove(path)
		m, err := memvec.OpenMap[K, V](path, memvec.CreateNew())
		if err != nil {
			return err
		}
		for i := range n {
			if err := m.Put(s.key(i), s.val(i)); err != nil {
				return err
			}
		}
		get, closeMap = m.Get, m.Close
	case "gomap":
		m := make(map[K]V)
		for i := range n {
			m[s.key(i)] = s.val(i)
		}
		get = func(k K) (V, bool) { v, ok := m[k]; return v, ok }
		closeMap = func() error { runtime.KeepAlive(m); return nil }
	default:
		return fmt.Errorf("unknown impl %q", *impl)
	}
	build := time.Since(start)

	g := uint64(*gets)
	start = time.Now()
	for j := range g {
		i := mix(j^0xABCDEF) % n
		if v, ok := get(s.key(i)); !ok || !s.matches(v, i) {
			return fmt.Errorf("key %d: %v, %v", i, v, ok)
		}
	}
	getTime := time.Since(start)

	// Beside: a program that allocates as it reads.
	var ring [4096]*[128]byte
	pause0, gc0, cpu0 := gcFigures()
	start = time.Now()
	for j := range g {
		i := mix(j^0x123456) % n
		if v, ok := get(s.key(i)); !ok || !s.matches(v, i) {
			return fmt.Errorf("key %d: %v, %v", i, v, ok)
		}
		ring[j%4096] = new([128]byte)
	}
	beside := time.Since(start)
	pause1, gc1, cpu1 := gcFigures()
	runtime.KeepAlive(&ring)
	rss, err := peakRSS()
	if err != nil {
		return err
	}
	start = time.Now()
	if err := closeMap(); err != nil {
		return err
	}
	closeTime := time.Since(start)
	fmt.Printf("put-ns=%.1f get-ns=%.1f beside-ns=%.1f peak-rss=%d gc-pause-ns=%d gc-pause-beside-ns=%d gc-cycles=%d gc-cycles-beside=%d gc-cpu-s=%.3f gc-cpu-beside-s=%.3f close-ns=%d\n",
		float64(build.Nanoseconds())/float64(n), float64(getTime.Nanoseconds())/float64(g), float64(beside.Nanoseconds())/float64(g),
		rss, pause1, pause1-pause0, gc1, gc1-gc0, cpu1, cpu1-cpu0, closeTime.Nanoseconds())
	return nil
}

// reopen opens the map file the memvec child made and reads one key.
func reopen[K comparable, V any](s shape[K, V]) error {
	path := filepath.Join(*dir, "mapbench.map")
	i := uint64(*n) / 2
	start := time.Now()
	m, err := memvec.OpenMap[K, V](path, memvec.MustExist())
	if err != nil {
		return err
	}
	v, ok := m.Get(s.key(i))
	t := time.Since(start)
	if !ok || !s.matches(v, i) {
		return fmt.Errorf("key %d: %v, %v", i, v, ok)
	}
	length := m.Len()
	start = time.Now()
	if err := m.Close(); err != nil {
		return err
	}
	fmt.Printf("reopen-get-ns=%d close-ns=%d len=%d\n", t.Nanoseconds(), time.Since(start).Nanoseconds(), length)
	return os.Remove(path)
}

// gcFigures returns the GC's total stop-the-world pause time, its cycles
// and its CPU time so far.
func gcFigures() (pauseNs uint64, cycles uint32, cpu float64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sample := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(sample)
	return ms.PauseTotalNs, ms.NumGC, sample[0].Value.Float64()
}

// peakRSS returns the process's peak resident set (VmHWM), in bytes.
func peakRSS() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// figures are one run's key=value words.
type figures map[string]float64

func runChild(role, impl, typ string) (figures, error) {
	cmd := exec.Command(os.Args[0], "-child", role, "-impl", impl, "-type", typ,
		"-n", strconv.Itoa(*n), "-gets", strconv.Itoa(*gets), "-dir", *dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s %s: %w", role, impl, typ, err)
	}
	f := figures{}
	for w := range strings.FieldsSeq(out.String()) {
		k, v, _ := strings.Cut(w, "=")
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("%s %s %s: %q: %w", role, impl, typ, w, err)
		}
		f[k] = x
	}
	return f, nil
}

// results collects a measure's per-pass figures of memvec and its
// baseline, by row.
type results struct {
	rows  []string
	pairs map[string][][2]float64
	units map[string]string
}

func (r *results) add(row, unit string, memvecX, baseline float64) {
	if r.pairs == nil {
		r.pairs, r.units = map[string][][2]float64{}, map[string]string{}
	}
	if _, ok := r.pairs[row]; !ok {
		r.rows = append(r.rows, row)
		r.units[row] = unit
	}
	r.pairs[row] = append(r.pairs[row], [2]float64{memvecX, baseline})
	if baseline == 0 {
		fmt.Printf("  %s: %.4g %s\n", row, memvecX, unit)
	} else {
		fmt.Printf("  %s: %.4g / %.4g %s = %.3f\n", row, memvecX, baseline, unit, memvecX/baseline)
	}
}

func median(x []float64) float64 {
	x = slices.Clone(x)
	slices.Sort(x)
	if len(x)%2 == 1 {
		return x[len(x)/2]
	}
	return (x[len(x)/2-1] + x[len(x)/2]) / 2
}

func (r *results) print() {
	fmt.Println("\n| measure | memvec | baseline | ratio (range) |")
	fmt.Println("|---|---:|---:|---:|")
	for _, row := range r.rows {
		var a, b, q []float64
		for _, p := range r.pairs[row] {
			a, b = append(a, p[0]), append(b, p[1])
			if p[1] != 0 {
				q = append(q, p[0]/p[1])
			}
		}
		u := r.units[row]
		if len(q) == 0 {
			fmt.Printf("| %s | %.4g %s | | (%.4g–%.4g) |\n", row, median(a), u, slices.Min(a), slices.Max(a))
			continue
		}
		fmt.Printf("| %s | %.4g %s | %.4g %s | %.3f (%.3f–%.3f) |\n", row, median(a), u, median(b), u, median(q), slices.Min(q), slices.Max(q))
	}
}

func parent() error {
	var r results
	for pass := 1; pass <= *passes; pass++ {
		for t := range strings.SplitSeq(*types, ",") {
			if strings.Contains(*what, "big") {
				fmt.Printf("pass %d, %s, %d entries (load average %s)\n", pass, t, *n, loadAverage())
				m, err := runChild("big", "memvec", t)
				if err != nil {
					return err
				}
				ro, err := runChild("reopen", "memvec", t)
				if err != nil {
					return err
				}
				g, err := runChild("big", "gomap", t)
				if err != nil {
					return err
				}
				r.add(t+" Get / Go map", "ns", m["get-ns"], g["get-ns"])
				r.add(t+" peak RSS / Go map's", "MB", m["peak-rss"]/1e6, g["peak-rss"]/1e6)
				r.add(t+" GC pause, whole process / Go map's", "ms", m["gc-pause-ns"]/1e6, g["gc-pause-ns"]/1e6)
				r.add(t+" GC pause, beside phase / Go map's", "ms", m["gc-pause-beside-ns"]/1e6, g["gc-pause-beside-ns"]/1e6)
				r.add(t+" GC cycles, whole process / Go map's", "", m["gc-cycles"], g["gc-cycles"])
				r.add(t+" GC CPU, whole process / Go map's", "s", m["gc-cpu-s"], g["gc-cpu-s"])
				r.add(t+" GC CPU, beside phase / Go map's", "s", m["gc-cpu-beside-s"], g["gc-cpu-beside-s"])
				r.add(t+" beside loop (Get + 128-byte alloc) / Go map's", "ns", m["beside-ns"], g["beside-ns"])
				r.add(t+" Put, growing from empty / Go map", "ns", m["put-ns"], g["put-ns"])
				r.add(t+" Close (a Sync of the whole file)", "ms", m["close-ns"]/1e6, 0)
				r.add(t+" reopen + one Get, new process", "µs", ro["reopen-get-ns"]/1e3, 0)
			}
			if strings.Contains(*what, "bolt") {
				fmt.Printf("pass %d, %s, bbolt, %d entries (load average %s)\n", pass, t, *boltN, loadAverage())
				var err error
				switch t {
				case "u64":
					err = versusBolt(&r, t, u64)
				case "k16":
					err = versusBolt(&r, t, k16)
				default:
					err = fmt.Errorf("unknown type %q", t)
				}
				if err != nil {
					return err
				}
			}
		}
	}
	r.print()
	fmt.Printf("\nload average at the end: %s\n", loadAverage())
	return nil
}

// versusBolt puts boltN keys into a Map file and into a bbolt database,
// then reads them all in random order. memvec: Put each key, then one
// Sync. bbolt: a read-write transaction per 1,000 keys, with NoSync (so
// that neither writes to the disk per batch), then one Sync; the reads in
// one read transaction, each value decoded.
func versusBolt[K comparable, V any](r *results, t string, s shape[K, V]) error {
	n := uint64(*boltN)
	order := make([]uint64, n)
	for i := range order {
		order[i] = uint64(i)
	}
	for i := len(order) - 1; i > 0; i-- {
		j := mix(uint64(i)) % uint64(i+1)
		order[i], order[j] = order[j], order[i]
	}

	path := filepath.Join(*dir, "mapbench-bolt.map")
	os.Remove(path)
	start := time.Now()
	m, err := memvec.OpenMap[K, V](path, memvec.CreateNew())
	if err != nil {
		return err
	}
	for i := range n {
		if err := m.Put(s.key(i), s.val(i)); err != nil {
			return err
		}
	}
	if err := m.Sync(); err != nil {
		return err
	}
	mPut := time.Since(start)
	start = time.Now()
	for _, i := range order {
		if v, ok := m.Get(s.key(i)); !ok || !s.matches(v, i) {
			return fmt.Errorf("memvec: key %d: %v, %v", i, v, ok)
		}
	}
	mGet := time.Since(start)
	if err := m.Close(); err != nil {
		return err
	}
	os.Remove(path)

	bpath := filepath.Join(*dir, "mapbench.bolt")
	os.Remove(bpath)
	start = time.Now()
	db, err := bolt.Open(bpath, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		return err
	}
	name := []byte("m")
	kb, vb := s.keyEnc(nil, s.key(0)), s.valEnc(nil, s.val(0))
	for lo := uint64(0); lo < n; lo += 1000 {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			// bbolt keeps the slices until the transaction ends: one
			// buffer a batch.
			buf := make([]byte, 0, 1000*(len(kb)+len(vb)))
			for i := lo; i < min(lo+1000, n); i++ {
				at := len(buf)
				buf = s.keyEnc(buf, s.key(i))
				kat := len(buf)
				buf = s.valEnc(buf, s.val(i))
				if err := b.Put(buf[at:kat:kat], buf[kat:]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := db.Sync(); err != nil {
		return err
	}
	bPut := time.Since(start)
	start = time.Now()
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(name)
		for _, i := range order {
			kb = s.keyEnc(kb[:0], s.key(i))
			got := b.Get(kb)
			if got == nil || !s.matches(s.valDec(got), i) {
				return fmt.Errorf("bbolt: key %d missing", i)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	bGet := time.Since(start)
	if err := db.Close(); err != nil {
		return err
	}
	os.Remove(bpath)
	r.add(t+" Put, then Sync / bbolt (1,000 a transaction)", "ns", float64(mPut.Nanoseconds())/float64(n), float64(bPut.Nanoseconds())/float64(n))
	r.add(t+" Get / bbolt (one read transaction)", "ns", float64(mGet.Nanoseconds())/float64(n), float64(bGet.Nanoseconds())/float64(n))
	return nil
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
