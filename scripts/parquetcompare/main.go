// Command parquetcompare measures the two Parquet writers of Go that
// package export could use, on the same export: n elements of struct{A
// int64; B float64; C uint32; D int32} (24 bytes) in memory, to a Parquet
// file, Snappy, no dictionary, row groups of BATCH rows. -lib arrow is
// apache/arrow-go's pqarrow, from columns gathered as export gathers them
// (PAGE: its data page size, 1 MiB by default as arrow-go's; STATS=1:
// with statistics); -lib parquet-go is parquet-go/parquet-go's
// GenericWriter[T] with the Go type known (its fastest path, which export,
// knowing the layout only at run time, could not take). It prints the
// time, the input's MB/s and the peak RSS (getrusage) with the input's
// size, which the process holds. See BENCHMARKS.md, "Export (issue 22)".
//
// It is a module of its own, so that parquet-go is no requirement of
// memvec's.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	pq "github.com/parquet-go/parquet-go"
)

type Rec struct {
	A int64   `parquet:"A"`
	B float64 `parquet:"B"`
	C uint32  `parquet:"C"`
	D int32   `parquet:"D"`
}

var batch = envInt("BATCH", 1<<20)

func main() {
	lib := flag.String("lib", "arrow", "arrow or parquet-go")
	n := flag.Int("n", 10_000_000, "")
	out := flag.String("o", os.TempDir()+"/parquetcompare.parquet", "")
	flag.Parse()
	data := make([]byte, *n*24)
	for i := range *n {
		p := data[i*24:]
		binary.LittleEndian.PutUint64(p, uint64(i*7))
		binary.LittleEndian.PutUint64(p[8:], uint64(float64(i)*0.5))
		binary.LittleEndian.PutUint32(p[16:], uint32(i))
		binary.LittleEndian.PutUint32(p[20:], uint32(-i))
	}
	f, _ := os.Create(*out)
	w := bufio.NewWriterSize(f, 1<<20)
	start := time.Now()
	var err error
	switch *lib {
	case "arrow":
		err = viaArrow(w, data, *n)
	case "parquet-go":
		err = viaParquetGo(w, data, *n)
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Close()
	}
	d := time.Since(start)
	stopProf()
	memProf()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fi, _ := os.Stat(*out)
	fmt.Printf("%s: %v, %.0f MB/s, maxrss %d MiB (input %d MiB), out %d MiB, err %v\n", *lib, d, float64(len(data))/d.Seconds()/1e6, ru.Maxrss/1024, len(data)>>20, fi.Size()>>20, err)
}

func gather[E any](dst []E, src []byte, off, size int) {
	for i := range dst {
		dst[i] = *(*E)(unsafe.Pointer(&src[i*size+off]))
	}
}

func viaArrow(w *bufio.Writer, data []byte, n int) error {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "A", Type: arrow.PrimitiveTypes.Int64},
		{Name: "B", Type: arrow.PrimitiveTypes.Float64},
		{Name: "C", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "D", Type: arrow.PrimitiveTypes.Int32},
	}, nil)
	props := parquet.NewWriterProperties(parquet.WithCompression(codec()), parquet.WithDictionaryDefault(false), parquet.WithMaxRowGroupLength(int64(batch)), parquet.WithStats(os.Getenv("STATS") != ""), parquet.WithDataPageSize(int64(envInt("PAGE", 1<<20))), parquet.WithBatchSize(int64(envInt("WB", 1024))))
	fw, err := pqarrow.NewFileWriter(schema, w, props, pqarrow.NewArrowWriterProperties())
	if err != nil {
		return err
	}
	a := make([]int64, batch)
	b := make([]float64, batch)
	c := make([]uint32, batch)
	d := make([]int32, batch)
	for lo := 0; lo < n; lo += batch {
		m := min(batch, n-lo)
		src := data[lo*24 : (lo+m)*24]
		gather(a[:m], src, 0, 24)
		gather(b[:m], src, 8, 24)
		gather(c[:m], src, 16, 24)
		gather(d[:m], src, 20, 24)
		cols := []arrow.Array{
			array.NewInt64Data(array.NewData(arrow.PrimitiveTypes.Int64, m, []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(a[:m]))}, nil, 0, 0)),
			array.NewFloat64Data(array.NewData(arrow.PrimitiveTypes.Float64, m, []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Float64Traits.CastToBytes(b[:m]))}, nil, 0, 0)),
			array.NewUint32Data(array.NewData(arrow.PrimitiveTypes.Uint32, m, []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Uint32Traits.CastToBytes(c[:m]))}, nil, 0, 0)),
			array.NewInt32Data(array.NewData(arrow.PrimitiveTypes.Int32, m, []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(d[:m]))}, nil, 0, 0)),
		}
		rec := array.NewRecordBatch(schema, cols, int64(m))
		if err := fw.Write(rec); err != nil {
			return err
		}
		rec.Release()
	}
	return fw.Close()
}

func viaParquetGo(w *bufio.Writer, data []byte, n int) error {
	recs := unsafe.Slice((*Rec)(unsafe.Pointer(&data[0])), n)
	pw := pq.NewGenericWriter[Rec](w, pq.Compression(&pq.Snappy), pq.MaxRowsPerRowGroup(int64(batch)))
	for lo := 0; lo < n; lo += batch {
		if _, err := pw.Write(recs[lo:min(n, lo+batch)]); err != nil {
			return err
		}
	}
	return pw.Close()
}

func codec() compress.Compression {
	if os.Getenv("NOCOMP") != "" {
		return compress.Codecs.Uncompressed
	}
	return compress.Codecs.Snappy
}

func envInt(k string, d int) int {
	var v int
	if _, err := fmt.Sscan(os.Getenv(k), &v); err == nil {
		return v
	}
	return d
}
