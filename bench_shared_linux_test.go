package memvec

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Shared writers against one exclusive writer, against write(2) on one
// O_APPEND file, and shared counters against a raw shared mapping (issue
// 21's Speed; BENCHMARKS.md, "Shared writers"). Every writer is a process
// of its own, started before the timer; the timer runs from the word go to
// the last writer's "done" (before any Close). An op is one element (or one
// Add), of all the writers together: ns/op is the time per element of the
// whole group, whose inverse is its element rate.

func init() {
	children["sharedbench"] = sharedBenchChild
}

// sharedBenchChild is one writer of the benchmarks below: $MEMVEC_IMPL
// says how it writes $MEMVEC_N points (or Adds) to $MEMVEC_PATH: "exclusive"
// (Open, Push), "shared" (Open with Shared, Push), "oappend" (write(2) of
// each point's 24 bytes to the file opened O_APPEND), "add" (Add on element
// 0 of a MemVec[atomic.Uint64] opened Shared) or "addmmap" (Add on the
// first word of the file mapped shared). It says "ready", waits for a byte
// on its stdin, writes, says "done" and closes when its stdin closes.
func sharedBenchChild() {
	path, impl := os.Getenv("MEMVEC_PATH"), os.Getenv("MEMVEC_IMPL")
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	var run func() error
	closer := func() error { return nil }
	switch impl {
	case "exclusive", "shared":
		var opts []Option
		if impl == "shared" {
			opts = append(opts, Shared(), LockTimeout(time.Minute))
		}
		v, err := Open[point](path, opts...)
		if err != nil {
			fail(err)
		}
		run = func() error {
			for i := range n {
				if err := v.Push(point{float64(i), 1, 2}); err != nil {
					return err
				}
			}
			return nil
		}
		closer = v.Close
	case "oappend":
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
		if err != nil {
			fail(err)
		}
		run = func() error {
			var b [24]byte
			for i := range n {
				binary.NativeEndian.PutUint64(b[:], uint64(i))
				if _, err := unix.Write(fd, b[:]); err != nil {
					return err
				}
			}
			return nil
		}
		closer = func() error { return unix.Close(fd) }
	case "add":
		v, err := Open[atomic.Uint64](path, Shared(), LockTimeout(time.Minute))
		if err != nil {
			fail(err)
		}
		run = func() error {
			c := &v.Slice()[0]
			for range n {
				c.Add(1)
			}
			return nil
		}
		closer = v.Close
	case "addmmap":
		b, err := mapShared(path, pageSize)
		if err != nil {
			fail(err)
		}
		run = func() error {
			c := (*atomic.Uint64)(unsafe.Pointer(&b[0]))
			for range n {
				c.Add(1)
			}
			return nil
		}
		closer = func() error { return unix.Munmap(b) }
	default:
		fail(fmt.Errorf("no impl %q", impl))
	}
	fmt.Println("ready")
	var b [1]byte
	os.Stdin.Read(b[:])
	if err := run(); err != nil {
		fail(err)
	}
	fmt.Println("done")
	io.Copy(io.Discard, os.Stdin)
	if err := closer(); err != nil {
		fail(err)
	}
}

// runSharedBench starts writers processes of impl on path, each to write
// its share of b.N, and times them from go to the last "done".
func runSharedBench(b *testing.B, impl, path string, writers int) {
	b.StopTimer()
	var kids []*child
	for w := range writers {
		n := b.N / writers
		if w == 0 {
			n += b.N % writers
		}
		c := startChild(b, "sharedbench", "MEMVEC_IMPL="+impl, "MEMVEC_PATH="+path, "MEMVEC_N="+strconv.Itoa(n))
		c.expect(b, "ready")
		kids = append(kids, c)
	}
	b.StartTimer()
	for _, c := range kids {
		if _, err := c.stdin.Write([]byte("g")); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range kids {
		c.expect(b, "done")
	}
	b.StopTimer()
	for _, c := range kids {
		c.release(b)
	}
}

// BenchmarkSharedPush: points pushed by 1, 2 and 4 Shared writer
// processes together to a new file, against one exclusive writer, and 2
// processes writing each point with write(2) to one O_APPEND file.
func BenchmarkSharedPush(b *testing.B) {
	for _, c := range []struct {
		impl    string
		writers int
	}{{"exclusive", 1}, {"shared", 1}, {"shared", 2}, {"shared", 4}, {"oappend", 2}} {
		b.Run(fmt.Sprintf("impl=%s/writers=%d", c.impl, c.writers), func(b *testing.B) {
			path := filepath.Join(tempDir(b), "p.vec")
			runSharedBench(b, c.impl, path, c.writers)
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			if c.impl == "oappend" && st.Size() != int64(24*b.N) {
				b.Fatalf("the file has %d bytes, not %d", st.Size(), 24*b.N)
			}
			if c.impl != "oappend" {
				v, err := Open[point](path, ReadOnly())
				if err != nil {
					b.Fatal(err)
				}
				defer v.Close()
				if v.Len() != b.N {
					b.Fatalf("the vector holds %d points, not %d", v.Len(), b.N)
				}
			}
		})
	}
}

// BenchmarkSharedAdd: Add on one atomic.Uint64 from 2 processes, element
// 0 of a MemVec[atomic.Uint64] opened Shared against the first word of a
// raw shared mapping of a file.
func BenchmarkSharedAdd(b *testing.B) {
	for _, impl := range []string{"memvec", "mmap"} {
		b.Run("impl="+impl+"/procs=2", func(b *testing.B) {
			path := filepath.Join(tempDir(b), "c.vec")
			var count func() uint64
			child := "add"
			if impl == "memvec" {
				v, err := Open[atomic.Uint64](path, Shared())
				if err != nil {
					b.Fatal(err)
				}
				defer v.Close()
				if err := v.Append(atomic.Uint64{}); err != nil {
					b.Fatal(err)
				}
				count = func() uint64 { return v.Slice()[0].Load() }
			} else {
				child = "addmmap"
				m, err := mapShared(path, pageSize)
				if err != nil {
					b.Fatal(err)
				}
				defer unix.Munmap(m)
				count = func() uint64 { return (*atomic.Uint64)(unsafe.Pointer(&m[0])).Load() }
			}
			runSharedBench(b, child, path, 2)
			if got := count(); got != uint64(b.N) {
				b.Fatalf("counted %d, not %d", got, b.N)
			}
		})
	}
}
