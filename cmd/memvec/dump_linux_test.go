package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memvec/memvec"
	"github.com/stretchr/testify/require"
)

// pageElem is an element a page long whose only field is its first byte:
// dump reads one byte of each page, which maps the whole page.
type pageElem struct {
	A uint8
	_ [4095]byte
}

// TestDumpResidentMemoryStaysFlat: dump of a 256 MiB file, with and
// without -follow, with no writer and beside a live writer that maps every
// page too, keeps the process's peak resident memory far below the file's
// size: the pages it has read leave its memory (Raw.DontNeed) a window at a
// time. Without that, every page read stays mapped and the peak passes 256
// MiB; with MADV_PAGEOUT for a read-only view, as for a writer's, the pages
// the writer maps stay too.
func TestDumpResidentMemoryStaysFlat(t *testing.T) {
	const n = 64 << 10 // elements: 256 MiB
	path := filepath.Join(tempDir(t), "pages.vec")
	// The files are written by other processes, as a writer that stays
	// live must be.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := exec.CommandContext(ctx, os.Args[0])
	w.Env = append(os.Environ(), writePagesEnv+"="+path)
	out, err := w.CombinedOutput()
	require.NoError(t, err, "writing %s: %s", path, out)

	check := func(args []string) {
		peak := commandPeak(t, ctx, args...)
		require.Less(t, peak, int64(64<<20), "memvec %v: peak resident memory %d MiB for a 256 MiB file", args, peak>>20)
	}
	check([]string{"dump", path})
	check([]string{"dump", "-follow", "-to", strconv.Itoa(n), path})

	// Beside a live writer, which maps every page too: dump reads the
	// file as a follower, and its pages must leave its memory all the
	// same.
	live := filepath.Join(filepath.Dir(path), "live.vec")
	w = exec.CommandContext(ctx, os.Args[0])
	w.Env = append(os.Environ(), writePagesEnv+"="+live, holdEnv+"=1")
	w.Stderr = os.Stderr
	stdin, err := w.StdinPipe()
	require.NoError(t, err)
	stdout, err := w.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, w.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "written\n", line)
	check([]string{"dump", live})
	check([]string{"dump", "-follow", "-to", strconv.Itoa(n), live})
	require.NoError(t, stdin.Close())
	require.NoError(t, w.Wait())
}

// commandPeak runs the memvec command with args, its standard output
// thrown away, and returns its peak resident memory (VmHWM) in bytes.
func commandPeak(t *testing.T, ctx context.Context, args ...string) int64 {
	t.Helper()
	cmd := memvecCmd(t, ctx, args...)
	hwm := filepath.Join(t.TempDir(), "hwm")
	cmd.Env = append(cmd.Env, hwmEnv+"="+hwm)
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = null, os.Stderr
	err = cmd.Run()
	null.Close()
	require.NoError(t, err, "memvec %v", args)
	b, err := os.ReadFile(hwm)
	require.NoError(t, err, "the command's peak resident memory")
	peak, err := strconv.ParseInt(string(b), 10, 64)
	require.NoError(t, err)
	t.Logf("memvec %v: peak resident memory %d MiB", args, peak>>20)
	return peak
}

// TestMapCommandsResidentMemoryStaysFlat: check, dump and export of
// a map file of over 300 MiB keep the command's peak resident memory far
// below the file's size: RawMap gives the pages it has read back to the
// system every 8 MiB of buckets. Without that, every page read stays
// mapped, and the peak grows with the file (375 MiB for check here).
//
// Not under the race detector (CI's race step): its shadow memory of the
// command's heap is in the resident memory measured (export peaked at 464
// MiB there). CI's main step runs it.
func TestMapCommandsResidentMemoryStaysFlat(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory is in the resident memory measured; the test runs without it")
	}
	path := filepath.Join(tempDir(t), "big.map")
	m, err := memvec.OpenMap[uint64, [15]uint64](path)
	require.NoError(t, err)
	const n = 700_000
	for i := range uint64(n) {
		require.NoError(t, m.Put(i, [15]uint64{i, i * i}))
	}
	require.NoError(t, m.Close())
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(300<<20), "the map file's size")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for _, args := range [][]string{{"check", path}, {"dump", path}} {
		peak := commandPeak(t, ctx, args...)
		require.Less(t, peak, int64(96<<20), "memvec %v: peak resident memory %d MiB for a %d MiB map file", args, peak>>20, st.Size()>>20)
	}
	// export holds a batch of rows (about 32 MiB) and its encoder's
	// buffers besides, as for a vector (about 100 MiB in all).
	args := []string{"export", "-format", "parquet", "-o", filepath.Join(filepath.Dir(path), "out.parquet"), path}
	peak := commandPeak(t, ctx, args...)
	require.Less(t, peak, int64(200<<20), "memvec %v: peak resident memory %d MiB for a %d MiB map file", args, peak>>20, st.Size()>>20)
}

// holdEnv makes the writing child stay the file's writer until its
// standard input closes.
const holdEnv = "MEMVEC_TEST_HOLD"

// hwmEnv names the environment variable that makes the test binary, run
// as the memvec command, write its peak resident memory in bytes to the
// file it names before it exits: VmHWM, the high-water mark of this
// process's own memory. (Its rusage would not do: a child's ru_maxrss
// starts from the memory it had before its exec, which for a child of a Go
// program, forked with CLONE_VM, is its parent's.)
const hwmEnv = "MEMVEC_TEST_HWM"

// writePagesEnv names the environment variable that makes the test binary
// write n pageElems to the file it names, Sync and exit.
const writePagesEnv = "MEMVEC_TEST_WRITE_PAGES"

func init() {
	if hwm := os.Getenv(hwmEnv); hwm != "" && os.Getenv(asCommand) == "1" {
		code := run(os.Args[1:], os.Stdout, os.Stderr)
		if err := writeHWM(hwm); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(code)
	}
	path := os.Getenv(writePagesEnv)
	if path == "" {
		return
	}
	const n = 64 << 10
	err := func() error {
		v, err := memvec.Open[pageElem](path)
		if err != nil {
			return err
		}
		defer v.Close()
		if err := v.Grow(n); err != nil {
			return err
		}
		for i := range n {
			if err := v.Push(pageElem{A: uint8(i)}); err != nil {
				return err
			}
		}
		// Written back: the kernel does not take a page that is being
		// written back from a process.
		if err := v.Sync(); err != nil {
			return err
		}
		if os.Getenv(holdEnv) == "1" {
			// Stay the file's writer, its pages mapped, until the
			// test closes standard input.
			fmt.Println("written")
			io.Copy(io.Discard, os.Stdin)
		}
		return v.Close()
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// writeHWM writes this process's peak resident memory (VmHWM), in bytes,
// to the file hwm.
func writeHWM(hwm string) error {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	for line := range strings.Lines(string(status)) {
		if kib, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(kib), " kB"), 10, 64)
			if err != nil {
				return fmt.Errorf("VmHWM: %w", err)
			}
			return os.WriteFile(hwm, []byte(strconv.FormatInt(n<<10, 10)), 0o600)
		}
	}
	return fmt.Errorf("no VmHWM in /proc/self/status")
}
