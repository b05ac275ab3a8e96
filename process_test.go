//go:build unix || windows

package memvec

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/memvec/memvec/internal/region"
	"github.com/stretchr/testify/require"
)

// child is a running copy of the test binary in a child role.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
}

// startChild runs the test binary as role with the extra environment. Its
// stdin stays open until release, its stdout is read line by line, and it is
// killed when the test ends if still running.
func startChild(t testing.TB, role string, env ...string) *child {
	t.Helper()
	return startChildFiles(t, role, nil, env...)
}

// startChildFiles is startChild with files the child inherits as
// descriptors 3, 4, ... (exec.Cmd.ExtraFiles).
func startChildFiles(t testing.TB, role string, files []*os.File, env ...string) *child {
	t.Helper()
	var cmd *exec.Cmd
	var stdin io.WriteCloser
	var stdout io.ReadCloser
	for try := 1; ; try++ {
		cmd = exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + role}, env...)...)
		cmd.Stderr = os.Stderr
		cmd.ExtraFiles = files
		var err error
		stdin, err = cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err = cmd.StdoutPipe()
		require.NoError(t, err)
		err = cmd.Start()
		if err == nil {
			break
		}
		stdin.Close()
		stdout.Close()
		if try == 5 || !spuriousStartError(err) {
			require.NoError(t, err, "starting child %s (try %d)", role, try)
		}
		t.Logf("starting child %s (try %d): %v; again", role, try, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return &child{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout)}
}

// expect reads the child's next line and requires it to be want.
func (c *child) expect(t testing.TB, want string) {
	t.Helper()
	require.True(t, c.lines.Scan(), "child ended before saying %q: %v", want, c.lines.Err())
	require.Equal(t, want, c.lines.Text())
}

// release closes the child's stdin, which tells a holder to close its vector
// and exit, and waits for it to exit cleanly.
func (c *child) release(t testing.TB) {
	t.Helper()
	require.NoError(t, c.stdin.Close())
	require.NoError(t, c.cmd.Wait())
}

// kill kills the child, which ends it at once without running any code of
// its own (SIGKILL on Unix, TerminateProcess on Windows), and waits for it.
// Whoever reads its output must have read to the end (the pipe closes when
// the child dies) before kill returns, since Wait closes the pipe: pass
// drained to wait for that reader.
func (c *child) kill(t *testing.T, drained <-chan struct{}) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Kill())
	if drained != nil {
		<-drained
	}
	requireKilled(t, c.cmd.Wait())
}

// killAfterReports reads c's reports, a count a line that parse reads, and
// kills c once the count has grown by target since its first report (or
// once c stops reporting). The reader drains the pipe to its end, so that
// the child is never blocked writing when the kill lands: it is in the
// middle of its work. It returns the last count reported, and the line
// that ended the reports if parse could not read it (the child failed).
func (c *child) killAfterReports(t *testing.T, parse func(line string) (uint64, error), target uint64) (reported uint64, complaint string) {
	t.Helper()
	reached, drained := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(drained)
		var first uint64
		pending := reached // closed once the target is reached
		for c.lines.Scan() {
			n, err := parse(c.lines.Text())
			if err != nil {
				complaint = c.lines.Text()
				break
			}
			if first == 0 {
				first = n
			}
			if reported = n; pending != nil && n-first+1 >= target {
				close(pending)
				pending = nil
			}
		}
		if pending != nil {
			close(pending)
		}
	}()
	<-reached
	c.kill(t, drained)
	return reported, complaint
}

// parseCount reads a report that is a count alone.
func parseCount(line string) (uint64, error) { return strconv.ParseUint(line, 10, 64) }

// childFailed is the exit status of a child role that fails, told apart
// from the status a killed child has.
const childFailed = 3

func init() {
	children["hold"] = holdChild
	children["push"] = pushChild
}

// holdChild opens the vector at $MEMVEC_PATH (read-only if $MEMVEC_RO is
// set), says "locked", and holds it until its stdin is closed.
func holdChild() {
	var opts []Option
	if os.Getenv("MEMVEC_RO") != "" {
		opts = append(opts, ReadOnly())
	}
	v, err := Open[point](os.Getenv("MEMVEC_PATH"), opts...)
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	if err := v.Close(); err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
}

// crashRec is the crash test's element: 64 bytes, all derived from its
// index, so that a torn or missing write shows.
type crashRec struct {
	I    uint64
	Data [6]uint64
	Sum  uint64
}

func makeCrashRec(i uint64) crashRec {
	r := crashRec{I: i}
	for k := range r.Data {
		r.Data[k] = i*0x9E3779B97F4A7C15 + uint64(k)
		r.Sum ^= r.Data[k]
	}
	return r
}

// pushChild opens the vector at $MEMVEC_PATH and pushes makeCrashRec(i) for
// i from its length on, forever, mixing Push and Append. After each call
// returns it writes the new length to stdout, unbuffered: every length it
// reports was pushed before.
func pushChild() {
	v, err := Open[crashRec](os.Getenv("MEMVEC_PATH"))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
	var batch []crashRec
	for n := uint64(v.Len()); ; {
		if r.IntN(10) == 0 {
			batch = batch[:0]
			for k := range 1 + r.IntN(maxCrashBatch) {
				batch = append(batch, makeCrashRec(n+uint64(k)))
			}
			err = v.Append(batch...)
			n += uint64(len(batch))
		} else {
			err = v.Push(makeCrashRec(n))
			n++
		}
		if err != nil {
			fmt.Println(err)
			os.Exit(childFailed)
		}
		os.Stdout.WriteString(strconv.FormatUint(n, 10) + "\n")
	}
}

// maxCrashBatch bounds an Append in pushChild: the most the length can be
// ahead of what the child last reported.
const maxCrashBatch = 100

// TestKillNineNeverLosesReportedPushes kills a pushing child (kill -9 on
// Unix, TerminateProcess on Windows) at random moments, many times over one
// file, and after every kill requires that the file holds every element the
// child reported pushed, that every element it counts is intact, and that it
// counts no element the child did not push. The file grows across the
// trials, so kills land during growth (fallocate, remap) too.
func TestKillNineNeverLosesReportedPushes(t *testing.T) {
	trials := 40
	if testing.Short() {
		trials = 8
	}
	path := vecPath(t)
	r := rand.New(rand.NewPCG(rand.Uint64(), 2))
	checked := 0
	for trial := range trials {
		c := startChild(t, "push", "MEMVEC_PATH="+path)
		// Kill after a random number of reports, log-uniform from 1 to
		// about 60,000, so that early and late moments both occur.
		target := uint64(1) << r.IntN(16)
		target += r.Uint64N(target)
		reported, complaint := c.killAfterReports(t, parseCount, target)
		require.Empty(t, complaint, "trial %d: the child failed", trial)
		require.NotZero(t, reported, "trial %d: the child reported nothing", trial)

		v, err := Open[crashRec](path, LockTimeout(killedLockWait))
		require.NoError(t, err, "trial %d", trial)
		n := uint64(v.Len())
		require.GreaterOrEqual(t, n, reported, "trial %d: reported pushes lost", trial)
		require.LessOrEqual(t, n, reported+maxCrashBatch, "trial %d: the length counts more than the child pushed", trial)
		for i, x := range v.All() {
			if x != makeCrashRec(uint64(i)) {
				require.Failf(t, "torn element", "trial %d: element %d of %d is %+v", trial, i, n, x)
			}
		}
		checked += int(n)
		require.NoError(t, v.Close())
	}
	t.Logf("%d trials, %d elements checked in all", trials, checked)
}

// TestLockExcludesSecondOpenInProcess: the lock belongs to the open file
// (flock) or handle (LockFileEx), so a second open in the same process is
// refused like another process's.
func TestLockExcludesSecondOpenInProcess(t *testing.T) {
	path := vecPath(t)
	v := openVec[point](t, path)
	_, err := Open[point](path)
	require.ErrorIs(t, err, ErrLocked)
	require.ErrorContains(t, err, path)
	_, err = Open[point](path, ReadOnly())
	require.ErrorIs(t, err, ErrLocked, "a reader must not open beside a writer")
	require.NoError(t, v.Close())
	w, err := Open[point](path)
	require.NoError(t, err, "Close must release the lock")
	require.NoError(t, w.Close())
}

// TestReadersShareExcludingWriters: any number of ReadOnly opens share the
// lock, and a writer is refused while one is open.
func TestReadersShareExcludingWriters(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Push(pt(1)))
	require.NoError(t, w.Close())

	r1 := openVec[point](t, path, ReadOnly())
	r2 := openVec[point](t, path, ReadOnly())
	require.Equal(t, pts(1), r1.Slice())
	require.Equal(t, pts(1), r2.Slice())
	_, err := Open[point](path)
	require.ErrorIs(t, err, ErrLocked)

	c := startChild(t, "hold", "MEMVEC_PATH="+path, "MEMVEC_RO=1")
	c.expect(t, "locked") // a reader in another process shares too
	c.release(t)
}

// TestLockExcludesOtherProcess: a writer in another process keeps both
// writers and readers out until it closes.
func TestLockExcludesOtherProcess(t *testing.T) {
	path := vecPath(t)
	c := startChild(t, "hold", "MEMVEC_PATH="+path)
	c.expect(t, "locked")
	_, err := Open[point](path)
	require.ErrorIs(t, err, ErrLocked)
	_, err = Open[point](path, ReadOnly())
	require.ErrorIs(t, err, ErrLocked)
	c.release(t)
	openVec[point](t, path)
}

// TestLockReleasedWhenHolderKilled: the kernel drops the lock of a process
// that dies without closing anything (on Windows, within killedLockWait).
func TestLockReleasedWhenHolderKilled(t *testing.T) {
	path := vecPath(t)
	c := startChild(t, "hold", "MEMVEC_PATH="+path)
	c.expect(t, "locked")
	_, err := Open[point](path)
	require.ErrorIs(t, err, ErrLocked)
	c.kill(t, nil)
	openVec[point](t, path, LockTimeout(killedLockWait))
}

// TestLockDefaultFailsAtOnce: without LockTimeout, an open of a held file
// tries once and fails; it never waits.
func TestLockDefaultFailsAtOnce(t *testing.T) {
	path := vecPath(t)
	openVec[point](t, path)
	attempts := 0
	region.LockPolled = func() { attempts++ }
	defer func() { region.LockPolled = nil }()
	_, err := Open[point](path)
	require.ErrorIs(t, err, ErrLocked)
	require.Equal(t, 1, attempts)
}

// TestLockTimeoutExpires: with LockTimeout(d), an open of a file that stays
// held fails with ErrLocked after waiting at least d.
func TestLockTimeoutExpires(t *testing.T) {
	path := vecPath(t)
	openVec[point](t, path)
	const d = 150 * time.Millisecond
	start := time.Now()
	_, err := Open[point](path, LockTimeout(d))
	require.ErrorIs(t, err, ErrLocked)
	require.GreaterOrEqual(t, time.Since(start), d)
}

// TestLockTimeoutWaitsForRelease: a writer with a LockTimeout that finds the
// file held by another process keeps polling, and gets the lock once the
// holder releases it. The holder is released only after the waiter has
// found the lock held, so the wait is real, not a race won.
func TestLockTimeoutWaitsForRelease(t *testing.T) {
	path := vecPath(t)
	c := startChild(t, "hold", "MEMVEC_PATH="+path)
	c.expect(t, "locked")

	refused := lockPolls(t)
	done := make(chan error, 1)
	go func() {
		v, err := Open[point](path, LockTimeout(time.Minute))
		if err == nil {
			err = v.Close()
		}
		done <- err
	}()
	<-refused
	c.release(t)
	require.NoError(t, <-done)
}

// renameOverOpenFile says whether a file can be renamed over while a
// handle has it open: on Unix it can; on Windows not, since memvec's
// handles do not share the file for deletion (see Migrate).
const renameOverOpenFile = runtime.GOOS != "windows"

// writeVec creates the vector file at path holding xs.
func writeVec[T any](t testing.TB, path string, xs []T) {
	t.Helper()
	v, err := Open[T](path, CreateNew())
	require.NoError(t, err)
	require.NoError(t, v.Append(xs...))
	require.NoError(t, v.Close())
}

// TestLockWaiterGetsReplacedPath: an open that waits for the lock while the
// holder renames another file over the path gets that file once the holder
// lets go, not the old one, unlinked, whose lock would keep nobody out
// (Migrate replaces a file so). Windows refuses to rename over a file that
// a handle has open, so there the path cannot change under a waiter.
func TestLockWaiterGetsReplacedPath(t *testing.T) {
	path := vecPath(t)
	holder := openVec[point](t, path)
	require.NoError(t, holder.Append(pts(1, 2)...))
	next := path + ".next"
	writeVec(t, next, pts(7, 8, 9))

	refused := lockPolls(t)
	type result struct {
		got []point
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := Open[point](path, LockTimeout(time.Minute))
		if err != nil {
			done <- result{err: err}
			return
		}
		got := slices.Clone(v.Slice())
		done <- result{got, v.Close()}
	}()
	<-refused
	err := os.Rename(next, path)
	if !renameOverOpenFile {
		require.Error(t, err, "Windows renames over a file that a handle has open")
		require.NoError(t, holder.Close())
		r := <-done
		require.NoError(t, r.err)
		require.Equal(t, pts(1, 2), r.got)
		return
	}
	require.NoError(t, err)
	// A rename that is not Migrate's own is another program's, for the
	// holder: its Close says that the path names another file now.
	require.ErrorIs(t, holder.Close(), ErrFileChanged)
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, pts(7, 8, 9), r.got, "the waiter must get the file the path names")
}

// lockPolls makes every open that finds a lock held, while it waits with a
// LockTimeout, signal the returned channel (without blocking: one signal
// waits there at most), until the test ends.
func lockPolls(t testing.TB) <-chan struct{} {
	refused := make(chan struct{}, 1)
	region.LockPolled = func() {
		select {
		case refused <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() { region.LockPolled = nil })
	return refused
}
