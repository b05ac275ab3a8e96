package memvec

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/memvec/memvec/internal/region"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func init() {
	children["mapfresh"] = mapFreshChild
	children["cycleunderlimit"] = cycleUnderLimitChild
}

// limitAddressSpace sets the process's RLIMIT_AS from $MEMVEC_AS_LIMIT: a
// number of bytes, or "+n" for n bytes more than the process maps now. It
// does nothing if the variable is unset.
func limitAddressSpace() {
	s := os.Getenv("MEMVEC_AS_LIMIT")
	if s == "" {
		return
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 64)
	if err == nil && strings.HasPrefix(s, "+") {
		var size uint64
		size, err = mappedBytes()
		n += size
	}
	if err == nil {
		err = unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: n, Max: n})
	}
	if err != nil {
		fmt.Println("limit the address space:", err)
		os.Exit(childFailed)
	}
}

// mappedBytes returns the address space the process maps (VmSize): what
// RLIMIT_AS limits.
func mappedBytes() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if kb, ok := strings.CutPrefix(s.Text(), "VmSize:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(kb, "kB")), 10, 64)
			return n << 10, err
		}
	}
	return 0, fmt.Errorf("no VmSize in /proc/self/status")
}

// mapFreshChild has four goroutines map fresh pages (mmap, never at a fixed
// address), write them, check them and unmap them, over and over, while
// anonymous memory with the Reserve of $MEMVEC_RESERVE (the default if
// unset) grows from a page to 1 MiB again and again, until its region has
// moved $MEMVEC_MOVES times, each move checked to carry the bytes over. A
// move that mapped over a range another goroutine had just been given
// would kill the process with SIGSEGV on that goroutine's page. It prints
// "moved N" and exits 0.
func mapFreshChild() {
	limitAddressSpace()
	moves, _ := strconv.Atoi(os.Getenv("MEMVEC_MOVES"))
	var opts []Option
	if s := os.Getenv("MEMVEC_RESERVE"); s != "" {
		n, _ := strconv.Atoi(s)
		opts = append(opts, Reserve(n))
	}
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(childFailed)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mark := byte(g + 1)
			for n := 1; !stop.Load(); n = n%16 + 1 {
				b, err := unix.Mmap(-1, 0, n*pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
				if err == unix.ENOMEM {
					continue // the limit on address space, reached for a moment
				}
				if err != nil {
					fail("mmap: %v", err)
				}
				for i := 0; i < len(b); i += pageSize {
					b[i] = mark
				}
				for i := 0; i < len(b); i += pageSize {
					if b[i] != mark {
						fail("goroutine %d's fresh page %d reads %d", g, i/pageSize, b[i])
					}
				}
				if err := unix.Munmap(b); err != nil {
					fail("munmap: %v", err)
				}
			}
		}()
	}
	moved := 0
	for moved < moves {
		cycleStart := moved
		a, err := NewAnon(0, opts...)
		if err != nil {
			fail("%v", err)
		}
		for size := pageSize; size <= 1<<20 && moved < moves; size *= 2 {
			before := unsafe.SliceData(a.Bytes())
			if err := a.Resize(size); err != nil {
				fail("%v", err)
			}
			b := a.Bytes()
			for i := 0; i < size/2; i += pageSize {
				if b[i] != byte(i/pageSize) {
					fail("page %d of %d bytes reads %d after growth to %d", i/pageSize, size/2, b[i], size)
				}
			}
			for i := size / 2; i < size; i += pageSize {
				b[i] = byte(i / pageSize)
			}
			if before != nil && unsafe.SliceData(b) != before {
				moved++
			}
		}
		reserved := a.Reserved()
		if err := a.Close(); err != nil {
			fail("%v", err)
		}
		if moved == cycleStart {
			fail("growth to 1 MiB moved nothing: the reservation is %d bytes", reserved)
		}
	}
	stop.Store(true)
	wg.Wait()
	fmt.Println("moved", moved)
}

// runChildRole runs the test binary as role with the extra environment,
// and returns its stdout once it has exited, requiring it to have exited 0:
// a SIGSEGV, which kills it, fails the test instead of the test binary.
func runChildRole(t *testing.T, role string, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + role}, env...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "the child failed: %s\n%s", stdout.String(), firstLines(stderr.String(), 30))
	return stdout.String()
}

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitAfterN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "")
}

// TestMoveLeavesOtherMappingsAlone: growth past the reservation moves the
// region without ever mapping over a range that another goroutine has been
// given meanwhile. Other goroutines map fresh pages all the while (the
// kernel hands out the most recently freed ranges first); the process must
// live through thousands of moves, with a small reservation, and with the
// default one under a limit on address space, where every growth moves.
func TestMoveLeavesOtherMappingsAlone(t *testing.T) {
	// Without the care moveAnonPages takes, 300 moves killed the process
	// 10 times in 10 (with either reservation).
	moves := 500
	if testing.Short() {
		moves = 300
	}
	t.Run("Reserve64KiB", func(t *testing.T) {
		out := runChildRole(t, "mapfresh", "MEMVEC_RESERVE=65536", "MEMVEC_MOVES="+strconv.Itoa(moves))
		require.Equal(t, fmt.Sprintf("moved %d\n", moves), out)
	})
	t.Run("RLIMIT_AS", func(t *testing.T) {
		// 128 MiB more than the process maps: not enough for the default
		// reservation (64 GiB, or 256 MiB on 32-bit platforms). One P: each
		// thread the runtime starts takes address space for its stack, and
		// under that limit a busy machine's extra threads made the child's
		// pthread_create fail ("Resource temporarily unavailable") twice
		// in full runs, never alone.
		out := runChildRole(t, "mapfresh", "GOMAXPROCS=1", "MEMVEC_AS_LIMIT=+134217728", "MEMVEC_MOVES="+strconv.Itoa(moves))
		require.Equal(t, fmt.Sprintf("moved %d\n", moves), out)
	})
}

// cycleUnderLimitChild sets RLIMIT_AS from $MEMVEC_AS_LIMIT, then makes an
// anonymous vector and opens a file vector in $MEMVEC_DIR, fills them to
// 32 MiB and 8 MiB with default options (so every growth moves: the default
// reservation does not fit under the limit), and closes them, 20 times. It
// prints the quarantine's bytes and its limit after each cycle.
func cycleUnderLimitChild() {
	limitAddressSpace()
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(childFailed)
	}
	for cycle := range 20 {
		a, err := Make[int64](0)
		if err != nil {
			fail("cycle %d: %v", cycle, err)
		}
		for i := range 32 << 20 / 8 {
			if err := a.Push(int64(i)); err != nil {
				fail("cycle %d: push %d: %v", cycle, i, err)
			}
		}
		f, err := Open[int64](filepath.Join(os.Getenv("MEMVEC_DIR"), "v"+strconv.Itoa(cycle)))
		if err != nil {
			fail("cycle %d: %v", cycle, err)
		}
		for i := range 8 << 20 / 8 {
			if err := f.Push(int64(i)); err != nil {
				fail("cycle %d: push %d to a file: %v", cycle, i, err)
			}
		}
		if a.Index(a.Len()-1) != int64(a.Len()-1) || f.Index(f.Len()-1) != int64(f.Len()-1) {
			fail("cycle %d: the last elements were lost", cycle)
		}
		if err := a.Close(); err != nil {
			fail("cycle %d: %v", cycle, err)
		}
		if err := f.Close(); err != nil {
			fail("cycle %d: %v", cycle, err)
		}
		fmt.Println(region.QuarantineHeld())
	}
}

// TestQuarantineUnderAddressSpaceLimit: under RLIMIT_AS (ulimit -v), retired
// address space counts against the limit. Opening, filling and closing
// vectors one at a time, 20 times, must never run out: the quarantine
// keeps at most an eighth of the limit, and a mapping that fails for want
// of address space drains it and tries again. Once with the limit at
// 2 GiB, and once with it 256 MiB above what the process maps (384 MiB on
// 32-bit platforms), where the quarantine's share alone would not leave
// room.
func TestQuarantineUnderAddressSpaceLimit(t *testing.T) {
	// 256 MiB of room, and on 32-bit platforms 128 MiB more, since an
	// Anon there takes all of DefaultReserve (256 MiB) if it fits.
	room := 256<<20 + 128<<20*(1-strconv.IntSize/64)
	for _, limit := range []string{"2147483648", "+" + strconv.Itoa(room)} {
		t.Run("RLIMIT_AS="+limit, func(t *testing.T) {
			// One P, as for TestMoveLeavesOtherMappingsAlone: fewer
			// threads, whose stacks take address space under the limit.
			out := runChildRole(t, "cycleunderlimit", "GOMAXPROCS=1", "MEMVEC_AS_LIMIT="+limit, "MEMVEC_DIR="+tempDir(t))
			lines := strings.Split(strings.TrimSpace(out), "\n")
			require.Len(t, lines, 20, out)
			for _, l := range lines {
				var held, most int
				_, err := fmt.Sscan(l, &held, &most)
				require.NoError(t, err, l)
				require.LessOrEqual(t, held, most, "the quarantine outgrew its limit")
				require.Less(t, most, region.QuarantineBytes, "the quarantine's limit does not follow RLIMIT_AS")
			}
		})
	}
}
