// Command largerthanram pushes a file vector larger than the machine's
// memory and scans it, then does the same with a scratch vector (Make with
// TempDir: a file that no name reaches, freed at Close or at the process's
// death), next to a plain sequential write and read of the same bytes
// through bufio, and reports the throughput and the peak RSS of each.
//
// It is not part of the tests. The default -size, 4 GiB, keeps a first run
// to a minute or so and fits a laptop's disk; it is not larger than most
// machines' memory. To see what the example is about, pass a -size larger
// than the memory (twice it, say) and a -dir on a disk (not a tmpfs, which
// /tmp is on many Linux systems), and give it a few minutes:
//
//	go run ./examples/largerthanram -dir /var/tmp -size 32GiB
//
// The files are written one after the other, in a directory of their own
// inside -dir, removed at the end; the scratch vector's has no name there
// and needs no removal, whatever happens to the program. The scratch
// vector is a vector for one run: nothing of it is kept, so it is never
// synced, and it is scanned in the process that pushed it, without the
// eviction the named file gets (there is no path to open again), the
// pages the kernel has not written back yet read from memory. Before it writes, the program checks
// that -dir has room (on Linux, macOS, FreeBSD, DragonFly and Windows):
// -size, plus the vector file's spare capacity (up to 1 GiB, by the growth
// policy), plus 1 GiB left free for the rest of the system. It refuses to
// start, saying so, if there is less.
//
// The vector stays small in memory because the program tells the kernel,
// every -window bytes, that it is done with the elements behind it, with
// the vector's DontNeed (on Linux MADV_PAGEOUT, which unmaps the pages at
// once and reclaims them once written back), and scans with the Advise(AdviseSequential)
// option (MADV_SEQUENTIAL). Measured on a 2 GiB push (see BENCHMARKS.md),
// MADV_PAGEOUT kept the RSS at 266 MB and pushed at 1009 MB/s; no hint
// pushed at 960 MB/s but the RSS grew to 2.1 GB (the kernel copes, by
// reclaiming under pressure); MADV_DONTNEED bounded the RSS but pushed at
// 400 MB/s, and MADV_COLD bounded nothing. -hint none runs without
// DontNeed. WillNeed on the window ahead of the scan was tried and made it
// three times slower. Each file is evicted from the page cache before its
// scan (on Linux), so that both scans read from the disk whatever the size.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/memvec/memvec"
)

// Point is 24 bytes, like the benchmarks' element.
type Point struct{ X, Y, Z float64 }

const pointSize = int(unsafe.Sizeof(Point{}))

// dontNeed is the -hint flag: whether to call DontNeed behind the write and
// read points.
var dontNeed bool

// work is the directory of the two files, which fail removes too.
var work string

func main() {
	dir := flag.String("dir", os.TempDir(), "directory for the files, which must have room for -size and up to 2 GiB more")
	sizeFlag := flag.String("size", "4GiB", "bytes of elements to write (suffixes KiB, MiB, GiB); more than the machine's memory to see the point")
	window := flag.Int("window", 256<<20, "bytes between madvise hints")
	hint := flag.String("hint", "dontneed", "what to tell the kernel about the elements behind the write and read points: dontneed (the vector's DontNeed; MADV_PAGEOUT on Linux) or none")
	flag.Parse()
	switch *hint {
	case "dontneed":
		dontNeed = true
	case "none":
	default:
		fail(fmt.Errorf("bad -hint %q: dontneed or none", *hint))
	}
	size, err := parseSize(*sizeFlag)
	if err != nil {
		fail(err)
	}
	if err := checkRoom(*dir, size); err != nil {
		fail(err)
	}
	n := size / pointSize
	fmt.Printf("%d points, %.1f GiB, in %s\n", n, float64(n*pointSize)/(1<<30), *dir)

	// A directory of its own: another user's files, or another run's, in
	// a shared -dir are never in the way.
	work, err = os.MkdirTemp(*dir, "largerthanram-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(work)
	path := filepath.Join(work, "largerthanram.vec")
	resetPeak()
	start := time.Now()
	synced, err := pushVector(path, n, *window)
	if err != nil {
		fail(err)
	}
	report("memvec push", n, time.Since(start))
	fmt.Printf("  (of which the final Sync %.2f s)\n", synced.Seconds())
	evict(path) // both scans read from the disk, whatever the size
	resetPeak()
	start = time.Now()
	sum, err := scanVector(path, *window)
	if err != nil {
		fail(err)
	}
	report("memvec scan", n, time.Since(start))
	os.Remove(path)

	resetPeak()
	pushed, scanned, scratchSum, err := scratchVector(work, n, *window)
	if err != nil {
		fail(err)
	}
	report("tempdir push", n, pushed)
	report("tempdir scan", n, scanned)

	plain := filepath.Join(work, "largerthanram.bin")
	resetPeak()
	start = time.Now()
	synced, err = writePlain(plain, n)
	if err != nil {
		fail(err)
	}
	report("bufio write", n, time.Since(start))
	fmt.Printf("  (of which the final fsync %.2f s)\n", synced.Seconds())
	evict(plain)
	resetPeak()
	start = time.Now()
	plainSum, err := readPlain(plain)
	if err != nil {
		fail(err)
	}
	report("bufio read", n, time.Since(start))
	os.Remove(plain)
	if sum != plainSum || scratchSum != plainSum {
		fail(fmt.Errorf("the scans disagree: %v, %v and %v", sum, scratchSum, plainSum))
	}
}

// pushVector pushes n points into a new file vector, dropping its pages
// from the process's memory behind the write point, and syncs it. It
// returns how long the Sync took.
func pushVector(path string, n, window int) (time.Duration, error) {
	v, err := memvec.Open[Point](path)
	if err != nil {
		return 0, err
	}
	per := max(window/pointSize, 1)
	for i := range n {
		if err := v.Push(Point{float64(i), 1, 2}); err != nil {
			v.Close()
			return 0, err
		}
		if dontNeed && (i+1)%per == 0 {
			if err := v.DontNeed(i+1-per, i+1); err != nil {
				v.Close()
				return 0, err
			}
		}
	}
	start := time.Now()
	if err := v.Sync(); err != nil {
		v.Close()
		return 0, err
	}
	return time.Since(start), v.Close()
}

// scanVector sums the X of every point, sequentially (telling the kernel
// so, to read ahead further), dropping the pages behind the read point.
func scanVector(path string, window int) (float64, error) {
	v, err := memvec.Open[Point](path, memvec.ReadOnly(), memvec.Advise(memvec.AdviseSequential))
	if err != nil {
		return 0, err
	}
	defer v.Close()
	per := max(window/pointSize, 1)
	var sum float64
	for i, p := range v.Slice() {
		sum += p.X
		if dontNeed && (i+1)%per == 0 {
			if err := v.DontNeed(i+1-per, i+1); err != nil {
				return 0, err
			}
		}
	}
	return sum, nil
}

// scratchVector pushes n points into a vector made with TempDir(dir),
// whose file no name reaches, with AdviseSequential (MADV_SEQUENTIAL),
// dropping its pages from the process's memory
// behind the write point, then sums the X of every point, dropping them
// behind the read point, and closes it, which gives its disk space back.
// It returns how long the push and the scan took (the peak RSS reported
// with the scan is of both).
func scratchVector(dir string, n, window int) (pushed, scanned time.Duration, sum float64, err error) {
	start := time.Now()
	// Sequential advice, for the scan; it is the whole region's, from the
	// start (measured at 24 GiB: the scan at 818 MB/s with it, 537 MB/s
	// without; the push the same either way).
	v, err := memvec.Make[Point](0, memvec.TempDir(dir), memvec.Advise(memvec.AdviseSequential))
	if err != nil {
		return 0, 0, 0, err
	}
	defer v.Close()
	per := max(window/pointSize, 1)
	for i := range n {
		if err := v.Push(Point{float64(i), 1, 2}); err != nil {
			return 0, 0, 0, err
		}
		if dontNeed && (i+1)%per == 0 {
			if err := v.DontNeed(i+1-per, i+1); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	pushed = time.Since(start)
	start = time.Now()
	for i, p := range v.Slice() {
		sum += p.X
		if dontNeed && (i+1)%per == 0 {
			if err := v.DontNeed(i+1-per, i+1); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	return pushed, time.Since(start), sum, v.Close()
}

// writePlain writes the bytes of the same points through a bufio.Writer
// and syncs the file. It returns how long the fsync took.
func writePlain(path string, n int) (time.Duration, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	p := new(Point)
	b := unsafe.Slice((*byte)(unsafe.Pointer(p)), pointSize)
	for i := range n {
		*p = Point{float64(i), 1, 2}
		if _, err := w.Write(b); err != nil {
			f.Close()
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	start := time.Now()
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, err
	}
	return time.Since(start), f.Close()
}

// readPlain sums the X of every point of the plain file.
func readPlain(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var p Point
	b := unsafe.Slice((*byte)(unsafe.Pointer(&p)), pointSize)
	var sum float64
	for {
		if _, err := io.ReadFull(r, b); err == io.EOF {
			return sum, nil
		} else if err != nil {
			return 0, err
		}
		sum += p.X
	}
}

// report prints a phase's throughput and the process's peak RSS during it.
func report(what string, n int, d time.Duration) {
	fmt.Printf("%-12s %7.2f s  %7.0f MB/s  peak RSS %s\n", what, d.Seconds(), float64(n*pointSize)/d.Seconds()/1e6, peakRSS())
}

// checkRoom returns an error if dir has no room for a run that writes size
// bytes of elements: the vector file holds them and the spare capacity its
// growth leaves (it doubles up to 1 GiB at a time), and 1 GiB is left free
// for the rest of the system. The plain file, written after the vector
// file is removed, needs less.
func checkRoom(dir string, size int) error {
	const gib = 1 << 30
	need := uint64(size) + uint64(min(size, gib)) + gib
	free, ok, err := freeSpace(dir)
	switch {
	case err != nil:
		return fmt.Errorf("cannot tell the free space in %s: %w", dir, err)
	case !ok:
		fmt.Printf("cannot tell the free space in %s here; the run needs about %.1f GiB\n", dir, float64(need)/gib)
	case need > free:
		return fmt.Errorf("%s has %.1f GiB free, and -size %.1f GiB needs %.1f GiB (the vector file with its spare capacity, and 1 GiB left free): pass a smaller -size, or a -dir with more room",
			dir, float64(free)/gib, float64(size)/gib, float64(need)/gib)
	}
	return nil
}

func parseSize(s string) (int, error) {
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"", 1}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v <= 0 {
				return 0, fmt.Errorf("bad -size %q", s)
			}
			return int(v * float64(u.mult)), nil
		}
	}
	return 0, fmt.Errorf("bad -size %q", s)
}

func fail(err error) {
	if work != "" {
		os.RemoveAll(work)
	}
	fmt.Fprintln(os.Stderr, "largerthanram:", err)
	os.Exit(1)
}
