package memvec

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func init() { children["benchbytes"] = benchBytesChild }

// benchBytesChild pushes records of 16 to 200 bytes into an anonymous
// Bytes until they hold 1 GB ($MEMVEC_BYTES overrides), and prints the
// bytes held and the process's peak RSS (VmHWM), in bytes. The records
// come from one 200-byte buffer, so that the process holds nothing else
// of their size.
func benchBytesChild() {
	want, _ := strconv.ParseInt(os.Getenv("MEMVEC_BYTES"), 10, 64)
	bs, err := MakeBytes()
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	var buf [200]byte
	for i := range buf {
		buf[i] = byte(i)
	}
	seed := uint32(1)
	for bs.Size() < want {
		seed = seed*1664525 + 1013904223
		if err := bs.Push(buf[:16+int(seed>>8)%185]); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			fmt.Println(bs.Size(), kb<<10)
		}
	}
}

// BenchmarkBytesPeakRSS reports the peak RSS of a process that pushes 1 GB
// of records (100 MB with -short) into an anonymous Bytes, as peak-MB and
// as peak/data, the bytes of the records it holds; the offsets, 8 bytes a
// record, are the overhead the goal allows for. Its time is the child's
// whole run, start-up included.
func BenchmarkBytesPeakRSS(b *testing.B) {
	want := int64(1e9)
	if testing.Short() {
		want = 1e8
	}
	b.Run("impl=memvec/backend=anon", func(b *testing.B) {
		var peak, data float64
		for b.Loop() {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=benchbytes", "MEMVEC_BYTES="+strconv.FormatInt(want, 10))
			out, err := cmd.CombinedOutput()
			if err != nil {
				b.Fatalf("%v: %s", err, out)
			}
			var size, hwm float64
			if _, err := fmt.Sscan(string(out), &size, &hwm); err != nil {
				b.Fatalf("child said %q", out)
			}
			peak, data = max(peak, hwm), size
		}
		b.ReportMetric(peak/1e6, "peak-MB")
		b.ReportMetric(peak/data, "peak/data")
	})
}
