//go:build unix || windows

package memvec

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func init() {
	children["pushbytes"] = pushBytesChild
}

// pushBytesChild opens the Bytes at $MEMVEC_PATH and pushes record(i), of
// a length from 0 to about 300 bytes, for i from its length on, forever,
// mixing Push and Append. After each call returns it writes the new
// length to stdout, unbuffered: every length it reports was pushed before.
func pushBytesChild() {
	b, err := OpenBytes(os.Getenv("MEMVEC_PATH"))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
	var batch [][]byte
	for n := b.Len(); ; {
		if r.IntN(10) == 0 {
			batch = batch[:0]
			for k := range 1 + r.IntN(maxCrashBatch) {
				batch = append(batch, record(n+k))
			}
			err = b.Append(batch...)
			n += len(batch)
		} else {
			err = b.Push(record(n))
			n++
		}
		if err != nil {
			fmt.Println(err)
			os.Exit(childFailed)
		}
		os.Stdout.WriteString(strconv.Itoa(n) + "\n")
	}
}

// TestBytesKillNine: a writer of records of random lengths, killed at
// random moments, never leaves a counted record that was not written
// whole, and loses none whose Push or Append returned.
func TestBytesKillNine(t *testing.T) {
	trials := 30
	if testing.Short() {
		trials = 6
	}
	path := bytesPath(t)
	r := rand.New(rand.NewPCG(rand.Uint64(), 2))
	checked := 0
	for trial := range trials {
		c := startChild(t, "pushbytes", "MEMVEC_PATH="+path)
		// Kill after a random number of reports, log-uniform from 1 to
		// about 30,000 (see TestKillNineNeverLosesReportedPushes).
		target := uint64(1) << r.IntN(15)
		target += r.Uint64N(target)
		count, complaint := c.killAfterReports(t, parseCount, target)
		reported := int(count)
		require.Empty(t, complaint, "trial %d: the child failed", trial)
		require.NotZero(t, reported, "trial %d: the child reported nothing", trial)

		b, err := OpenBytes(path, LockTimeout(killedLockWait))
		require.NoError(t, err, "trial %d", trial)
		n := b.Len()
		require.GreaterOrEqual(t, n, reported, "trial %d: reported pushes lost", trial)
		require.LessOrEqual(t, n, reported+maxCrashBatch, "trial %d: the length counts more than the child pushed", trial)
		require.NoError(t, b.Check(), "trial %d", trial)
		var size int64
		for i, p := range b.All() {
			if !slices.Equal(p, record(i)) {
				require.Failf(t, "torn record", "trial %d: record %d of %d is %x, want %x", trial, i, n, p, record(i))
			}
			size += int64(len(p))
		}
		require.Equal(t, size, b.Size())
		checked += n
		require.NoError(t, b.Close())
	}
	t.Logf("%d trials, %d records checked in all", trials, checked)
}

func init() {
	children["pushbytesstep"] = pushBytesStepChild
}

// pushBytesStepChild opens the Bytes at $MEMVEC_PATH, pushes records up to
// $MEMVEC_N (record(i) at i), and kills itself inside the next Push (or
// Append of 5 records, or PushFunc, as $MEMVEC_HOW says) at step
// $MEMVEC_STEP: 1 after the bytes, 2 after the offsets, 3 after the length
// (see pushStep).
func pushBytesStepChild() {
	b, err := OpenBytes(os.Getenv("MEMVEC_PATH"))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	step, _ := strconv.Atoi(os.Getenv("MEMVEC_STEP"))
	for i := b.Len(); i < n; i++ {
		if err := b.Push(record(i)); err != nil {
			fmt.Println(err)
			os.Exit(childFailed)
		}
	}
	steps := 0
	pushStep = func() {
		if steps++; steps == step {
			self, _ := os.FindProcess(os.Getpid())
			self.Kill()
			select {} // the kill lands
		}
	}
	switch os.Getenv("MEMVEC_HOW") {
	case "append":
		err = b.Append(record(n), record(n+1), record(n+2), record(n+3), record(n+4))
	case "pushfunc":
		err = b.PushFunc(func(buf []byte) ([]byte, error) { return append(buf, record(n)...), nil })
	default:
		err = b.Push(record(n))
	}
	fmt.Println("not killed:", err)
	os.Exit(childFailed)
}

// TestBytesKilledAtEveryStep: a writer killed after each step of a Push,
// an Append or a PushFunc (the bytes, the offsets, the length) leaves the
// records before it whole, and the new ones counted only once all of them
// are written.
func TestBytesKilledAtEveryStep(t *testing.T) {
	for _, how := range []string{"push", "append", "pushfunc"} {
		for step := 1; step <= 3; step++ {
			t.Run(fmt.Sprintf("%s/step=%d", how, step), func(t *testing.T) {
				require.NotEmpty(t, record(100), "the record the kill interrupts must show if torn")
				path := bytesPath(t)
				env := []string{"MEMVEC_PATH=" + path, "MEMVEC_N=100", "MEMVEC_STEP=" + strconv.Itoa(step), "MEMVEC_HOW=" + how}
				c := startChild(t, "pushbytesstep", env...)
				for c.lines.Scan() {
					t.Errorf("the child said %q", c.lines.Text())
				}
				requireKilled(t, c.cmd.Wait())
				b := openBytes(t, path, LockTimeout(killedLockWait))
				want := 100
				if step == 3 {
					want = map[string]int{"push": 101, "append": 105, "pushfunc": 101}[how]
				}
				require.Equal(t, want, b.Len())
				for i, p := range b.All() {
					require.Equal(t, record(i), p, "record %d", i)
				}
			})
		}
	}
}
