//go:build linux

package memvec

// The follower benchmarks (issue 8): a writer in one process and a follower
// in another, against what a Go programmer would use to move the same
// messages between two processes. Linux only: the follower sleeps on a
// futex only there (elsewhere Wait polls, which is not what is measured),
// and the latencies are read from CLOCK_MONOTONIC, which Linux keeps one for
// the whole system, so that a time taken in one process can be compared
// with one taken in another.

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() {
	children["latsend"] = latencySenderChild
	children["streamwrite"] = streamWriterChild
	children["followhold"] = followHoldChild
	children["wakefollow"] = wakeFollowerChild
}

// monotonic returns CLOCK_MONOTONIC in nanoseconds: what
// unix.ClockGettime(unix.CLOCK_MONOTONIC) returns, read through the vDSO
// as the runtime reads it (runtime.nanotime is that clock on Linux),
// without the system call that unix.ClockGettime makes, which costs about
// 220 ns on the benchmark machine: as much as a follower's whole wake-up
// when it spins. checkMonotonic makes sure the two agree.
//
//go:linkname monotonic runtime.nanotime
func monotonic() int64

// checkMonotonic fails b unless monotonic reads the clock that
// unix.ClockGettime(CLOCK_MONOTONIC) reads.
func checkMonotonic(b *testing.B) {
	for range 10 {
		var ts unix.Timespec
		before := monotonic()
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			b.Fatal(err)
		}
		after := monotonic()
		if before <= ts.Nano() && ts.Nano() <= after {
			return
		}
	}
	b.Fatal("runtime.nanotime does not read CLOCK_MONOTONIC")
}

// spinUntil busy-waits until monotonic() reaches t.
func spinUntil(t int64) {
	for monotonic() < t {
	}
}

// mapAck maps the first word of the file at path (made a page long),
// shared, for the latency benchmark's back channel: the receiver stores in
// it how many messages it has received (plus one, so that zero means "not
// ready"), and the sender sends message i only when it reads i+1. It is the
// same for every impl, and costs the sender a cache miss, not a system call.
// The mapping stays until the process exits.
func mapAck(path string) (*atomic.Uint64, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, int64(pageSize)); err != nil {
		return nil, err
	}
	b, err := unix.Mmap(fd, 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	return (*atomic.Uint64)(unsafe.Pointer(&b[0])), nil
}

// latMsg is the latency benchmark's message: its number and the time it
// was sent, on CLOCK_MONOTONIC.
type latMsg struct {
	Seq  uint64
	Sent int64
}

const (
	// latN is how many messages a latency run measures, after latWarm
	// that it does not: the first messages fault in the pages and the
	// code paths both sides use.
	latN    = 100_000
	latWarm = 1_000
	// latGap is the gap=200us sender's pause between the receipt of a
	// message and the next: ten times the follower's spin (spinFor), so
	// that it sleeps on the futex, and the socket's reader in the kernel.
	latGap = 200 * time.Microsecond
)

// latencySenderChild sends latWarm+latN messages to the parent by
// $MEMVEC_IMPL (memvec: Push to the vector at $MEMVEC_PATH, which it
// creates; net: a net.Conn over the Unix socket it inherits as descriptor
// 3; raw: write(2) on that socket), one at a time: message i goes once the
// parent has acknowledged i-1 in the word at $MEMVEC_ACK, and
// $MEMVEC_GAP nanoseconds (busy-waited) after it saw that.
func latencySenderChild() {
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	gap, err := strconv.ParseInt(os.Getenv("MEMVEC_GAP"), 10, 64)
	if err != nil {
		fail(err)
	}
	ack, err := mapAck(os.Getenv("MEMVEC_ACK"))
	if err != nil {
		fail(err)
	}
	var send func(m latMsg) error
	switch impl := os.Getenv("MEMVEC_IMPL"); impl {
	case "memvec":
		v, err := Open[latMsg](os.Getenv("MEMVEC_PATH"))
		if err != nil {
			fail(err)
		}
		defer v.Close()
		send = v.Push
	case "net", "raw":
		sock := os.NewFile(3, "socket")
		if impl == "raw" {
			send = func(m latMsg) error {
				_, err := unix.Write(3, unsafe.Slice((*byte)(unsafe.Pointer(&m)), unsafe.Sizeof(m)))
				return err
			}
			break
		}
		conn, err := net.FileConn(sock)
		if err != nil {
			fail(err)
		}
		sock.Close()
		defer conn.Close()
		var buf [16]byte
		send = func(m latMsg) error {
			binary.LittleEndian.PutUint64(buf[0:], m.Seq)
			binary.LittleEndian.PutUint64(buf[8:], uint64(m.Sent))
			_, err := conn.Write(buf[:])
			return err
		}
	default:
		fail(fmt.Errorf("unknown impl %q", impl))
	}
	fmt.Println("ready")
	for i := range uint64(latWarm + latN) {
		for ack.Load() != i+1 {
		}
		if gap > 0 {
			spinUntil(monotonic() + gap)
		}
		if err := send(latMsg{Seq: i, Sent: monotonic()}); err != nil {
			fail(err)
		}
	}
	for ack.Load() != latWarm+latN+1 {
	}
}

// BenchmarkFollowLatency measures how long a message takes from one process
// to another: a writer's Push to a follower's Wait returning (impl=memvec)
// against a write to a Unix-domain stream socket and the read that returns
// it, through Go's net.Conn (impl=socket/io=net) and through plain
// blocking read(2) and write(2), without the runtime's network poller
// (impl=socket/io=raw). Each message carries the time it was sent, read
// just before Push or write; the receiver reads the clock again when Wait
// or the read returns. One message is in flight at a time: the sender
// sends the next when the receiver has acknowledged the last (through a
// word of shared memory, the same for every impl). With gap=0 it sends at
// once, so the follower is still spinning in Wait; with gap=200us it
// busy-waits 200 µs first, so the follower has gone to sleep on the futex
// and the writer's Push has to wake it. Reported: the median, 99th and
// 99.9th percentiles in ns (p50-ns, p99-ns, p999-ns) of 100,000 messages a
// run, of every run b.Loop makes; ns/op is a run's time and means nothing.
func BenchmarkFollowLatency(b *testing.B) {
	checkMonotonic(b)
	for _, gap := range []time.Duration{0, latGap} {
		gapName := "0"
		if gap > 0 {
			gapName = strconv.Itoa(int(gap/time.Microsecond)) + "us"
		}
		for _, impl := range []string{"memvec", "socket/io=net", "socket/io=raw"} {
			b.Run("gap="+gapName+"/impl="+impl, func(b *testing.B) {
				var lat []int64
				for b.Loop() {
					lat = append(lat, latencyRun(b, impl, gap)...)
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
				b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
				b.ReportMetric(float64(lat[len(lat)*999/1000]), "p999-ns")
			})
		}
	}
}

// latencyRun runs a sender child and receives its messages, and returns
// the latencies of the last latN.
func latencyRun(b *testing.B, impl string, gap time.Duration) []int64 {
	b.StopTimer()
	defer b.StartTimer()
	dir := tempDir(b)
	path, ackPath := filepath.Join(dir, "lat.vec"), filepath.Join(dir, "ack")
	ack, err := mapAck(ackPath)
	if err != nil {
		b.Fatal(err)
	}
	env := []string{"MEMVEC_PATH=" + path, "MEMVEC_ACK=" + ackPath, "MEMVEC_GAP=" + strconv.FormatInt(gap.Nanoseconds(), 10)}
	lat := make([]int64, latWarm+latN)
	var c *child
	switch impl {
	case "memvec":
		c = startChild(b, "latsend", append(env, "MEMVEC_IMPL=memvec")...)
		c.expect(b, "ready")
		v, err := Open[latMsg](path, Follow())
		if err != nil {
			b.Fatal(err)
		}
		defer v.Close()
		b.StartTimer()
		ctx := context.Background()
		ack.Store(1)
		for n := 0; n < len(lat); {
			m, err := v.Wait(ctx, n)
			now := monotonic()
			if err != nil {
				b.Fatal(err)
			}
			for i, x := range v.Slice()[n:m] {
				if x.Seq != uint64(n+i) {
					b.Fatalf("message %d is numbered %d", n+i, x.Seq)
				}
				lat[n+i] = now - x.Sent
			}
			n = m
			ack.Store(uint64(n + 1))
		}
	case "socket/io=net", "socket/io=raw":
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		mine, theirs := os.NewFile(uintptr(fds[0]), "socket"), os.NewFile(uintptr(fds[1]), "socket")
		api := "net"
		if impl == "socket/io=raw" {
			api = "raw"
		}
		c = startChildFiles(b, "latsend", []*os.File{theirs}, append(env, "MEMVEC_IMPL="+api)...)
		theirs.Close()
		c.expect(b, "ready")
		var buf [16]byte
		receive := func() error {
			_, err := unix.Read(fds[0], buf[:]) // a 16-byte write arrives whole
			return err
		}
		if api == "net" {
			conn, err := net.FileConn(mine)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			receive = func() error {
				_, err := readFull(conn, buf[:])
				return err
			}
		}
		defer mine.Close()
		b.StartTimer()
		ack.Store(1)
		for i := range lat {
			err := receive()
			now := monotonic()
			if err != nil {
				b.Fatal(err)
			}
			if seq := binary.LittleEndian.Uint64(buf[0:]); seq != uint64(i) {
				b.Fatalf("message %d is numbered %d", i, seq)
			}
			lat[i] = now - int64(binary.LittleEndian.Uint64(buf[8:]))
			ack.Store(uint64(i + 2))
		}
	}
	b.StopTimer()
	c.release(b)
	return lat[latWarm:]
}

// readFull is io.ReadFull, spelled out so that the read of a whole message
// is one call in the common case.
func readFull(r io.Reader, buf []byte) (int, error) {
	n, err := r.Read(buf)
	if n == len(buf) || err != nil {
		return n, err
	}
	m, err := io.ReadFull(r, buf[n:])
	return n + m, err
}

// streamWriterChild writes pushN points to the parent by $MEMVEC_IMPL
// (memvec: Push to a new vector at $MEMVEC_PATH; pipe: bufio.Writer over
// the pipe it inherits as descriptor 3, each point encoded with
// binary.LittleEndian into a scratch buffer), starting when its stdin says
// "go".
func streamWriterChild() {
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	in := bufio.NewScanner(os.Stdin)
	switch impl := os.Getenv("MEMVEC_IMPL"); impl {
	case "memvec":
		v, err := Open[point](os.Getenv("MEMVEC_PATH"))
		if err != nil {
			fail(err)
		}
		fmt.Println("ready")
		in.Scan()
		if err := pushMemvec(v, pushN); err != nil {
			fail(err)
		}
		if err := v.Close(); err != nil {
			fail(err)
		}
	case "pipe":
		f := os.NewFile(3, "pipe")
		fmt.Println("ready")
		in.Scan()
		if err := writeEncoded(bufio.NewWriter(f), pushN); err != nil {
			fail(err)
		}
		if err := f.Close(); err != nil {
			fail(err)
		}
	default:
		fail(fmt.Errorf("unknown impl %q", impl))
	}
}

// writeEncoded writes the points pushMemvec pushes to w, encoded.
//
//go:noinline
func writeEncoded(w *bufio.Writer, n int) error {
	var buf [24]byte
	for i := range n {
		p := point{float64(i), 1, 2}
		binary.LittleEndian.PutUint64(buf[0:], math.Float64bits(p.X))
		binary.LittleEndian.PutUint64(buf[8:], math.Float64bits(p.Y))
		binary.LittleEndian.PutUint64(buf[16:], math.Float64bits(p.Z))
		if _, err := w.Write(buf[:]); err != nil {
			return err
		}
	}
	return w.Flush()
}

// readEncoded reads n points that writeEncoded wrote from r and sums them.
//
//go:noinline
func readEncoded(r *bufio.Reader, n int) (sum float64, err error) {
	var buf [24]byte
	for range n {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return sum, err
		}
		p := point{
			math.Float64frombits(binary.LittleEndian.Uint64(buf[0:])),
			math.Float64frombits(binary.LittleEndian.Uint64(buf[8:])),
			math.Float64frombits(binary.LittleEndian.Uint64(buf[16:])),
		}
		sum += p.X + p.Y + p.Z
	}
	return sum, nil
}

// followAll reads n points as a follower of v, as the writer pushes them,
// and sums them.
//
//go:noinline
func followAll(v *MemVec[point], n int) (sum float64, err error) {
	ctx := context.Background()
	for have := v.Len(); have < n; {
		m, err := v.Wait(ctx, have)
		if err != nil {
			return sum, err
		}
		sum += sumRange(v.Slice()[have:m])
		have = m
	}
	return sum, nil
}

// pollAll reads n points as a follower of v without Wait: it refreshes,
// sums what is new, and sleeps 100 µs when nothing is. Each look costs a
// Refresh and, at most, a timer; the writer never has anyone to wake.
//
//go:noinline
func pollAll(v *MemVec[point], n int) (sum float64, err error) {
	for have := v.Len(); have < n; {
		m, err := v.Refresh()
		if err != nil {
			return sum, err
		}
		if m == have {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		sum += sumRange(v.Slice()[have:m])
		have = m
	}
	return sum, nil
}

// BenchmarkFollowStream streams 10,000,000 points (240 MB) from a writer
// process to a reader process that reads every one: the writer pushes
// into a new file and the reader follows it, calling Wait and summing the
// new elements of Slice (impl=memvec), against a bufio.Writer over a pipe,
// each point encoded with binary.LittleEndian.PutUint64 into a scratch
// buffer, and a bufio.Reader decoding them (impl=pipe). The time runs from
// the writer's start to the reader's sum of the last point; starting the
// writer's process is outside it. impl=memvec/read=poll is a follower that
// does not Wait but polls (pollAll), for comparison.
func BenchmarkFollowStream(b *testing.B) {
	want := float64(pushN)*(pushN-1)/2 + 3*pushN
	for _, impl := range []string{"memvec", "memvec/read=poll", "pipe"} {
		b.Run("impl="+impl, func(b *testing.B) {
			b.SetBytes(pushN * 24)
			dir := tempDir(b)
			read := followAll
			if impl == "memvec/read=poll" {
				read = pollAll
			}
			for b.Loop() {
				b.StopTimer()
				var sum float64
				var err error
				if impl != "pipe" {
					path := filepath.Join(dir, "stream.vec")
					c := startChild(b, "streamwrite", "MEMVEC_IMPL=memvec", "MEMVEC_PATH="+path)
					c.expect(b, "ready")
					v, ferr := Open[point](path, Follow())
					if ferr != nil {
						b.Fatal(ferr)
					}
					coldStart(b) // starts the timer
					io.WriteString(c.stdin, "go\n")
					sum, err = read(v, pushN)
					b.StopTimer()
					v.Close()
					c.release(b)
					os.Remove(path)
				} else {
					r, w, perr := os.Pipe()
					if perr != nil {
						b.Fatal(perr)
					}
					c := startChildFiles(b, "streamwrite", []*os.File{w}, "MEMVEC_IMPL=pipe")
					w.Close()
					c.expect(b, "ready")
					coldStart(b)
					io.WriteString(c.stdin, "go\n")
					sum, err = readEncoded(bufio.NewReader(r), pushN)
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

// followHoldChild follows the vector at $MEMVEC_PATH, says "following",
// and then every millisecond refreshes and reads the last element, never
// waiting, until its stdin is closed.
func followHoldChild() {
	v, err := Open[point](os.Getenv("MEMVEC_PATH"), Follow())
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("following")
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			if err := v.Close(); err != nil {
				fmt.Println(err)
				os.Exit(childFailed)
			}
			return
		case <-tick.C:
			n, err := v.Refresh()
			if err != nil {
				fmt.Println(err)
				os.Exit(childFailed)
			}
			if n > 0 {
				runtime.KeepAlive(v.Index(n - 1))
			}
		}
	}
}

// BenchmarkFollowPush pushes 10,000,000 points into a new file with one
// follower attached in another process (followers=1: it refreshes and
// reads the last element every millisecond, and never waits, so no Push
// has anyone to wake) against none (followers=0). What a follower that
// does not wait may cost a writer is the load of the wake word in Push.
// Opening the file and starting the follower are outside the timer.
func BenchmarkFollowPush(b *testing.B) {
	for _, followers := range []int{0, 1} {
		b.Run("followers="+strconv.Itoa(followers), func(b *testing.B) {
			b.SetBytes(pushN * 24)
			b.ReportAllocs()
			path := filepath.Join(tempDir(b), "push.vec")
			for b.Loop() {
				b.StopTimer()
				v, err := Open[point](path)
				if err != nil {
					b.Fatal(err)
				}
				var c *child
				if followers > 0 {
					c = startChild(b, "followhold", "MEMVEC_PATH="+path)
					c.expect(b, "following")
				}
				coldStart(b)
				if err := pushMemvec(v, pushN); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				v.Close()
				if c != nil {
					c.release(b)
				}
				os.Remove(path)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkFollowRefresh measures what a follower's calls cost in
// themselves, in one process, beside a writer that does nothing: a Refresh
// that finds nothing new (op=refresh), and a Wait that returns at once
// because the writer has published more than it asks for (op=wait). The
// other follower benchmarks measure the same calls among the costs of two
// processes and the elements themselves.
func BenchmarkFollowRefresh(b *testing.B) {
	path := filepath.Join(tempDir(b), "refresh.vec")
	w, err := Open[point](path)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	if err := w.Append(pts(seq(1000)...)...); err != nil {
		b.Fatal(err)
	}
	f, err := Open[point](path, Follow())
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.Run("op=refresh", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.Refresh(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=wait", func(b *testing.B) {
		ctx := context.Background()
		for b.Loop() {
			if _, err := f.Wait(ctx, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// mapShared maps the file at path, made size bytes long, shared and
// writable, for a benchmark's results from several processes. The mapping
// stays until the process exits.
func mapShared(path string, size int) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return nil, err
	}
	return unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

// The wake benchmark's messages: wakeWarm first, not measured, then
// wakeN measured.
const (
	wakeWarm = 10
	wakeN    = 100
)

// wakeResults is the wake benchmark's shared memory: a count of the
// messages every follower has seen, added to as they see them, in the first
// page; then, from the second, each follower's latencies, wakeWarm+wakeN of
// them, follower after follower.
type wakeResults struct {
	seen *atomic.Uint64
	lat  []int64
}

func mapWakeResults(path string, followers int) (wakeResults, error) {
	b, err := mapShared(path, pageSize+roundUp(followers*(wakeWarm+wakeN)*8, pageSize))
	if err != nil {
		return wakeResults{}, err
	}
	return wakeResults{
		seen: (*atomic.Uint64)(unsafe.Pointer(&b[0])),
		lat:  unsafe.Slice((*int64)(unsafe.Pointer(&b[pageSize])), followers*(wakeWarm+wakeN)),
	}, nil
}

// wakeFollowerChild follows the vector of latMsg at $MEMVEC_PATH as
// follower number $MEMVEC_K of the wake benchmark, says the address of its
// wake word, and Waits for each of the wakeWarm+wakeN messages: for each,
// it stores in the results at $MEMVEC_RESULTS the time from its sending to
// the return of the Wait that saw it, and adds to the count of messages
// seen. Then it waits for its stdin to close.
func wakeFollowerChild() {
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	k, err := strconv.Atoi(os.Getenv("MEMVEC_K"))
	if err != nil {
		fail(err)
	}
	followers, err := strconv.Atoi(os.Getenv("MEMVEC_FOLLOWERS"))
	if err != nil {
		fail(err)
	}
	res, err := mapWakeResults(os.Getenv("MEMVEC_RESULTS"), followers)
	if err != nil {
		fail(err)
	}
	f, err := Open[latMsg](os.Getenv("MEMVEC_PATH"), Follow())
	if err != nil {
		fail(err)
	}
	fmt.Printf("%#x\n", uintptr(unsafe.Pointer(f.mem.(*File).wakeWord())))
	lat := res.lat[k*(wakeWarm+wakeN) : (k+1)*(wakeWarm+wakeN)]
	ctx := context.Background()
	for n := 0; n < len(lat); {
		m, err := f.Wait(ctx, n)
		now := monotonic()
		if err != nil {
			fail(err)
		}
		for i, x := range f.Slice()[n:m] {
			if x.Seq != uint64(n+i) {
				fail(fmt.Errorf("message %d is numbered %d", n+i, x.Seq))
			}
			lat[n+i] = now - x.Sent
		}
		res.seen.Add(uint64(m - n))
		n = m
	}
	io.Copy(io.Discard, os.Stdin)
	if err := f.Close(); err != nil {
		fail(err)
	}
}

// BenchmarkFollowWake measures what the followers sleeping in Wait cost the
// writer's Push that wakes them, and how long the first and the last of
// them take to see it, with 1, 10 and 100 follower processes. The writer
// (this process) sends one message at a time: it waits until every follower
// has seen the last one and sleeps on the wake word (as /proc shows), then
// pushes the next, carrying the time it was sent. Reported, medians of the
// wakeN messages of every run b.Loop makes: push-ns, the time the Push call
// took; push-cpu-ns, the CPU time of the writer's thread in it; first-ns
// and last-ns, the time from the sending to the return of the Wait that saw
// the message in the first and in the last follower to see it; last-p99-ns,
// the 99th percentile of the last. ns/op is a run's time and means nothing.
func BenchmarkFollowWake(b *testing.B) {
	checkMonotonic(b)
	for _, followers := range []int{1, 10, 100} {
		b.Run("sleepers="+strconv.Itoa(followers), func(b *testing.B) {
			var push, cpu, first, last []int64
			for b.Loop() {
				r := wakeRun(b, followers)
				push, cpu = append(push, r.push...), append(cpu, r.cpu...)
				first, last = append(first, r.first...), append(last, r.last...)
			}
			for _, s := range [][]int64{push, cpu, first, last} {
				slices.Sort(s)
			}
			b.ReportMetric(float64(push[len(push)/2]), "push-ns")
			b.ReportMetric(float64(cpu[len(cpu)/2]), "push-cpu-ns")
			b.ReportMetric(float64(first[len(first)/2]), "first-ns")
			b.ReportMetric(float64(last[len(last)/2]), "last-ns")
			b.ReportMetric(float64(last[len(last)*99/100]), "last-p99-ns")
		})
	}
}

// awaitSeen returns once the followers' count of messages seen reaches n,
// and fails b if it does not within a minute: a follower that a Push did
// not wake.
func awaitSeen(b *testing.B, seen *atomic.Uint64, n int) {
	deadline := time.Now().Add(time.Minute)
	for seen.Load() < uint64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("the followers saw %d messages of %d in a minute: a Push did not wake them all", seen.Load(), n)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// wakeTimes are the measures of one run of BenchmarkFollowWake, one of
// each per message.
type wakeTimes struct {
	push, cpu, first, last []int64
}

// wakeRun runs BenchmarkFollowWake once with the given number of followers.
func wakeRun(b *testing.B, followers int) wakeTimes {
	b.StopTimer()
	defer b.StartTimer()
	dir := tempDir(b)
	path, resPath := filepath.Join(dir, "wake.vec"), filepath.Join(dir, "results")
	res, err := mapWakeResults(resPath, followers)
	if err != nil {
		b.Fatal(err)
	}
	v, err := Open[latMsg](path)
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	type sleeper struct {
		pid  int
		addr uintptr
	}
	var cs []*child
	var sleepers []sleeper
	for k := range followers {
		c := startChild(b, "wakefollow", "MEMVEC_PATH="+path, "MEMVEC_RESULTS="+resPath,
			"MEMVEC_K="+strconv.Itoa(k), "MEMVEC_FOLLOWERS="+strconv.Itoa(followers))
		if !c.lines.Scan() {
			b.Fatalf("follower %d ended: %v", k, c.lines.Err())
		}
		addr, err := strconv.ParseUint(strings.TrimPrefix(c.lines.Text(), "0x"), 16, 64)
		if err != nil {
			b.Fatalf("follower %d: %s", k, c.lines.Text())
		}
		cs = append(cs, c)
		sleepers = append(sleepers, sleeper{c.cmd.Process.Pid, uintptr(addr)})
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var t wakeTimes
	for i := range wakeWarm + wakeN {
		awaitSeen(b, res.seen, followers*i)
		for _, s := range sleepers {
			awaitSleeper(b, s.pid, s.addr)
		}
		c0 := int64(threadCPU())
		t0 := monotonic()
		if err := v.Push(latMsg{Seq: uint64(i), Sent: t0}); err != nil {
			b.Fatal(err)
		}
		t1 := monotonic()
		c1 := int64(threadCPU())
		if c0 < 0 || c1 < 0 {
			b.Fatal("the thread's CPU clock (CLOCK_THREAD_CPUTIME_ID) cannot be read")
		}
		if i >= wakeWarm {
			t.push, t.cpu = append(t.push, t1-t0), append(t.cpu, c1-c0)
		}
	}
	awaitSeen(b, res.seen, followers*(wakeWarm+wakeN))
	for _, c := range cs {
		c.release(b)
	}
	for i := wakeWarm; i < wakeWarm+wakeN; i++ {
		lo, hi := int64(math.MaxInt64), int64(0)
		for k := range followers {
			l := res.lat[k*(wakeWarm+wakeN)+i]
			lo, hi = min(lo, l), max(hi, l)
		}
		t.first, t.last = append(t.first, lo), append(t.last, hi)
	}
	return t
}
