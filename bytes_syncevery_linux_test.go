//go:build linux && (amd64 || arm64)

package memvec

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func init() {
	children["bytessynceverywork"] = bytesSyncEveryWorkChild
	children["bytessynceveryfail"] = bytesSyncEveryFailChild
}

// bytesSyncEveryWorkChild is syncEveryWorkChild for a Bytes at
// $MEMVEC_PATH (a crashfs root): record i is crashRecordOf(i).
func bytesSyncEveryWorkChild() {
	path := os.Getenv("MEMVEC_PATH")
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	mark := func(j int) { os.Mkdir(filepath.Join(path, "mark-"+strconv.Itoa(j)), 0o755) }
	b, err := OpenBytes(path, SyncEvery(syncEveryD))
	if err != nil {
		fail(err)
	}
	push := func() {
		for range syncEveryBatch {
			if err := b.Push(crashRecordOf(uint64(b.Len()))); err != nil {
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
	fmt.Println("close:", syncResult(b.Close()))
}

// bytesCounted writes the states of a Bytes's two files into a directory,
// opens it as after a reboot, requires record i to be crashRecordOf(i),
// whole, and returns the number of records.
func bytesCounted(t *testing.T, check string, offsets, data crashState, where string) int {
	t.Helper()
	writeBytesState(t, check, offsets, data)
	keys := bytesKeys(t, check, where)
	for i, k := range keys {
		require.Equal(t, uint64(i), k, "%s: record %d is another's", where, i)
	}
	return len(keys)
}

// TestBytesSyncEveryBoundsPowerLoss is TestSyncEveryBoundsPowerLoss for a
// Bytes: a writer with SyncEvery(d) that never calls Sync, over crashfs.
// Every batch is counted by a barrier of both files within d and the
// barrier's time; every state a power loss could leave (sampled cuts, each
// file's states paired) counts every record pushed more than that long
// before the cut, each whole; nothing reaches the filesystem while nothing
// changes; Close makes everything durable.
func TestBytesSyncEveryBoundsPowerLoss(t *testing.T) {
	dir, cfs := mountCrashFS(t)
	const syncEverySlack = 400 * time.Millisecond
	bound := syncEveryD + syncEverySlack
	c := startChild(t, "bytessynceverywork", "MEMVEC_PATH="+dir)
	c.expect(t, "idle")
	_, err := io.WriteString(c.stdin, "close\n")
	require.NoError(t, err)
	c.expect(t, "close: ok")
	c.release(t)
	log := cfs.events()

	reboot(t)
	check := filepath.Join(tempDir(t), "state.bytes")
	run := newSyncEveryRun(t, log, bound, bytesOffsetsName, bytesDataName)
	durableAt := func(k int) int {
		return bytesCounted(t, check, crashState{data: imageAt(log, k, bytesOffsetsName).durable, ok: true},
			crashState{data: imageAt(log, k, bytesDataName).durable, ok: true}, fmt.Sprintf("after the barrier at event %d", k-1))
	}
	worst := run.requireBound(t, func(k int) int { return durableAt(k + 1) })
	run.requireQuietWhenIdle(t)

	r := rand.New(rand.NewPCG(rand.Uint64(), 3))
	states := 0
	for range 200 {
		k := 1 + r.IntN(len(log))
		least := run.least(k)
		offsets := imageAt(log, k, bytesOffsetsName).states(r, 2)
		data := imageAt(log, k, bytesDataName).states(r, 2)
		for range 4 {
			o, d := offsets[r.IntN(len(offsets))], data[r.IntN(len(data))]
			where := fmt.Sprintf("power loss at event %d of %d, offsets %q, data %q", k, len(log), o.how, d.how)
			if !o.ok {
				require.Zero(t, least, "%s: the offsets file is gone", where)
				continue
			}
			require.GreaterOrEqual(t, bytesCounted(t, check, o, d, where), least, "%s: records pushed more than %v before were lost", where, bound)
			states++
		}
	}
	require.Equal(t, (syncEveryBatches+1)*syncEveryBatch, durableAt(len(log)), "Close made everything durable")
	t.Logf("%d flushes of either file; a batch durable at most %v after its push (SyncEvery %v); %d power-loss states checked", len(run.syncs), worst, syncEveryD, states)
}

// bytesSyncEveryFailChild is syncEveryFailChild for a Bytes at
// $MEMVEC_PATH.
func bytesSyncEveryFailChild() {
	in := bufio.NewScanner(os.Stdin)
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	b, err := OpenBytes(os.Getenv("MEMVEC_PATH"), SyncEvery(20*time.Millisecond))
	if err != nil {
		fail(err)
	}
	for b.Len() < syncFailSynced {
		if err := b.Push(crashRecordOf(uint64(b.Len()))); err != nil {
			fail(err)
		}
	}
	fmt.Println("synced", syncResult(b.Sync()))
	in.Scan()
	if err := changeUntilSyncerFails(func() error { return b.Push(crashRecordOf(uint64(b.Len()))) }, &b.bg.owed); err != nil {
		fail(err)
	}
	fmt.Println("failed behind")
	next := os.Getenv("MEMVEC_NEXT")
	switch next {
	case "push":
		err = b.Push(crashRecordOf(uint64(b.Len())))
	case "append":
		err = b.Append(crashRecordOf(uint64(b.Len())))
	case "sync":
		err = b.Sync()
	case "close":
		err = b.Close()
	}
	fmt.Println(next+":", syncResult(err))
	if next != "close" {
		fmt.Println("len", b.Len())
		fmt.Println("push:", syncResult(b.Push(crashRecordOf(uint64(b.Len())))))
		fmt.Println("sync:", syncResult(b.Sync()))
		fmt.Println("close:", syncResult(b.Close()))
	}
	io.Copy(io.Discard, os.Stdin)
}

// TestBytesSyncEveryErrorReachesTheNextCall is
// TestSyncEveryErrorReachesTheNextCall for a Bytes: crashfs refuses every
// write-back after a Sync covered 1,000 records; the writer pushes 10 more
// and calls nothing, and its syncer's Sync fails. The next Push, Append,
// Sync or Close returns the failure, and it is not lost after: the Bytes
// counts the 1,000, every later Push, Sync and Close fails too, and the
// disk, once it takes writes again, holds the header the syncer lowered.
func TestBytesSyncEveryErrorReachesTheNextCall(t *testing.T) {
	for _, next := range []string{"push", "append", "sync", "close"} {
		t.Run(next, func(t *testing.T) {
			dir, cfs := mountCrashFS(t)
			c := startChild(t, "bytessynceveryfail", "MEMVEC_PATH="+dir, "MEMVEC_NEXT="+next)
			failed := failSyncBehind(t, cfs, c, next)
			if next != "close" {
				c.expect(t, "len "+strconv.Itoa(syncFailSynced))
				c.expect(t, "push: "+failed)
				c.expect(t, "sync: "+failed)
				c.expect(t, "close: "+failed)
			}
			c.release(t)
			cfs.failWriteBack(0, 0, 0)
			fd, err := unix.Open(filepath.Join(dir, bytesOffsetsName), unix.O_RDONLY, 0)
			require.NoError(t, err)
			for range 2 {
				err = unix.SyncFileRange(fd, 0, int64(pageSize), unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
			}
			require.NoError(t, err)
			unix.Close(fd)
			log := cfs.events()
			check := filepath.Join(tempDir(t), "state.bytes")
			got := bytesCounted(t, check, crashState{data: imageAt(log, len(log), bytesOffsetsName).current, ok: true},
				crashState{data: imageAt(log, len(log), bytesDataName).current, ok: true}, "the disk after the failure")
			require.Equal(t, syncFailSynced, got, "the header on the disk counts what the Sync that succeeded covered")
		})
	}
}
