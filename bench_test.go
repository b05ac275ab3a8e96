package memvec

// The benchmarks compare memvec with what a Go programmer would write
// instead, in the same run, with a 24-byte element (point: three float64).
// Sub-benchmark names are key=value (impl=memvec/backend=anon,
// impl=slice/prealloc=false) for benchstat. -count repeats one leaf
// benchmark back to back, and first-touch costs on a VM are bimodal, so
// BENCHMARKS.md runs the whole set several times in a loop instead, which
// interleaves the impls, and compares ratios of medians.

import (
	"bufio"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// pushN is how many elements the push benchmarks push: 240 MB of points.
const pushN = 10_000_000

// coldStart hands all freed memory back to the operating system, outside
// the timer, so that every impl starts from the same state: the memory it
// touches first must come from the kernel, as in a fresh process.
func coldStart(b *testing.B) {
	b.StopTimer()
	runtime.GC()
	debug.FreeOSMemory()
	b.StartTimer()
}

// faultCount counts the page faults of the timed part of a benchmark, for
// its minflt/op (where the system counts them: see minorFaults).
type faultCount struct {
	n, at int64
}

func (f *faultCount) start() { f.at = minorFaults() }
func (f *faultCount) stop()  { f.n += minorFaults() - f.at }

// report reports the faults counted as minflt/op.
func (f *faultCount) report(b *testing.B) {
	if f.at >= 0 && b.N > 0 {
		b.ReportMetric(float64(f.n)/float64(b.N), "minflt/op")
	}
}

// The push loops are functions of their own so that b.Loop's keep-alive
// rewriting of its body does not reach into them.

//go:noinline
func pushMemvec(v *MemVec[point], n int) error {
	for i := range n {
		if err := v.Push(point{float64(i), 1, 2}); err != nil {
			return err
		}
	}
	return nil
}

//go:noinline
func appendSlice(s []point, n int) []point {
	for i := range n {
		s = append(s, point{float64(i), 1, 2})
	}
	return s
}

// writeBufio writes the bytes of the same points as pushMemvec through w,
// from one scratch element, so that nothing is allocated per element.
//
//go:noinline
func writeBufio(w *bufio.Writer, n int) error {
	x := new(point)
	buf := unsafe.Slice((*byte)(unsafe.Pointer(x)), unsafe.Sizeof(*x))
	for i := range n {
		*x = point{float64(i), 1, 2}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return w.Flush()
}

// BenchmarkPush pushes 10,000,000 points: into anonymous memory against
// append to a nil and to a presized slice, and into a new file against a
// bufio.Writer writing the same bytes to a new file.
func BenchmarkPush(b *testing.B) {
	b.Run("impl=memvec/backend=anon", func(b *testing.B) {
		b.SetBytes(pushN * 24)
		b.ReportAllocs()
		var faults faultCount
		for b.Loop() {
			coldStart(b)
			faults.start()
			v, err := Make[point](0)
			if err != nil {
				b.Fatal(err)
			}
			if err := pushMemvec(v, pushN); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			faults.stop()
			v.Close()
			b.StartTimer()
		}
		faults.report(b)
	})
	for _, prealloc := range []bool{false, true} {
		b.Run("impl=slice/prealloc="+strconv.FormatBool(prealloc), func(b *testing.B) {
			b.SetBytes(pushN * 24)
			b.ReportAllocs()
			var faults faultCount
			for b.Loop() {
				coldStart(b)
				faults.start()
				var s []point
				if prealloc {
					s = make([]point, 0, pushN)
				}
				s = appendSlice(s, pushN)
				faults.stop()
				runtime.KeepAlive(s)
			}
			faults.report(b)
		})
	}
	dir := tempDir(b)
	// A scratch vector (TempDir) in the tests' temporary directory, on a
	// disk here: what its file's pages cost beside anonymous memory's. The
	// file takes its disk space at each growth and gives it back at Close.
	b.Run("impl=memvec/backend=tempdir", func(b *testing.B) {
		b.SetBytes(pushN * 24)
		b.ReportAllocs()
		var faults faultCount
		for b.Loop() {
			coldStart(b)
			faults.start()
			v, err := Make[point](0, TempDir(dir))
			if err != nil {
				b.Fatal(err)
			}
			if err := pushMemvec(v, pushN); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			faults.stop()
			v.Close()
			b.StartTimer()
		}
		faults.report(b)
	})
	b.Run("impl=memvec/backend=file", func(b *testing.B) {
		b.SetBytes(pushN * 24)
		b.ReportAllocs()
		path := filepath.Join(dir, "push.vec")
		for b.Loop() {
			coldStart(b)
			v, err := Open[point](path)
			if err != nil {
				b.Fatal(err)
			}
			if err := pushMemvec(v, pushN); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			v.Close()
			os.Remove(path)
			b.StartTimer()
		}
	})
	b.Run("impl=bufio", func(b *testing.B) {
		b.SetBytes(pushN * 24)
		b.ReportAllocs()
		path := filepath.Join(dir, "push.bin")
		for b.Loop() {
			coldStart(b)
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := writeBufio(bufio.NewWriter(f), pushN); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.Remove(path)
			b.StartTimer()
		}
	})
}

// BenchmarkPushReused pushes 10,000,000 points into memory that is faulted
// in already, so that no page faults are timed: into a vector emptied with
// Clear against append into a presized slice emptied with s[:0], which is
// the cost of the calls alone; and append into a new presized slice after a
// runtime.GC but no debug.FreeOSMemory, whose memory the Go heap recycles
// from the slice before: what a long-lived program that makes a slice per
// batch gets, where Make maps fresh memory each time.
func BenchmarkPushReused(b *testing.B) {
	b.Run("impl=memvec/backend=anon", func(b *testing.B) {
		v, err := Make[point](0)
		if err != nil {
			b.Fatal(err)
		}
		defer v.Close()
		if err := pushMemvec(v, pushN); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(pushN * 24)
		b.ReportAllocs()
		var faults faultCount
		for b.Loop() {
			b.StopTimer()
			v.Clear()
			b.StartTimer()
			faults.start()
			if err := pushMemvec(v, pushN); err != nil {
				b.Fatal(err)
			}
			faults.stop()
		}
		faults.report(b)
	})
	b.Run("impl=slice/prealloc=true", func(b *testing.B) {
		s := appendSlice(make([]point, 0, pushN), pushN)
		b.SetBytes(pushN * 24)
		b.ReportAllocs()
		var faults faultCount
		for b.Loop() {
			faults.start()
			s = appendSlice(s[:0], pushN)
			faults.stop()
		}
		faults.report(b)
		runtime.KeepAlive(s)
	})
	b.Run("impl=slice/prealloc=true/heap=recycled", func(b *testing.B) {
		b.SetBytes(pushN * 24)
		b.ReportAllocs()
		var faults faultCount
		for b.Loop() {
			b.StopTimer()
			runtime.GC()
			b.StartTimer()
			faults.start()
			s := appendSlice(make([]point, 0, pushN), pushN)
			faults.stop()
			runtime.KeepAlive(s)
		}
		faults.report(b)
	})
}

// filledVectors returns an anonymous vector and a slice holding the same
// pushN points.
func filledVectors(b *testing.B) (*MemVec[point], []point) {
	v, err := Make[point](pushN)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { v.Close() })
	s := make([]point, pushN)
	for i := range s {
		s[i] = point{float64(i), float64(i) / 2, 1}
	}
	if err := v.Append(s...); err != nil {
		b.Fatal(err)
	}
	return v, s
}

// BenchmarkIndex reads elements at random indices of 10,000,000: Index
// against indexing the slice, and, to tell the code from the memory,
// indexing v.Slice() and indexing a slice through a pointer. With hot=false
// the indices are fresh (a table of 4M, read in order), so that most reads
// miss the caches as random reads of a 240 MB vector do; with hot=true they
// repeat 4,096 indices, whose elements stay in the cache, which shows the
// cost of the call itself.
func BenchmarkIndex(b *testing.B) {
	v, s := filledVectors(b)
	for _, hot := range []bool{false, true} {
		n := 1 << 22
		if hot {
			n = 1 << 12
		}
		idx := make([]int, n)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range idx {
			idx[i] = r.IntN(pushN)
		}
		benchIndex(b, "hot="+strconv.FormatBool(hot), v, s, idx)
	}
}

func benchIndex(b *testing.B, name string, v *MemVec[point], s []point, idx []int) {
	b.Run(name+"/impl=memvec", func(b *testing.B) {
		var sum float64
		i := 0
		for b.Loop() {
			sum += v.Index(idx[i&(len(idx)-1)]).X
			i++
		}
		runtime.KeepAlive(sum)
	})
	// impl=memvec/via=slice indexes v.Slice(): the vector's memory with a
	// slice's code, which separates what the call costs from what the
	// memory does.
	b.Run(name+"/impl=memvec/via=slice", func(b *testing.B) {
		vs := v.Slice()
		var sum float64
		i := 0
		for b.Loop() {
			sum += vs[idx[i&(len(idx)-1)]].X
			i++
		}
		runtime.KeepAlive(sum)
	})
	b.Run(name+"/impl=slice", func(b *testing.B) {
		var sum float64
		i := 0
		for b.Loop() {
			sum += s[idx[i&(len(idx)-1)]].X
			i++
		}
		runtime.KeepAlive(sum)
	})
	// impl=slice/via=pointer indexes the slice through a pointer to a
	// struct that holds it, as any Go type wrapping a slice (and Index)
	// must: one more dependent load per read than a slice held in a local.
	b.Run(name+"/impl=slice/via=pointer", func(b *testing.B) {
		h := holdSlice(s)
		var sum float64
		i := 0
		for b.Loop() {
			sum += h.s[idx[i&(len(idx)-1)]].X
			i++
		}
		runtime.KeepAlive(sum)
	})
	// impl=slice/plus=loads2 is impl=slice with, per read, what Index adds
	// to it: two loads of words that stay in the L1 cache (Index's are the
	// slice header's length and pointer) and a compare and branch. Here no
	// read waits for them. If they cost what Index costs over a slice, the
	// loop is bound by how many instructions the CPU holds while its reads
	// miss, not by the memory (BENCHMARKS.md, "Where a goal is missed").
	b.Run(name+"/impl=slice/plus=loads2", func(b *testing.B) {
		w := holdWords()
		var sum float64
		i := 0
		for b.Loop() {
			if w[0] != w[1] {
				b.Fatal("the words differ")
			}
			sum += s[idx[i&(len(idx)-1)]].X
			i++
		}
		runtime.KeepAlive(sum)
	})
}

// holdWords returns two equal words on the heap, which the compiler cannot
// know are equal.
//
//go:noinline
func holdWords() *[2]int { return new([2]int) }

// sliceHolder is a struct on the heap holding a slice, as a type that wraps
// a slice does.
type sliceHolder struct{ s []point }

//go:noinline
func holdSlice(s []point) *sliceHolder { return &sliceHolder{s} }

//go:noinline
func sumAll(v *MemVec[point]) (sum float64) {
	for _, p := range v.All() {
		sum += p.X + p.Y + p.Z
	}
	return sum
}

//go:noinline
func sumRange(s []point) (sum float64) {
	for _, p := range s {
		sum += p.X + p.Y + p.Z
	}
	return sum
}

// BenchmarkIterate sums 10,000,000 points: All against range over the
// slice.
func BenchmarkIterate(b *testing.B) {
	v, s := filledVectors(b)
	b.Run("impl=memvec", func(b *testing.B) {
		b.SetBytes(pushN * 24)
		for b.Loop() {
			sumAll(v)
		}
	})
	b.Run("impl=slice", func(b *testing.B) {
		b.SetBytes(pushN * 24)
		for b.Loop() {
			sumRange(s)
		}
	})
}

// shiftN is the length of the vectors Insert(0) and Remove(0) shift: 24 MB.
const shiftN = 1_000_000

// BenchmarkInsertFront inserts at index 0 of 1,000,000 points (and pops
// the last, to keep the length): Insert against slices.Insert.
func BenchmarkInsertFront(b *testing.B) {
	b.Run("impl=memvec", func(b *testing.B) {
		v, err := Make[point](shiftN + 1)
		if err != nil {
			b.Fatal(err)
		}
		defer v.Close()
		v.Append(make([]point, shiftN)...)
		b.SetBytes(shiftN * 24)
		for b.Loop() {
			if err := v.Insert(0, point{1, 2, 3}); err != nil {
				b.Fatal(err)
			}
			v.Pop()
		}
	})
	b.Run("impl=slice", func(b *testing.B) {
		s := make([]point, shiftN, shiftN+1)
		b.SetBytes(shiftN * 24)
		for b.Loop() {
			s = slices.Insert(s, 0, point{1, 2, 3})
			s = s[:len(s)-1]
		}
	})
}

// BenchmarkRemoveFront removes index 0 of 1,000,000 points (and pushes one,
// to keep the length): Remove against slices.Delete.
func BenchmarkRemoveFront(b *testing.B) {
	b.Run("impl=memvec", func(b *testing.B) {
		v, err := Make[point](shiftN)
		if err != nil {
			b.Fatal(err)
		}
		defer v.Close()
		v.Append(make([]point, shiftN)...)
		b.SetBytes(shiftN * 24)
		for b.Loop() {
			v.Remove(0)
			if err := v.Push(point{1, 2, 3}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=slice", func(b *testing.B) {
		s := make([]point, shiftN)
		b.SetBytes(shiftN * 24)
		for b.Loop() {
			s = slices.Delete(s, 0, 1)
			s = append(s, point{1, 2, 3})
		}
	})
}

// vectorFile writes a file vector of n points at path.
func vectorFile(b *testing.B, path string, n int) {
	v, err := Open[point](path)
	if err != nil {
		b.Fatal(err)
	}
	if err := v.Grow(n); err != nil {
		b.Fatal(err)
	}
	if err := pushMemvec(v, n); err != nil {
		b.Fatal(err)
	}
	if err := v.Clip(); err != nil {
		b.Fatal(err)
	}
	if err := v.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpen opens an existing file of 10,000,000 points (240 MB) and
// reads its last element: Open (read-write and read-only) against
// os.ReadFile. With cache=cold the file is evicted from the page cache
// before each open, outside the timer, as after a restart; with cache=warm
// it stays cached.
func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(tempDir(b), "open.vec")
	vectorFile(b, path, pushN)
	want := point{pushN - 1, 1, 2}
	for _, cache := range []string{"warm", "cold"} {
		evict := func(b *testing.B) {
			if cache == "cold" {
				b.StopTimer()
				if err := evictFile(path); err != nil {
					b.Skip("cannot evict the file from the page cache:", err)
				}
				b.StartTimer()
			}
		}
		for _, mode := range []string{"rw", "ro"} {
			b.Run("cache="+cache+"/impl=memvec/mode="+mode, func(b *testing.B) {
				var opts []Option
				if mode == "ro" {
					opts = append(opts, ReadOnly())
				}
				for b.Loop() {
					evict(b)
					v, err := Open[point](path, opts...)
					if err != nil {
						b.Fatal(err)
					}
					if v.Index(v.Len()-1) != want {
						b.Fatal("wrong last element")
					}
					v.Close()
				}
			})
		}
		b.Run("cache="+cache+"/impl=readfile", func(b *testing.B) {
			for b.Loop() {
				evict(b)
				data, err := os.ReadFile(path)
				if err != nil {
					b.Fatal(err)
				}
				if *(*point)(unsafe.Pointer(&data[len(data)-24])) != want {
					b.Fatal("wrong last element")
				}
			}
		})
	}
}

// BenchmarkOpenFirst is the first record of a file that is not in the page
// cache, as after a restart: Open of a file of 10,000,000 points evicted
// first (outside the timer) and Index(0), read-write and read-only, against
// os.Open and a bufio.Reader's read of the first 24 bytes of a file of the
// same points. read-KiB/op is what the benchmark's thread made the disk
// read (Linux's /proc/thread-self/io; -1 elsewhere).
func BenchmarkOpenFirst(b *testing.B) {
	dir := tempDir(b)
	path := filepath.Join(dir, "first.vec")
	vectorFile(b, path, pushN)
	raw := filepath.Join(dir, "first.bin")
	rawFile(b, raw, pushN)
	want := point{0, 1, 2}
	cold := func(b *testing.B, path string, open func()) {
		runtime.LockOSThread() // the thread whose reads are counted
		defer runtime.UnlockOSThread()
		var read int64
		for b.Loop() {
			b.StopTimer()
			// Written back first: eviction skips dirty pages (a writer's
			// open and Close write the header).
			if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
				f.Sync()
				f.Close()
			}
			if err := evictFile(path); err != nil {
				b.Skip("cannot evict the file from the page cache:", err)
			}
			r := threadReadBytes()
			b.StartTimer()
			open()
			b.StopTimer()
			read += threadReadBytes() - r
			b.StartTimer()
		}
		b.ReportMetric(float64(read)/1024/float64(b.N), "read-KiB/op")
	}
	for _, mode := range []string{"rw", "ro"} {
		b.Run("impl=memvec/mode="+mode, func(b *testing.B) {
			var opts []Option
			if mode == "ro" {
				opts = append(opts, ReadOnly())
			}
			cold(b, path, func() {
				v, err := Open[point](path, opts...)
				if err != nil {
					b.Fatal(err)
				}
				if v.Index(0) != want {
					b.Fatal("wrong first element")
				}
				v.Close()
			})
		})
	}
	b.Run("impl=bufio", func(b *testing.B) {
		cold(b, raw, func() {
			f, err := os.Open(raw)
			if err != nil {
				b.Fatal(err)
			}
			var rec point
			if _, err := io.ReadFull(bufio.NewReader(f), unsafe.Slice((*byte)(unsafe.Pointer(&rec)), unsafe.Sizeof(rec))); err != nil {
				b.Fatal(err)
			}
			if rec != want {
				b.Fatal("wrong first record")
			}
			f.Close()
		})
	})
}

// rawFile writes n points to a new file at path through a bufio.Writer.
func rawFile(b *testing.B, path string, n int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	x := new(point)
	for i := range n {
		*x = point{float64(i), 1, 2}
		w.Write(unsafe.Slice((*byte)(unsafe.Pointer(x)), unsafe.Sizeof(*x)))
	}
	if err := errors.Join(w.Flush(), f.Sync(), f.Close()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSync changes 1 MiB of a file vector of 16 MiB and of 1 GiB, then
// syncs: the cost must follow the bytes changed, not the file's size.
func BenchmarkSync(b *testing.B) {
	dir := tempDir(b)
	for _, size := range []string{"16MiB", "1GiB"} {
		b.Run("size="+size, func(b *testing.B) {
			n := 16 << 20 / 24
			if size == "1GiB" {
				n = 1 << 30 / 24
			}
			path := filepath.Join(dir, size+".vec")
			vectorFile(b, path, n)
			v, err := Open[point](path)
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			if err := v.Sync(); err != nil {
				b.Fatal(err)
			}
			const changed = 1 << 20 / 24
			r := rand.New(rand.NewPCG(3, 4))
			b.SetBytes(changed * 24)
			for b.Loop() {
				at := r.IntN(n - changed)
				s := v.Slice()[at : at+changed]
				for i := range s {
					s[i].Z++
				}
				if err := v.Sync(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// growthTarget is how far BenchmarkGrowth grows a region: from one page,
// doubling, to 1 GiB.
const growthTarget = 1 << 30

// BenchmarkGrowth measures the growth of anonymous memory from one page to
// 1 GiB by doubling: impl=reserve is Anon (growth in place inside reserved
// address space), impl=mremap the baseline it replaced (mremap with
// MREMAP_MAYMOVE). With touched=true every page is written before the next
// growth, so that mremap has page-table entries to move. The growth alone
// is reported as grow-ns/op (ns/op includes the writes); the timer stays on
// so that the writes count when the benchmark picks how often to run.
func BenchmarkGrowth(b *testing.B) {
	for _, impl := range []string{"reserve", "mremap"} {
		for _, touched := range []bool{false, true} {
			b.Run("impl="+impl+"/touched="+strconv.FormatBool(touched), func(b *testing.B) {
				var grow time.Duration
				for b.Loop() {
					r := newGrowable(b, impl)
					for size := pageSize; size <= growthTarget; size *= 2 {
						start := time.Now()
						if err := r.Resize(size); err != nil {
							b.Fatal(err)
						}
						grow += time.Since(start)
						if touched {
							mem := r.Bytes()
							for i := size / 2; i < size; i += pageSize {
								mem[i] = 1
							}
						}
					}
					r.Close()
				}
				b.ReportMetric(float64(grow.Nanoseconds())/float64(b.N), "grow-ns/op")
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
