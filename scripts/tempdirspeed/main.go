// Command tempdirspeed pushes a scratch vector (Make with TempDir) of -size
// bytes of 24-byte points and scans it, telling the kernel every -window
// bytes that it is done with the pages behind (DontNeed), as
// examples/largerthanram does, and prints the throughput of each: the
// one-off measurement of BENCHMARKS.md ("A scratch vector"), against dd
// writing and reading the same bytes. It needs -size free on -dir's disk,
// and gives it back at the end (or if killed).
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/memvec/memvec"
)

// point is the benchmarks' element: 24 bytes.
type point struct{ X, Y, Z float64 }

func main() {
	dir := flag.String("dir", "/var/tmp", "directory of the scratch file: on a disk")
	size := flag.Int64("size", 1<<30, "bytes of points to push")
	window := flag.Int("window", 256<<20, "bytes between DontNeed hints")
	seq := flag.Bool("seq", false, "give Advise(AdviseSequential)")
	flag.Parse()
	n := int(*size / 24)
	per := max(*window/24, 1)
	opts := []memvec.Option{memvec.TempDir(*dir)}
	if *seq {
		opts = append(opts, memvec.Advise(memvec.AdviseSequential))
	}
	start := time.Now()
	v, err := memvec.Make[point](0, opts...)
	if err != nil {
		fail(err)
	}
	for i := range n {
		if err := v.Push(point{float64(i), 1, 2}); err != nil {
			fail(err)
		}
		if (i+1)%per == 0 {
			if err := v.DontNeed(i+1-per, i+1); err != nil {
				fail(err)
			}
		}
	}
	push := time.Since(start)
	start = time.Now()
	var sum float64
	for i, p := range v.Slice() {
		sum += p.X
		if (i+1)%per == 0 {
			if err := v.DontNeed(i+1-per, i+1); err != nil {
				fail(err)
			}
		}
	}
	scan := time.Since(start)
	start = time.Now()
	if err := v.Close(); err != nil {
		fail(err)
	}
	closed := time.Since(start)
	b := float64(n * 24)
	fmt.Printf("tempdir push %.1f s %.0f MB/s; scan %.1f s %.0f MB/s; close %.2f s; sum %g\n",
		push.Seconds(), b/push.Seconds()/1e6, scan.Seconds(), b/scan.Seconds()/1e6, closed.Seconds(), sum)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tempdirspeed:", err)
	os.Exit(1)
}
