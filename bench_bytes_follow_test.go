package memvec

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// The follower stream of Bytes (issue 20: "Follower stream between
// processes vs a pipe with bufio and length prefixes: ≥ 1× the pipe's
// throughput").

func init() {
	children["bytesstreamwrite"] = bytesStreamWriterChild
}

// bytesStreamWriterChild writes $MEMVEC_N of the benchmarks' records
// (benchRecords, cycled as the push benchmarks do) to the parent by
// $MEMVEC_IMPL (memvec: Push to a new Bytes at $MEMVEC_PATH; pipe: each
// after its length as a uvarint, through a bufio.Writer over the pipe it
// inherits as descriptor 3), starting when its stdin says "go".
func bytesStreamWriterChild() {
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	recs := benchRecords(pushPool)
	in := bufio.NewScanner(os.Stdin)
	switch impl := os.Getenv("MEMVEC_IMPL"); impl {
	case "memvec":
		bs, err := OpenBytes(os.Getenv("MEMVEC_PATH"))
		if err != nil {
			fail(err)
		}
		fmt.Println("ready")
		in.Scan()
		if err := pushBytes(bs, recs, n); err != nil {
			fail(err)
		}
		if err := bs.Close(); err != nil {
			fail(err)
		}
	case "pipe":
		f := os.NewFile(3, "pipe")
		fmt.Println("ready")
		in.Scan()
		if err := writeBufioRecords(bufio.NewWriter(f), recs, n); err != nil {
			fail(err)
		}
		if err := f.Close(); err != nil {
			fail(err)
		}
	default:
		fail(fmt.Errorf("unknown impl %q", impl))
	}
}

// followBytesAll reads n records as a follower of bs, as the writer
// pushes them, and sums their lengths and first bytes.
//
//go:noinline
func followBytesAll(bs *Bytes, n int) (sum int, err error) {
	ctx := context.Background()
	for have := bs.Len(); have < n; {
		m, err := bs.Wait(ctx, have)
		if err != nil {
			return sum, err
		}
		for i := have; i < m; i++ {
			p := bs.At(i)
			sum += len(p) + int(p[0])
		}
		have = m
	}
	return sum, nil
}

// readBufioRecords reads n records that writeBufioRecords wrote from r,
// each into a buffer it reuses, and sums them as followBytesAll does.
//
//go:noinline
func readBufioRecords(r *bufio.Reader, n int) (sum int, err error) {
	buf := make([]byte, 0, 256)
	for range n {
		l, err := binary.ReadUvarint(r)
		if err != nil {
			return sum, err
		}
		buf = buf[:l]
		if _, err := io.ReadFull(r, buf); err != nil {
			return sum, err
		}
		sum += len(buf) + int(buf[0])
	}
	return sum, nil
}

// BenchmarkBytesFollowStream streams bytesCount records from a writer
// process to a reader process that reads every one: the writer pushes
// into a new Bytes and the reader follows it, calling Wait and reading
// each new record in place (impl=memvec), against the records after
// their lengths through a bufio.Writer over a pipe and a bufio.Reader
// reading each into a buffer (impl=pipe). The time runs from the writer's
// start to the reader's last record; starting the writer's process is
// outside it.
func BenchmarkBytesFollowStream(b *testing.B) {
	n := bytesCount()
	recs := benchRecords(pushPool)
	want := 0
	for i := range n {
		p := recs[i&(len(recs)-1)]
		want += len(p) + int(p[0])
	}
	for _, impl := range []string{"memvec", "pipe"} {
		b.Run("impl="+impl, func(b *testing.B) {
			b.SetBytes(int64(n) * benchRecordBytes)
			dir := tempDir(b)
			for b.Loop() {
				b.StopTimer()
				var sum int
				var err error
				env := []string{"MEMVEC_IMPL=" + impl, "MEMVEC_N=" + strconv.Itoa(n)}
				if impl == "memvec" {
					path := filepath.Join(dir, "stream.bytes")
					c := startChild(b, "bytesstreamwrite", append(env, "MEMVEC_PATH="+path)...)
					c.expect(b, "ready")
					bs, ferr := OpenBytes(path, Follow())
					if ferr != nil {
						b.Fatal(ferr)
					}
					coldStart(b) // starts the timer
					io.WriteString(c.stdin, "go\n")
					sum, err = followBytesAll(bs, n)
					b.StopTimer()
					bs.Close()
					c.release(b)
					os.RemoveAll(path)
				} else {
					r, w, perr := os.Pipe()
					if perr != nil {
						b.Fatal(perr)
					}
					c := startChildFiles(b, "bytesstreamwrite", []*os.File{w}, env...)
					w.Close()
					c.expect(b, "ready")
					coldStart(b)
					io.WriteString(c.stdin, "go\n")
					sum, err = readBufioRecords(bufio.NewReaderSize(r, 64<<10), n)
					b.StopTimer()
					r.Close()
					c.release(b)
				}
				if err != nil {
					b.Fatal(err)
				}
				if sum != want {
					b.Fatalf("sum %v, want %v", sum, want)
				}
				b.StartTimer()
			}
		})
	}
}
