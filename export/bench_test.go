package export

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memvec/memvec"
)

// benchChild names the environment variable that makes the test binary
// export a file, or read it, as a child process of BenchmarkExport:
// "FORMAT PATH", with FORMAT parquet, arrow, or read (the baseline:
// io.Copy of the file to io.Discard).
const benchChild = "MEMVEC_EXPORT_BENCH_CHILD"

func TestMain(m *testing.M) {
	if job := os.Getenv(benchChild); job != "" {
		os.Exit(runBenchChild(job))
	}
	os.Exit(m.Run())
}

// runBenchChild does the job of a benchmark's child process.
func runBenchChild(job string) int {
	var format, path string
	if _, err := fmt.Sscan(job, &format, &path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if prof := os.Getenv("MEMVEC_EXPORT_BENCH_CPUPROFILE"); prof != "" {
		f, err := os.Create(prof)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	var err error
	if format == "read" {
		var f *os.File
		if f, err = os.Open(path); err == nil {
			_, err = io.Copy(io.Discard, bufio.NewReaderSize(f, 1<<20))
			f.Close()
		}
	} else {
		var fm Format
		if fm, err = ParseFormat(format); err == nil {
			err = File(io.Discard, path, Options{Format: fm})
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The peak resident memory of this process, for the benchmark: the
	// rusage that wait4 returns would be the parent's, whose memory the
	// child shares until it execs (Linux keeps the peak across exec).
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				fmt.Println(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "VmHWM:"), "kB")))
			}
		}
	}
	return 0
}

// benchRec is the element of the speed goal: 24 bytes.
type benchRec struct {
	A int64
	B float64
	C uint32
	D int32
}

// benchFile returns a vector file of n benchRecs in dir, writing it if it
// is not there yet.
func benchFile(b *testing.B, dir string, n int) string {
	path := filepath.Join(dir, "export-bench-"+strconv.Itoa(n)+".vec")
	if v, err := memvec.OpenRaw(path); err == nil && v.Len() == n {
		v.Close()
		return path
	} else if err == nil {
		v.Close()
	}
	os.Remove(path)
	v, err := memvec.Open[benchRec](path)
	require.NoError(b, err)
	for i := range n {
		require.NoError(b, v.Push(benchRec{int64(i) * 3, float64(i) / 2, uint32(i), -int32(i)}))
	}
	require.NoError(b, v.Close())
	return path
}

// BenchmarkExport exports 10^7 elements of 24 bytes (240 MB) to Parquet
// and to Arrow, written to io.Discard, each pass in a fresh process,
// whose peak resident memory it reports (peak-MiB, VmHWM) and its input
// per second of the process's CPU time (MB/cpu-s), with the baseline of
// reading the same file (impl=read: io.Copy to io.Discard). MB/s is the
// input's. The file is in the page cache (it was just written, or read by
// the pass before), as it is for an export beside its writer. With
// MEMVEC_EXPORT_BENCH_DIR, the file is kept there between runs; with
// MEMVEC_EXPORT_BENCH_2GIB=1, size=2GiB exports a file of 2 GiB
// (89,478,485 elements) too: its peak must be the 240 MB file's.
func BenchmarkExport(b *testing.B) {
	dir := os.Getenv("MEMVEC_EXPORT_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	exe, err := os.Executable()
	require.NoError(b, err)
	sizes := []struct {
		name string
		n    int
	}{{"240MB", 10_000_000}}
	if os.Getenv("MEMVEC_EXPORT_BENCH_2GIB") == "1" {
		sizes = append(sizes, struct {
			name string
			n    int
		}{"2GiB", (2 << 30) / 24})
	}
	for _, size := range sizes {
		path := benchFile(b, dir, size.n)
		for _, impl := range []string{"read", "parquet", "arrow"} {
			b.Run("size="+size.name+"/impl="+impl, func(b *testing.B) {
				b.SetBytes(int64(size.n) * 24)
				peak := int64(0)
				var cpu time.Duration
				for b.Loop() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
					cmd := exec.CommandContext(ctx, exe)
					cmd.Env = append(os.Environ(), benchChild+"="+impl+" "+path)
					cmd.Stderr = os.Stderr
					out, err := cmd.Output()
					cancel()
					require.NoError(b, err)
					cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
					if kib, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil {
						peak = max(peak, kib) // VmHWM, Linux only
					}
				}
				b.ReportMetric(float64(peak)/1024, "peak-MiB")
				// The input's bytes per second of the child's CPU time,
				// which the machine's load changes less than its time.
				b.ReportMetric(float64(size.n)*24*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
			})
		}
	}
}
