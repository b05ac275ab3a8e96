package memvec

// The benchmarks of Bytes (issue 20's "Speed and memory"; BENCHMARKS.md,
// "Bytes"): records of 16 to 200 bytes (mean about 108), 10,000,000 of
// them (1,000,000 with -short), against what a Go programmer would write
// instead, in the same run. As for the vector's benchmarks, the whole set
// runs several times in a loop (scripts/bench.sh with BENCH=Bytes), which
// interleaves the impls, and the figures are ratios of medians.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/tidwall/wal"
)

// bytesCount is how many records the benchmarks of Bytes push or read:
// 10,000,000 (about 1.08 GB of records), or 1,000,000 with -short.
func bytesCount() int {
	if testing.Short() {
		return 1_000_000
	}
	return 10_000_000
}

// benchRecordBytes is the records' mean size (16 + 184/2 ≈ 108), for
// SetBytes.
const benchRecordBytes = 108

// benchRecords returns n records of 16 to 200 bytes (mean about 108), the
// sizes of issue 20's benchmarks, each allocated on its own, as a program
// holding them in a [][]byte would have them.
func benchRecords(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = make([]byte, 16+r.IntN(185))
		for k := range recs[i] {
			recs[i][k] = byte(i + k)
		}
	}
	return recs
}

// pushPool is how many distinct records the push benchmarks cycle
// through (about 7 MB): the records to push are in memory already, as a
// program's are, without 1 GB of them distorting the process's memory.
const pushPool = 1 << 16

// The loops are functions of their own so that b.Loop's keep-alive
// rewriting of its body does not reach into them.

//go:noinline
func pushBytes(bs *Bytes, recs [][]byte, n int) error {
	for i := range n {
		if err := bs.Push(recs[i&(len(recs)-1)]); err != nil {
			return err
		}
	}
	return nil
}

// writeBufioRecords writes n records through w, each after its length as
// a uvarint: a length-prefixed log, the baseline of pushBytes.
//
//go:noinline
func writeBufioRecords(w *bufio.Writer, recs [][]byte, n int) error {
	var pre [binary.MaxVarintLen64]byte
	for i := range n {
		p := recs[i&(len(recs)-1)]
		w.Write(pre[:binary.PutUvarint(pre[:], uint64(len(p)))])
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return w.Flush()
}

//go:noinline
func writeWAL(l *wal.Log, recs [][]byte, n int) error {
	for i := range n {
		if err := l.Write(uint64(i+1), recs[i&(len(recs)-1)]); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkBytesPush pushes bytesCount records into a new Bytes file,
// against a bufio.Writer writing them, each after its length, to a new
// file (flushed and closed), and against tidwall/wal's Write of each
// without sync (the log closed). The Bytes's Close, which a program pays
// once (see BenchmarkBytesWriteJob), is outside the timer, as in
// BenchmarkPush; so are the removal of the files and a runtime.GC with
// debug.FreeOSMemory before each push.
func BenchmarkBytesPush(b *testing.B) {
	recs := benchRecords(pushPool)
	n := bytesCount()
	dir := tempDir(b)
	b.Run("impl=memvec/backend=file", func(b *testing.B) {
		b.SetBytes(int64(n) * benchRecordBytes)
		path := filepath.Join(dir, "push.bytes")
		for b.Loop() {
			coldStart(b)
			bs, err := OpenBytes(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := pushBytes(bs, recs, n); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			bs.Close()
			os.RemoveAll(path)
			b.StartTimer()
		}
		perRecord(b, n)
	})
	b.Run("impl=memvec/backend=anon", func(b *testing.B) {
		b.SetBytes(int64(n) * benchRecordBytes)
		for b.Loop() {
			coldStart(b)
			bs, err := MakeBytes()
			if err != nil {
				b.Fatal(err)
			}
			if err := pushBytes(bs, recs, n); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			bs.Close()
			b.StartTimer()
		}
		perRecord(b, n)
	})
	b.Run("impl=bufio", func(b *testing.B) {
		b.SetBytes(int64(n) * benchRecordBytes)
		path := filepath.Join(dir, "push.log")
		for b.Loop() {
			coldStart(b)
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := writeBufioRecords(bufio.NewWriter(f), recs, n); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.Remove(path)
			b.StartTimer()
		}
		perRecord(b, n)
	})
	b.Run("impl=wal", func(b *testing.B) {
		// A tenth of the records: wal writes each with a system call, and
		// takes about 5 µs a record here; compare ns/record.
		n := n / 10
		b.SetBytes(int64(n) * benchRecordBytes)
		path := filepath.Join(dir, "push.wal")
		for b.Loop() {
			coldStart(b)
			l, err := wal.Open(path, &wal.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			if err := writeWAL(l, recs, n); err != nil {
				b.Fatal(err)
			}
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.RemoveAll(path)
			b.StartTimer()
		}
		perRecord(b, n)
	})
}

// perRecord reports the time of each of the n records of an iteration, as
// ns/record, for the impls that push different numbers of records.
func perRecord(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/record")
}

// BenchmarkBytesWriteJob is the whole job of writing a log, as
// BenchmarkWriteJob is for a vector: OpenBytes of a new path, bytesCount
// pushes and Close, against os.Create, the same records written through a
// bufio.Writer after their lengths, Flush and Close. Nothing is made
// durable. close-ms/op is the Close alone.
func BenchmarkBytesWriteJob(b *testing.B) {
	recs := benchRecords(pushPool)
	n := bytesCount()
	dir := b.TempDir() // on the disk under TMPDIR: set it to where files live
	b.Run("impl=memvec", func(b *testing.B) {
		b.SetBytes(int64(n) * benchRecordBytes)
		path := filepath.Join(dir, "job.bytes")
		var closing time.Duration
		for b.Loop() {
			b.StopTimer()
			os.RemoveAll(path)
			runtime.GC()
			b.StartTimer()
			bs, err := OpenBytes(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := pushBytes(bs, recs, n); err != nil {
				b.Fatal(err)
			}
			t := time.Now()
			if err := bs.Close(); err != nil {
				b.Fatal(err)
			}
			closing += time.Since(t)
		}
		b.ReportMetric(float64(closing.Microseconds())/1000/float64(b.N), "close-ms/op")
	})
	b.Run("impl=bufio", func(b *testing.B) {
		b.SetBytes(int64(n) * benchRecordBytes)
		path := filepath.Join(dir, "job.log")
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
			if err := writeBufioRecords(bufio.NewWriter(f), recs, n); err != nil {
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

// filledBytes returns bytesCount records in a [][]byte, each allocated on
// its own, and the same records in an anonymous Bytes.
func filledBytes(b *testing.B) (*Bytes, [][]byte) {
	recs := benchRecords(bytesCount())
	bs, err := MakeBytes()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bs.Close() })
	for _, p := range recs {
		if err := bs.Push(p); err != nil {
			b.Fatal(err)
		}
	}
	return bs, recs
}

// BenchmarkBytesAt reads records at random indices, summing their lengths
// and first bytes: At against indexing a [][]byte of the same records.
// hot=false draws 4M indices from all the records, so that most reads
// miss the caches; hot=true repeats 4,096.
func BenchmarkBytesAt(b *testing.B) {
	bs, recs := filledBytes(b)
	// The same offsets and bytes in the Go heap: what At's memory costs
	// against the code's.
	flatOffs := slices.Clone(bs.offs[:bs.Len()+1])
	flatData := slices.Clone(bs.data[:bs.Size()])
	// And the records in a second Bytes, whose memory the system handed
	// out last: whether At's cost follows the memory or the code.
	bs2, err := MakeBytes()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bs2.Close() })
	for _, p := range bs.All() {
		if err := bs2.Push(p); err != nil {
			b.Fatal(err)
		}
	}
	for _, hot := range []bool{false, true} {
		r := rand.New(rand.NewPCG(3, 4))
		idx := make([]int, 1<<22)
		for i := range idx {
			if hot {
				idx[i] = idx[i&4095]
				if i < 4096 {
					idx[i] = r.IntN(len(recs))
				}
				continue
			}
			idx[i] = r.IntN(len(recs))
		}
		name := fmt.Sprintf("hot=%v", hot)
		b.Run(name+"/impl=memvec", func(b *testing.B) {
			benchSink = atBytes(bs, idx, b.N)
		})
		b.Run(name+"/impl=slice", func(b *testing.B) {
			benchSink = atSlice(recs, idx, b.N)
		})
		b.Run(name+"/impl=memvec/made=last", func(b *testing.B) {
			benchSink = atBytes(bs2, idx, b.N)
		})
		b.Run(name+"/impl=flat", func(b *testing.B) {
			benchSink = atFlat(flatOffs, flatData, idx, b.N)
		})
		b.Run(name+"/impl=flat/offs=region", func(b *testing.B) {
			benchSink = atFlat(bs.offs[:bs.Len()+1], flatData, idx, b.N)
		})
		b.Run(name+"/impl=flat/data=region", func(b *testing.B) {
			benchSink = atFlat(flatOffs, bs.data[:bs.Size()], idx, b.N)
		})
	}
}

//go:noinline
func atBytes(bs *Bytes, idx []int, n int) (sum int) {
	for i := range n {
		p := bs.At(idx[i&(len(idx)-1)])
		sum += len(p) + int(p[0])
	}
	return sum
}

//go:noinline
func atFlat(offs []int64, data []byte, idx []int, n int) (sum int) {
	for i := range n {
		k := idx[i&(len(idx)-1)]
		p := data[offs[k]:offs[k+1]]
		sum += len(p) + int(p[0])
	}
	return sum
}

//go:noinline
func atSlice(recs [][]byte, idx []int, n int) (sum int) {
	for i := range n {
		p := recs[idx[i&(len(idx)-1)]]
		sum += len(p) + int(p[0])
	}
	return sum
}

// BenchmarkBytesAll scans every record, summing their lengths and first
// bytes: All against ranging over a [][]byte of the same records.
func BenchmarkBytesAll(b *testing.B) {
	bs, recs := filledBytes(b)
	b.Run("impl=memvec", func(b *testing.B) {
		b.SetBytes(bs.Size())
		for b.Loop() {
			benchSink = scanBytes(bs)
		}
	})
	b.Run("impl=slice", func(b *testing.B) {
		b.SetBytes(bs.Size())
		for b.Loop() {
			benchSink = scanSlice(recs)
		}
	})
}

//go:noinline
func scanBytes(bs *Bytes) (sum int) {
	for _, p := range bs.All() {
		sum += len(p) + int(p[0])
	}
	return sum
}

//go:noinline
func scanSlice(recs [][]byte) (sum int) {
	for _, p := range recs {
		sum += len(p) + int(p[0])
	}
	return sum
}

// BenchmarkBytesOpen opens an existing Bytes of bytesCount records and
// reads its last record, read-write and read-only, against os.ReadFile of
// a length-prefixed log of the same records (bufio's, as
// BenchmarkBytesPush writes it), whose last record only a read of the
// whole file finds. With cache=cold the files are evicted from the page
// cache before each open, outside the timer.
func BenchmarkBytesOpen(b *testing.B) {
	recs := benchRecords(pushPool)
	n := bytesCount()
	dir := tempDir(b)
	path, log := filepath.Join(dir, "open.bytes"), filepath.Join(dir, "open.log")
	bs, err := OpenBytes(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pushBytes(bs, recs, n); err != nil {
		b.Fatal(err)
	}
	// Synced, so that the first read-write open has no tail to make
	// durable (see keepTail), as every later one has none.
	if err := bs.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := bs.Close(); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(log)
	if err != nil {
		b.Fatal(err)
	}
	if err := writeBufioRecords(bufio.NewWriter(f), recs, n); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	last := recs[(n-1)&(len(recs)-1)]
	for _, cache := range []string{"warm", "cold"} {
		evict := func(b *testing.B, paths ...string) {
			if cache == "cold" {
				b.StopTimer()
				for _, p := range paths {
					if err := evictFile(p); err != nil {
						b.Skip("cannot evict the file from the page cache:", err)
					}
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
					evict(b, filepath.Join(path, bytesOffsetsName), filepath.Join(path, bytesDataName))
					bs, err := OpenBytes(path, opts...)
					if err != nil {
						b.Fatal(err)
					}
					if string(bs.At(bs.Len()-1)) != string(last) {
						b.Fatal("wrong last record")
					}
					bs.Close()
				}
			})
		}
		b.Run("cache="+cache+"/impl=readfile", func(b *testing.B) {
			for b.Loop() {
				evict(b, log)
				data, err := os.ReadFile(log)
				if err != nil {
					b.Fatal(err)
				}
				if string(data[len(data)-len(last):]) != string(last) {
					b.Fatal("wrong last record")
				}
			}
		})
	}
}

// BenchmarkBytesDurablePush is the cost of durability for records, as
// BenchmarkDurablePush is for points: n records pushed into a new Bytes
// with a Sync after every k, beside the same records written, each after
// its length, through a bufio.Writer to a new file with a Flush and an
// fsync after every k. n is chosen so that every case makes about the
// same number of barriers (1,000), or writes 2,400,000 records.
func BenchmarkBytesDurablePush(b *testing.B) {
	recs := benchRecords(pushPool)
	dir := b.TempDir() // on the disk under TMPDIR: set it to where files live
	for _, k := range []int{1, 100, 10_000} {
		n := min(1000*k, 2_400_000)
		b.Run(fmt.Sprintf("k=%d/impl=memvec", k), func(b *testing.B) {
			b.SetBytes(int64(n) * benchRecordBytes)
			path := filepath.Join(dir, "durable.bytes")
			for b.Loop() {
				b.StopTimer()
				os.RemoveAll(path)
				b.StartTimer()
				bs, err := OpenBytes(path)
				if err != nil {
					b.Fatal(err)
				}
				for i := range n {
					if err := bs.Push(recs[i&(len(recs)-1)]); err != nil {
						b.Fatal(err)
					}
					if (i+1)%k == 0 {
						if err := bs.Sync(); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := bs.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("k=%d/impl=bufio", k), func(b *testing.B) {
			b.SetBytes(int64(n) * benchRecordBytes)
			path := filepath.Join(dir, "durable.log")
			var pre [binary.MaxVarintLen64]byte
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
					p := recs[i&(len(recs)-1)]
					w.Write(pre[:binary.PutUvarint(pre[:], uint64(len(p)))])
					if _, err := w.Write(p); err != nil {
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

var benchSink int
