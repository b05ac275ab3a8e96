package memvec

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// BenchmarkDurablePush is the cost of durability: n points pushed into a
// new file with a Sync after every k, beside the same bytes written through
// a bufio.Writer to a new file with a Flush and an fsync after every k
// records, in one run. n is chosen so that every case makes about the same
// number of barriers (1,000) or writes 2,400,000 points.
func BenchmarkDurablePush(b *testing.B) {
	dir := b.TempDir() // on the disk under TMPDIR: set it to where files live
	for _, k := range []int{1, 100, 10_000} {
		n := min(1000*k, 2_400_000)
		b.Run(fmt.Sprintf("k=%d/impl=memvec", k), func(b *testing.B) {
			b.SetBytes(int64(n) * 24)
			path := filepath.Join(dir, "durable.vec")
			for b.Loop() {
				b.StopTimer()
				os.Remove(path)
				b.StartTimer()
				v, err := Open[point](path)
				if err != nil {
					b.Fatal(err)
				}
				for i := range n {
					if err := v.Push(point{float64(i), 1, 2}); err != nil {
						b.Fatal(err)
					}
					if (i+1)%k == 0 {
						if err := v.Sync(); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := v.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("k=%d/impl=bufio", k), func(b *testing.B) {
			b.SetBytes(int64(n) * 24)
			path := filepath.Join(dir, "durable.bin")
			x := new(point)
			buf := unsafe.Slice((*byte)(unsafe.Pointer(x)), unsafe.Sizeof(*x))
			for b.Loop() {
				b.StopTimer()
				os.Remove(path)
				b.StartTimer()
				f, err := os.Create(path)
				if err != nil {
					b.Fatal(err)
				}
				w := bufio.NewWriter(f)
				for i := range n {
					*x = point{float64(i), 1, 2}
					if _, err := w.Write(buf); err != nil {
						b.Fatal(err)
					}
					if (i+1)%k == 0 {
						if err := w.Flush(); err != nil {
							b.Fatal(err)
						}
						if err := f.Sync(); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteJob is the whole job of writing a file: Open of a new
// file, 10,000,000 pushes of a 24-byte point and Close, beside os.Create
// of a new file, the same bytes written through a bufio.Writer and Close.
// Nothing is made durable (no Sync, no fsync): the file's removal, before
// each iteration, is outside the timer. close-ms/op is the Close alone.
func BenchmarkWriteJob(b *testing.B) {
	dir := b.TempDir() // on the disk under TMPDIR: set it to where files live
	b.Run("impl=memvec", func(b *testing.B) {
		b.SetBytes(pushN * 24)
		path := filepath.Join(dir, "job.vec")
		var closing time.Duration
		for b.Loop() {
			b.StopTimer()
			os.Remove(path)
			runtime.GC()
			b.StartTimer()
			v, err := Open[point](path)
			if err != nil {
				b.Fatal(err)
			}
			if err := pushMemvec(v, pushN); err != nil {
				b.Fatal(err)
			}
			t := time.Now()
			if err := v.Close(); err != nil {
				b.Fatal(err)
			}
			closing += time.Since(t)
		}
		b.ReportMetric(float64(closing.Microseconds())/1000/float64(b.N), "close-ms/op")
	})
	b.Run("impl=bufio", func(b *testing.B) {
		b.SetBytes(pushN * 24)
		path := filepath.Join(dir, "job.bin")
		var closing time.Duration
		for b.Loop() {
			b.StopTimer()
			os.Remove(path)
			runtime.GC()
			b.StartTimer()
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := writeBufio(bufio.NewWriter(f), pushN); err != nil {
				b.Fatal(err)
			}
			t := time.Now()
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
			closing += time.Since(t)
		}
		b.ReportMetric(float64(closing.Microseconds())/1000/float64(b.N), "close-ms/op")
	})
}
