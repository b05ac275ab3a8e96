//go:build linux && (amd64 || arm64)

package memvec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func init() {
	children["synceverywork"] = syncEveryWorkChild
	children["synceveryfail"] = syncEveryFailChild
}

// The workload of TestSyncEveryBoundsPowerLoss: syncEveryBatches batches
// of syncEveryBatch pushes, syncEveryPace apart, with SyncEvery(syncEveryD);
// then syncEveryIdle with no change; then one more batch and Close.
const (
	syncEveryD       = 100 * time.Millisecond
	syncEveryBatches = 40
	syncEveryBatch   = 25
	syncEveryPace    = 10 * time.Millisecond
	syncEveryIdle    = 10 * syncEveryD
	// The marks that bracket the idle time, and the one before Close.
	markIdle, markIdleEnd, markClose = 1000, 1001, 1002
)

// syncEveryWorkChild runs TestSyncEveryBoundsPowerLoss's workload on the
// vector at $MEMVEC_PATH, with a mark in crashfs's log after each batch;
// it says "idle" after the idle time, and at a line on its stdin pushes the
// last batch, closes, and says how Close ended. It never calls Sync: every
// barrier is the syncer's, or Close's.
func syncEveryWorkChild() {
	path := os.Getenv("MEMVEC_PATH")
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	mark := func(j int) { os.Mkdir(filepath.Join(filepath.Dir(path), "mark-"+strconv.Itoa(j)), 0o755) }
	v, err := Open[crashRec](path, SyncEvery(syncEveryD))
	if err != nil {
		fail(err)
	}
	push := func() {
		for range syncEveryBatch {
			if err := v.Push(makeCrashRec(uint64(v.Len()))); err != nil {
				fail(err)
			}
		}
	}
	for j := range syncEveryBatches {
		push()
		mark(j)
		time.Sleep(syncEveryPace)
	}
	mark(markIdle)
	time.Sleep(syncEveryIdle)
	mark(markIdleEnd)
	fmt.Println("idle")
	bufio.NewScanner(os.Stdin).Scan()
	push()
	mark(markClose)
	fmt.Println("close:", syncResult(v.Close()))
}

// syncEveryRun is crashfs's log of a SyncEvery workload child's run
// (synceverywork and its kin for Bytes and Map): where each of its marks
// is, and the barriers of its files.
type syncEveryRun struct {
	log    []crashEvent
	files  []string
	markAt map[int]int
	syncs  []int // the barriers' positions in the log
	bound  time.Duration
}

// newSyncEveryRun reads the log of a run on files, whose batches must be
// durable within bound of their marks. A Bytes's Sync flushes its two
// files in either order; a batch is durable after the later barrier.
func newSyncEveryRun(t *testing.T, log []crashEvent, bound time.Duration, files ...string) *syncEveryRun {
	t.Helper()
	r := &syncEveryRun{log: log, files: files, markAt: map[int]int{}, bound: bound}
	for k, e := range log {
		switch {
		case e.kind == evMark:
			r.markAt[e.mark] = k
		case e.kind == evSync && slices.Contains(files, e.name):
			r.syncs = append(r.syncs, k)
		}
	}
	require.Len(t, r.markAt, syncEveryBatches+3, "the workload's marks")
	return r
}

// requireBound requires each batch to be counted by a barrier within the
// bound of its mark, the first such barrier being the syncer's, where
// durableAt(k) counts what the files' durable images after event k hold;
// it returns the longest wait.
func (r *syncEveryRun) requireBound(t *testing.T, durableAt func(k int) int) time.Duration {
	t.Helper()
	durableAfter := map[int]int{} // barrier position -> what its image counts
	for _, k := range r.syncs {
		durableAfter[k] = durableAt(k)
	}
	var worst time.Duration
	for j := range syncEveryBatches {
		m, want := r.markAt[j], (j+1)*syncEveryBatch
		lag := time.Duration(-1)
		for _, k := range r.syncs {
			if k > m && durableAfter[k] >= want {
				lag = r.log[k].at.Sub(r.log[m].at)
				break
			}
		}
		require.GreaterOrEqual(t, lag, time.Duration(0), "batch %d: no barrier after it made it durable", j)
		require.LessOrEqual(t, lag, r.bound, "batch %d: durable %v after its mark, more than SyncEvery's %v and the slack allowed for the barrier", j, lag, syncEveryD)
		worst = max(worst, lag)
	}
	return worst
}

// requireQuietWhenIdle requires nothing while nothing changes: once the
// last batch is durable, no event of the files until the idle time ends.
func (r *syncEveryRun) requireQuietWhenIdle(t *testing.T) {
	t.Helper()
	quiet := r.log[r.markAt[markIdle]].at.Add(r.bound)
	for k := r.markAt[markIdle]; k < r.markAt[markIdleEnd]; k++ {
		if e := r.log[k]; slices.Contains(r.files, e.name) && e.at.After(quiet) {
			require.Fail(t, "the idle writer reached the filesystem", "event %d (kind %d, %s) %v into the idle time, with nothing changed", k, e.kind, e.name, e.at.Sub(r.log[r.markAt[markIdle]].at))
		}
	}
}

// least returns what a power loss at a cut before event k must keep: the
// batches marked more than the bound before it.
func (r *syncEveryRun) least(k int) int {
	least := 0
	for j := range syncEveryBatches {
		if r.log[r.markAt[j]].at.Add(r.bound).Before(r.log[k-1].at) && r.markAt[j] < k {
			least = (j + 1) * syncEveryBatch
		}
	}
	return least
}

// TestSyncEveryBoundsPowerLoss: a writer with SyncEvery(d) that never
// calls Sync, over crashfs. Every batch it pushes reaches a barrier within
// d and the barrier's own time (allowed: d and syncEverySlack, for a
// loaded machine): the file as that barrier left it counts the batch after
// a reboot. Every state a power loss could leave (sampled cuts of the log,
// each state opened as after a reboot) counts every element pushed more
// than that long before the cut, and only whole elements, in order. While
// nothing changes, nothing reaches the filesystem: no write-back, no
// barrier. Close ends with a barrier that covers everything.
func TestSyncEveryBoundsPowerLoss(t *testing.T) {
	dir, cfs := mountCrashFS(t)
	const name = "every.vec"
	const syncEverySlack = 400 * time.Millisecond
	bound := syncEveryD + syncEverySlack
	c := startChild(t, "synceverywork", "MEMVEC_PATH="+filepath.Join(dir, name))
	c.expect(t, "idle")
	_, err := io.WriteString(c.stdin, "close\n")
	require.NoError(t, err)
	c.expect(t, "close: ok")
	c.release(t)
	log := cfs.events()

	reboot(t) // every state is opened as after a reboot
	check := filepath.Join(tempDir(t), "state.vec")
	counted := func(data []byte, where string) int {
		require.NoError(t, os.WriteFile(check, data, 0o644))
		v, err := Open[crashRec](check, ReadOnly())
		require.NoError(t, err, where)
		defer v.Close()
		for i, x := range v.All() {
			if x != makeCrashRec(uint64(i)) {
				require.Fail(t, "an element that was never written is counted", "%s: element %d of %d is %v", where, i, v.Len(), x)
			}
		}
		return v.Len()
	}

	run := newSyncEveryRun(t, log, bound, name)
	worst := run.requireBound(t, func(k int) int {
		return counted(imageAt(log, k+1, name).durable, fmt.Sprintf("after the barrier at event %d", k))
	})
	run.requireQuietWhenIdle(t)

	// Power-loss states at sampled cuts: each counts what was pushed more
	// than bound before the cut.
	r := rand.New(rand.NewPCG(rand.Uint64(), 3))
	states := 0
	for range 300 {
		k := 1 + r.IntN(len(log))
		least := run.least(k)
		for _, st := range imageAt(log, k, name).states(r, 2) {
			where := fmt.Sprintf("power loss at event %d of %d, state %q", k, len(log), st.how)
			if !st.ok {
				require.Zero(t, least, "%s: the file is gone", where)
				continue
			}
			require.GreaterOrEqual(t, counted(st.data, where), least, "%s: elements pushed more than %v before were lost", where, bound)
			states++
		}
	}

	// Close's last barrier covers the last batch: the durable image at the
	// end counts everything.
	require.Equal(t, (syncEveryBatches+1)*syncEveryBatch, counted(imageAt(log, len(log), name).durable, "after Close"), "Close made everything durable")
	t.Logf("%d barriers; a batch durable at most %v after its push (SyncEvery %v); %d power-loss states checked", len(run.syncs), worst, syncEveryD, states)
}

// syncEveryFailChild opens the vector at $MEMVEC_PATH with SyncEvery,
// pushes and syncs 1,000 elements ("synced ok"); at "fail" (crashfs
// refuses write-back from then on) it pushes 10 more and waits, calling
// nothing, until its syncer's Sync has failed ("failed behind"); then it
// makes the call $MEMVEC_NEXT names and says how it ended, its length, and
// how a Sync and a Close end after it.
func syncEveryFailChild() {
	in := bufio.NewScanner(os.Stdin)
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	v, err := Open[crashRec](os.Getenv("MEMVEC_PATH"), SyncEvery(20*time.Millisecond))
	if err != nil {
		fail(err)
	}
	for v.Len() < syncFailSynced {
		if err := v.Push(makeCrashRec(uint64(v.Len()))); err != nil {
			fail(err)
		}
	}
	fmt.Println("synced", syncResult(v.Sync()))
	in.Scan()
	if err := changeUntilSyncerFails(func() error { return v.Push(makeCrashRec(uint64(v.Len()))) }, &v.bg.owed); err != nil {
		fail(err)
	}
	fmt.Println("failed behind")
	next := os.Getenv("MEMVEC_NEXT")
	switch next {
	case "push":
		err = v.Push(makeCrashRec(uint64(v.Len())))
	case "append":
		err = v.Append(makeCrashRec(uint64(v.Len())))
	case "sync":
		err = v.Sync()
	case "close":
		err = v.Close()
	}
	fmt.Println(next+":", syncResult(err))
	if next != "close" {
		fmt.Println("len", v.Len())
		fmt.Println("sync:", syncResult(v.Sync()))
		fmt.Println("close:", syncResult(v.Close()))
	}
	io.Copy(io.Discard, os.Stdin)
}

// changeUntilSyncerFails makes the 10 changes a SyncEvery fail child
// makes once crashfs refuses write-back, then waits, calling nothing,
// until its syncer's Sync has failed (owed, the failure waiting for the
// next call). On a slow machine the syncer may fail between two changes:
// then the next change must return the failure (ErrSyncFailed and ENOSPC),
// the guarantee under test come early, and the child stops changing there.
func changeUntilSyncerFails(change func() error, owed *atomic.Bool) error {
	for range 10 {
		if err := change(); err != nil {
			if syncResult(err) == "failed with "+unix.ErrnoName(syscall.ENOSPC) {
				return nil
			}
			return err
		}
	}
	for deadline := time.Now().Add(20 * time.Second); !owed.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return errors.New("the background Sync did not fail within 20 s")
		}
	}
	return nil
}

// failSyncBehind drives a SyncEvery fail child (synceveryfail and its
// kin for Bytes and Map) to its failure: once it has said "synced ok",
// crashfs refuses every write-back (ENOSPC), the child is told to go on,
// and its syncer's Sync must fail ("failed behind") on a write-back
// crashfs refused; then the call next must return the failure. It returns
// the failure's text, which the calls after it must return too.
func failSyncBehind(t *testing.T, cfs *crashFS, c *child, next string) string {
	t.Helper()
	c.expect(t, "synced ok")
	cfs.failWriteBack(syscall.ENOSPC, 0, 0)
	_, err := io.WriteString(c.stdin, "fail\n")
	require.NoError(t, err)
	c.expect(t, "failed behind")
	require.Positive(t, cfs.refused.Load(), "crashfs refused no write-back: the test tests nothing")
	failed := "failed with " + unix.ErrnoName(syscall.ENOSPC)
	c.expect(t, next+": "+failed)
	return failed
}

// TestSyncEveryErrorReachesTheNextCall: crashfs refuses every write-back
// after a Sync covered 1,000 elements; the writer pushes 10 more and calls
// nothing, and its syncer's Sync fails (ENOSPC). The next Push, Append,
// Sync or Close returns the failure (ErrSyncFailed and the errno), and it
// is not lost after: the vector counts the 1,000, every later Sync and
// Close fails too, and the disk, once it takes writes again, holds the
// header the syncer lowered to the 1,000.
func TestSyncEveryErrorReachesTheNextCall(t *testing.T) {
	for _, next := range []string{"push", "append", "sync", "close"} {
		t.Run(next, func(t *testing.T) {
			dir, cfs := mountCrashFS(t)
			const name = "failing.vec"
			path := filepath.Join(dir, name)
			c := startChild(t, "synceveryfail", "MEMVEC_PATH="+path, "MEMVEC_NEXT="+next)
			failed := failSyncBehind(t, cfs, c, next)
			if next != "close" {
				c.expect(t, "len "+strconv.Itoa(syncFailSynced))
				c.expect(t, "sync: "+failed)
				c.expect(t, "close: "+failed)
			}
			c.release(t)
			cfs.failWriteBack(0, 0, 0)
			// The kernel's write-back of the header page the vector left
			// dirty; the first may report the failure once more.
			fd, err := unix.Open(path, unix.O_RDONLY, 0)
			require.NoError(t, err)
			for range 2 {
				err = unix.SyncFileRange(fd, 0, int64(pageSize), unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
			}
			require.NoError(t, err)
			unix.Close(fd)
			log := cfs.events()
			check := filepath.Join(tempDir(t), "state.vec")
			require.Equal(t, syncFailSynced, requirePushed(t, check, imageAt(log, len(log), name).current, syncFailSynced, "the disk after the failure"),
				"the header on the disk counts what the Sync that succeeded covered")
		})
	}
}

func init() { children["reopen"] = reopenChild }

// reopenChild opens the vector at $MEMVEC_PATH as a writer, says its
// length, and holds it, calling nothing, until it is killed.
func reopenChild() {
	v, err := Open[crashRec](os.Getenv("MEMVEC_PATH"), LockTimeout(killedLockWait))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("len", v.Len())
	io.Copy(io.Discard, os.Stdin)
}

// requireReopenedLen starts role, a child that opens the file at path as
// a writer, says "len N" and holds it, calling nothing; it requires N to
// count at least least, and kills the child.
func requireReopenedLen(t *testing.T, role, path string, least uint64) {
	t.Helper()
	c := startChild(t, role, "MEMVEC_PATH="+path)
	require.True(t, c.lines.Scan(), "the reopening child said nothing")
	var n uint64
	_, err := fmt.Sscanf(c.lines.Text(), "len %d", &n)
	require.NoError(t, err, "the reopening child: %s", c.lines.Text())
	require.GreaterOrEqual(t, n, least)
	c.kill(t, nil)
}

// TestOpenMakesKilledWritersTailDurable: a writer killed (kill -9) after
// pushing, over crashfs, with no Sync: what it pushed is only in the page
// cache. A second writer opens the file, in the same boot, and is killed
// too, having called nothing after Open. A reboot then keeps everything the
// first pushed: every state a power loss could leave after the second's
// Open returned counts at least what the first reported pushed, each
// element whole.
func TestOpenMakesKilledWritersTailDurable(t *testing.T) {
	dir, cfs := mountCrashFS(t)
	const name = "killed.vec"
	path := filepath.Join(dir, name)
	c := startChild(t, "push", "MEMVEC_PATH="+path)
	reported, complaint := c.killAfterReports(t, parseCount, 20_000)
	require.Empty(t, complaint, "the pushing child failed")
	require.GreaterOrEqual(t, reported, uint64(20_000), "the pushing child failed")
	requireReopenedLen(t, "reopen", path, reported)

	reboot(t)
	log := cfs.events()
	check := filepath.Join(tempDir(t), "state.vec")
	r := rand.New(rand.NewPCG(rand.Uint64(), 4))
	for _, st := range imageAt(log, len(log), name).states(r, 10) {
		require.True(t, st.ok, "the file is gone (%s)", st.how)
		requirePushed(t, check, st.data, int(reported), "a power loss after the second writer's open, state "+st.how)
	}
}
