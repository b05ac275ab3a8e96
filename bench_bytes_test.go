package memvec

import (
	"bufio"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchRecords returns n records of 16 to 200 bytes (mean about 108), the
// sizes of issue 20's benchmarks.
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

// BenchmarkBytesPush pushes records into a Bytes file: compare with
// BenchmarkBytesBufioBaseline, in the same run.
func BenchmarkBytesPush(b *testing.B) {
	recs := benchRecords(1 << 16)
	bs, err := OpenBytes(filepath.Join(tempDir(b), "bench.bytes"))
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	b.SetBytes(108)
	b.ResetTimer()
	for i := range b.N {
		if err := bs.Push(recs[i&(len(recs)-1)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBytesBufioBaseline writes the same records to a file through
// bufio, each after its length: the baseline of BenchmarkBytesPush.
func BenchmarkBytesBufioBaseline(b *testing.B) {
	recs := benchRecords(1 << 16)
	f, err := os.Create(filepath.Join(tempDir(b), "bench.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	var n [binary.MaxVarintLen64]byte
	b.SetBytes(108)
	b.ResetTimer()
	for i := range b.N {
		p := recs[i&(len(recs)-1)]
		w.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		if _, err := w.Write(p); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBytesAt reads records in random order: compare with
// BenchmarkBytesSliceAtBaseline.
func BenchmarkBytesAt(b *testing.B) {
	recs := benchRecords(1 << 16)
	bs, err := MakeBytes()
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	if err := bs.Append(recs...); err != nil {
		b.Fatal(err)
	}
	idx := rand.Perm(len(recs))
	b.ResetTimer()
	var sum int
	for i := range b.N {
		sum += len(bs.At(idx[i&(len(idx)-1)]))
	}
	benchSink = sum
}

// BenchmarkBytesSliceAtBaseline indexes a [][]byte in memory.
func BenchmarkBytesSliceAtBaseline(b *testing.B) {
	recs := benchRecords(1 << 16)
	idx := rand.Perm(len(recs))
	b.ResetTimer()
	var sum int
	for i := range b.N {
		sum += len(recs[idx[i&(len(idx)-1)]])
	}
	benchSink = sum
}

var benchSink int
