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
)

func init() {
	children["mapsynceverywork"] = mapSyncEveryWorkChild
	children["mapsynceveryfail"] = mapSyncEveryFailChild
	children["mapreopen"] = mapReopenChild
}

// mapSyncEveryWorkChild is syncEveryWorkChild for a Map at $MEMVEC_PATH:
// batch j puts the keys j*syncEveryBatch+1 to (j+1)*syncEveryBatch, key k
// with the value wideOf(k). It never calls Sync.
func mapSyncEveryWorkChild() {
	path := os.Getenv("MEMVEC_PATH")
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	mark := func(j int) { os.Mkdir(filepath.Join(filepath.Dir(path), "mark-"+strconv.Itoa(j)), 0o755) }
	m, err := OpenMap[uint64, wide](path, SyncEvery(syncEveryD))
	if err != nil {
		fail(err)
	}
	put := func(j int) {
		for k := uint64(j*syncEveryBatch + 1); k <= uint64((j+1)*syncEveryBatch); k++ {
			if err := m.Put(k, wideOf(k)); err != nil {
				fail(err)
			}
		}
	}
	for j := range syncEveryBatches {
		put(j)
		mark(j)
		time.Sleep(syncEveryPace)
	}
	mark(markIdle)
	time.Sleep(syncEveryIdle)
	mark(markIdleEnd)
	fmt.Println("idle")
	bufio.NewScanner(os.Stdin).Scan()
	put(syncEveryBatches)
	mark(markClose)
	fmt.Println("close:", syncResult(m.Close()))
}

// mapPrefix writes data to check, opens it as a map after a reboot
// (mapEntries: every value whole, Get and All agree), requires every key
// k in it to be at most most and to have the value wideOf(k), and returns
// the n for which keys 1 to n are all there.
func mapPrefix(t *testing.T, check string, data []byte, most uint64, where string) uint64 {
	t.Helper()
	require.NoError(t, os.WriteFile(check, data, 0o644))
	got := mapEntries(t, check, where)
	for k, x := range got {
		require.True(t, k >= 1 && k <= most && wideOf(x) == wideOf(k), "%s: key %d has %d", where, k, x)
	}
	n := uint64(0)
	for {
		if _, ok := got[n+1]; !ok {
			return n
		}
		n++
	}
}

// TestMapSyncEveryBoundsPowerLoss is TestSyncEveryBoundsPowerLoss for a
// Map: a writer with SyncEvery(d) that never calls Sync, over crashfs.
// Every batch of Puts is made durable by a barrier within d and the
// barrier's time; every state a power loss could leave (sampled cuts)
// holds every key put more than that long before the cut; nothing
// reaches the filesystem while nothing changes; Close makes everything
// durable.
func TestMapSyncEveryBoundsPowerLoss(t *testing.T) {
	dir, cfs := mountCrashFS(t)
	const name = "every.map"
	const syncEverySlack = 400 * time.Millisecond
	bound := syncEveryD + syncEverySlack
	c := startChild(t, "mapsynceverywork", "MEMVEC_PATH="+filepath.Join(dir, name))
	c.expect(t, "idle")
	_, err := io.WriteString(c.stdin, "close\n")
	require.NoError(t, err)
	c.expect(t, "close: ok")
	c.release(t)
	log := cfs.events()

	reboot(t)
	check := filepath.Join(tempDir(t), "state.map")
	const most = (syncEveryBatches + 1) * syncEveryBatch
	run := newSyncEveryRun(t, log, bound, name)
	worst := run.requireBound(t, func(k int) int {
		return int(mapPrefix(t, check, imageAt(log, k+1, name).durable, most, fmt.Sprintf("after the barrier at event %d", k)))
	})
	run.requireQuietWhenIdle(t)

	r := rand.New(rand.NewPCG(rand.Uint64(), 3))
	states := 0
	for range 100 {
		k := 1 + r.IntN(len(log))
		least := uint64(run.least(k))
		for _, st := range imageAt(log, k, name).states(r, 3) {
			where := fmt.Sprintf("power loss at event %d of %d, %q", k, len(log), st.how)
			if !st.ok {
				require.Zero(t, least, "%s: the file is gone", where)
				continue
			}
			require.GreaterOrEqual(t, mapPrefix(t, check, st.data, most, where), least, "%s: keys put more than %v before were lost", where, bound)
			states++
		}
	}
	require.Equal(t, uint64(most), mapPrefix(t, check, imageAt(log, len(log), name).durable, most, "after Close"), "Close made everything durable")
	t.Logf("%d barriers; a batch durable at most %v after its Puts (SyncEvery %v); %d power-loss states checked", len(run.syncs), worst, syncEveryD, states)
}

// mapSyncEveryFailChild is syncEveryFailChild for a Map at $MEMVEC_PATH:
// it puts syncFailSynced keys and syncs, then, at a line on its stdin,
// puts 10 more and calls nothing until its syncer's Sync has failed; then
// it calls $MEMVEC_NEXT ("put", "delete", "sync" or "close") and says how
// that ended, and then how a Put, a Sync and a Close end.
func mapSyncEveryFailChild() {
	in := bufio.NewScanner(os.Stdin)
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	m, err := OpenMap[uint64, wide](os.Getenv("MEMVEC_PATH"), SyncEvery(20*time.Millisecond))
	if err != nil {
		fail(err)
	}
	for k := uint64(1); k <= syncFailSynced; k++ {
		if err := m.Put(k, wideOf(k)); err != nil {
			fail(err)
		}
	}
	fmt.Println("synced", syncResult(m.Sync()))
	in.Scan()
	k := uint64(syncFailSynced)
	if err := changeUntilSyncerFails(func() error { k++; return m.Put(k, wideOf(k)) }, &m.bg.owed); err != nil {
		fail(err)
	}
	fmt.Println("failed behind")
	next := os.Getenv("MEMVEC_NEXT")
	switch next {
	case "put":
		err = m.Put(1<<40, wideOf(1))
	case "delete":
		_, err = m.Delete(1)
	case "sync":
		err = m.Sync()
	case "close":
		err = m.Close()
	}
	fmt.Println(next+":", syncResult(err))
	if next != "close" {
		fmt.Println("put:", syncResult(m.Put(1<<40, wideOf(1))))
		fmt.Println("sync:", syncResult(m.Sync()))
		fmt.Println("close:", syncResult(m.Close()))
	}
	io.Copy(io.Discard, os.Stdin)
}

// TestMapSyncEveryErrorReachesTheNextCall: crashfs refuses every
// write-back after a Sync covered 1,000 keys; the writer puts 10 more and
// calls nothing, and its syncer's Sync fails. The next Put, Delete, Sync
// or Close returns the failure, and it is not lost after: every later Put,
// Sync and Close fails too, and the disk, once it takes writes again,
// holds what the Sync that succeeded covered.
func TestMapSyncEveryErrorReachesTheNextCall(t *testing.T) {
	for _, next := range []string{"put", "delete", "sync", "close"} {
		t.Run(next, func(t *testing.T) {
			dir, cfs := mountCrashFS(t)
			const name = "fail.map"
			c := startChild(t, "mapsynceveryfail", "MEMVEC_PATH="+filepath.Join(dir, name), "MEMVEC_NEXT="+next)
			failed := failSyncBehind(t, cfs, c, next)
			if next != "close" {
				c.expect(t, "put: "+failed)
				c.expect(t, "sync: "+failed)
				c.expect(t, "close: "+failed)
			}
			c.release(t)
			cfs.failWriteBack(0, 0, 0)
			reboot(t)
			log := cfs.events()
			check := filepath.Join(tempDir(t), "state.map")
			got := mapPrefix(t, check, imageAt(log, len(log), name).current, syncFailSynced+10, "the disk after the failure")
			require.GreaterOrEqual(t, got, uint64(syncFailSynced), "the disk holds what the Sync that succeeded covered")
		})
	}
}

// mapReopenChild opens the map at $MEMVEC_PATH as a writer, says its
// length, and holds it, calling nothing, until it is killed.
func mapReopenChild() {
	m, err := OpenMap[uint64, wide](os.Getenv("MEMVEC_PATH"))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("len", m.Len())
	io.Copy(io.Discard, os.Stdin)
}

// TestMapOpenMakesKilledWritersChangesDurable is
// TestOpenMakesKilledWritersTailDurable for a Map: a writer killed (kill
// -9) after 5,000 Puts or more, with no Sync, over crashfs: what it put is
// only in the page cache. A second writer opens the map, in the same boot,
// and is killed too, having called nothing after OpenMap. A reboot then
// keeps every key the first put: every state a power loss could leave
// after the second's open holds them all.
func TestMapOpenMakesKilledWritersChangesDurable(t *testing.T) {
	dir, cfs := mountCrashFS(t)
	const name = "killed.map"
	path := filepath.Join(dir, name)
	c := startChild(t, "mapsplit", "MEMVEC_PATH="+path, "MEMVEC_STEP=0")
	reported, complaint := c.killAfterReports(t, func(line string) (n uint64, err error) {
		_, err = fmt.Sscanf(line, "A %d", &n)
		return n, err
	}, 5000)
	require.Empty(t, complaint, "the writing child failed")
	require.GreaterOrEqual(t, reported, uint64(5000), "the writing child failed")
	requireReopenedLen(t, "mapreopen", path, reported)

	reboot(t)
	log := cfs.events()
	check := filepath.Join(tempDir(t), "state.map")
	r := rand.New(rand.NewPCG(rand.Uint64(), 4))
	for _, st := range imageAt(log, len(log), name).states(r, 10) {
		require.True(t, st.ok, "the file is gone (%s)", st.how)
		require.NoError(t, os.WriteFile(check, st.data, 0o644))
		got := mapEntries(t, check, "state "+st.how)
		for i := uint64(1); i <= reported; i++ {
			x, ok := got[mapSplitKey(i)]
			require.True(t, ok && x == i, "a power loss after the second writer's open, state %s: key %d of %d is %d (present %v)", st.how, i, reported, x, ok)
		}
	}
}
