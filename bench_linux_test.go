package memvec

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mremapRegion is the baseline growth of BenchmarkGrowth: an anonymous
// mapping resized with mremap(MREMAP_MAYMOVE), which may move it.
type mremapRegion struct {
	p unsafe.Pointer
	n int
}

func newMremapRegion(b *testing.B) Memory { return &mremapRegion{} }

func (r *mremapRegion) Bytes() []byte { return unsafe.Slice((*byte)(r.p), r.n) }

func (r *mremapRegion) Resize(n int) (err error) {
	if r.n == 0 {
		r.p, err = unix.MmapPtr(-1, 0, nil, uintptr(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	} else {
		r.p, err = unix.MremapPtr(r.p, uintptr(r.n), nil, uintptr(n), unix.MREMAP_MAYMOVE)
	}
	if err == nil {
		r.n = n
	}
	return err
}

func (r *mremapRegion) Sync() error  { return nil }
func (r *mremapRegion) Close() error { return unix.MunmapPtr(r.p, uintptr(r.n)) }

func init() { children["benchpush"] = benchPushChild }

// benchPushChild pushes pushN points with the impl $MEMVEC_IMPL (memvec:
// anonymous vector from Make(0); append: append to a nil slice; prealloc:
// append to a presized slice) and prints how long that took, in
// nanoseconds, and its peak RSS (VmHWM) in bytes.
func benchPushChild() {
	n := pushN
	start := time.Now()
	switch impl := os.Getenv("MEMVEC_IMPL"); impl {
	case "memvec":
		v, err := Make[point](0)
		if err == nil {
			err = pushMemvec(v, n)
		}
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
	case "append", "prealloc":
		var s []point
		if impl == "prealloc" {
			s = make([]point, 0, n)
		}
		s = appendSlice(s, n)
		defer fmt.Sprint(len(s)) // keep s alive until VmHWM is read
	default:
		fmt.Println("unknown impl", impl)
		os.Exit(2)
	}
	elapsed := time.Since(start)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			fmt.Println(elapsed.Nanoseconds(), kb<<10)
		}
	}
}

// pushImpls names the impls of benchPushChild as the sub-benchmarks of
// BenchmarkPush do.
var pushImpls = []struct{ impl, name string }{
	{"memvec", "impl=memvec/backend=anon"},
	{"append", "impl=slice/prealloc=false"},
	{"prealloc", "impl=slice/prealloc=true"},
}

// runPushChild runs benchPushChild with impl in a new process and returns the
// push's time in nanoseconds and the process's peak RSS in bytes.
func runPushChild(b *testing.B, impl string) (ns, peak float64) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=benchpush", "MEMVEC_IMPL="+impl)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	if _, err := fmt.Sscan(string(out), &ns, &peak); err != nil {
		b.Fatalf("child said %q", out)
	}
	return ns, peak
}

// BenchmarkPeakRSS reports the peak RSS of a process that pushes 10,000,000
// points (240 MB), as peak-MB and as peak/data: an anonymous vector against
// append to a nil and to a presized slice. Its time is the child's whole
// run, start-up included.
func BenchmarkPeakRSS(b *testing.B) {
	for _, p := range pushImpls {
		b.Run(p.name, func(b *testing.B) {
			var peak float64
			for b.Loop() {
				_, bytes := runPushChild(b, p.impl)
				peak = max(peak, bytes)
			}
			b.ReportMetric(peak/1e6, "peak-MB")
			b.ReportMetric(peak/(pushN*24), "peak/data")
		})
	}
}

// BenchmarkPushFresh is BenchmarkPush in a fresh process for every push:
// each iteration starts a process that pushes 10,000,000 points, and
// push-ns/op is the push alone (Make or make included), timed in that
// process; ns/op is the whole run, start-up included. A new process has
// no memory to recycle: its Go heap, like Make, maps memory the kernel has
// not yet handed it.
func BenchmarkPushFresh(b *testing.B) {
	for _, p := range pushImpls {
		if p.impl == "append" {
			continue // BenchmarkPeakRSS runs it
		}
		b.Run(p.name, func(b *testing.B) {
			var total float64
			for b.Loop() {
				ns, _ := runPushChild(b, p.impl)
				total += ns
			}
			b.ReportMetric(total/float64(b.N), "push-ns/op")
		})
	}
}

// BenchmarkPushMmap writes 10,000,000 points in a loop into a raw anonymous
// mapping of their size, without and with MAP_POPULATE: the floor for
// fresh anonymous memory, beside which BenchmarkPush's anonymous push pays
// for its header, its growth and its calls. The mapping is unmapped outside
// the timer.
func BenchmarkPushMmap(b *testing.B) {
	for _, populate := range []bool{false, true} {
		flags := unix.MAP_PRIVATE | unix.MAP_ANONYMOUS
		if populate {
			flags |= unix.MAP_POPULATE
		}
		b.Run("impl=mmap/populate="+strconv.FormatBool(populate), func(b *testing.B) {
			b.SetBytes(pushN * 24)
			var faults faultCount
			for b.Loop() {
				coldStart(b)
				faults.start()
				p, err := unix.MmapPtr(-1, 0, nil, pushN*24, unix.PROT_READ|unix.PROT_WRITE, flags)
				if err != nil {
					b.Fatal(err)
				}
				fillPoints(unsafe.Slice((*point)(p), pushN))
				faults.stop()
				b.StopTimer()
				if err := unix.MunmapPtr(p, pushN*24); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			faults.report(b)
		})
	}
}

// fillPoints writes the points pushMemvec pushes into s.
//
//go:noinline
func fillPoints(s []point) {
	for i := range s {
		s[i] = point{float64(i), 1, 2}
	}
}

// minorFaults returns the minor page faults of this process so far (a page
// faulted in by MADV_POPULATE_WRITE counts as one).
func minorFaults() int64 {
	var u unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &u) != nil {
		return -1
	}
	return int64(u.Minflt)
}

// threadReadBytes returns the bytes the calling thread has made the disk
// read (read_bytes in /proc/thread-self/io), or -1 if the system does not
// say.
func threadReadBytes() int64 {
	b, err := os.ReadFile("/proc/thread-self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(line, "read_bytes: "); ok {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// evictFile drops the file's pages from the page cache (they are clean).
func evictFile(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
}

// threadCPU returns the CPU time, user and system, the calling thread has
// used, or -1 if the system refuses: unlike the wall clock it does not
// count the time the scheduler, or the hypervisor under a virtual machine,
// gave the CPU to something else.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return -1
	}
	return time.Duration(ts.Nano())
}
