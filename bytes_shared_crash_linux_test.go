//go:build linux && (amd64 || arm64)

package memvec

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func init() {
	children["bytessharedsync"] = bytesSharedSyncChild
}

// bytesSharedSyncChild is sharedSyncChild for a Bytes: it opens the Bytes
// at $MEMVEC_PATH (a crashfs root) Shared as writer $MEMVEC_W and, once
// its stdin says go, pushes $MEMVEC_N records (see pushBytesRecs), calling
// Sync now and then and once at the end, each time after a Refresh that
// found L records, with a mark of L+1 in the log of crashfs once the Sync
// has returned. Writer 1 also has the kernel write pages of both files
// back at random moments. It says "done", and, if its stdin says so,
// Syncs once more (says "synced"); it closes when its stdin closes.
func bytesSharedSyncChild() {
	path := os.Getenv("MEMVEC_PATH")
	w64, _ := strconv.ParseUint(os.Getenv("MEMVEC_W"), 10, 32)
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	w := uint32(w64)
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(childFailed)
	}
	b, err := OpenBytes(path, Shared(), LockTimeout(time.Minute))
	if err != nil {
		fail("%v", err)
	}
	syncMark := func() {
		l, err := b.Refresh()
		if err != nil {
			fail("refresh: %v", err)
		}
		if err := b.Sync(); err != nil {
			fail("sync: %v", err)
		}
		os.Mkdir(filepath.Join(path, "mark-"+strconv.Itoa(l+1)), 0o755)
	}
	fmt.Println("ready")
	var one [1]byte
	os.Stdin.Read(one[:])
	if w == 1 {
		done := make(chan struct{})
		defer close(done)
		go writeBackAtRandom(filepath.Join(path, bytesOffsetsName), uint64(w), done)
		go writeBackAtRandom(filepath.Join(path, bytesDataName), uint64(w)+1, done)
	}
	rng := rand.New(rand.NewPCG(uint64(w), 5))
	for seq := 0; seq < n; {
		k := 1
		if rng.IntN(4) == 0 {
			k = min(2+rng.IntN(7), n-seq)
		}
		if err := pushBytesRecs(b, w, uint32(seq), uint32(k), rng.IntN(3)); err != nil {
			fail("push %d: %v", seq, err)
		}
		seq += k
		if rng.IntN(100) == 0 {
			syncMark()
		}
	}
	syncMark()
	fmt.Println("done")
	if k, _ := os.Stdin.Read(one[:]); k == 1 {
		syncMark()
		fmt.Println("synced")
	}
	io.Copy(io.Discard, os.Stdin)
	if err := b.Close(); err != nil {
		fail("%v", err)
	}
}

// bytesRecords returns copies of the records of the Bytes at path, opened
// ReadOnly, checked as checkBytesRecs does.
func bytesRecords(t *testing.T, path, where string) [][]byte {
	t.Helper()
	b, err := OpenBytes(path, ReadOnly())
	require.NoError(t, err, where)
	defer b.Close()
	checkBytesRecs(t, b)
	got := make([][]byte, 0, b.Len())
	for _, p := range b.All() {
		got = append(got, slices.Clone(p))
	}
	return got
}

// TestBytesSharedPowerLossStates is TestSharedPowerLossStates for a Bytes:
// two Shared writer processes push records to one Bytes on crashfs at
// once, each calling Sync now and then, and at many points of the log the
// states a power loss could leave in each of its two files, paired, are
// opened as after a reboot: the Bytes opens (never ErrCorrupt), and is
// missing only if no Sync had returned; it counts every record published
// before a Sync that returned was called, by either writer; every record
// it counts is whole, in its writer's order, each Append together, and the
// record the writers wrote at its place. Now and then a Shared writer
// opens the state, pushes, and it reopens with the push after what it
// counted. Last, once both writers have closed after a final Sync, the
// Bytes holds every record.
func TestBytesSharedPowerLossStates(t *testing.T) {
	dir, cfs := mountCrashFS(t)
	const each, cuts, random = 3000, 300, 3
	reboot(t) // every state is opened as after a reboot
	check := filepath.Join(tempDir(t), "state.bytes")
	var kids []*child
	for w := range 2 {
		// One after the other: the first creates the Bytes.
		c := startChild(t, "bytessharedsync", "MEMVEC_PATH="+dir, "MEMVEC_W="+strconv.Itoa(w+1), "MEMVEC_N="+strconv.Itoa(each))
		c.expect(t, "ready")
		kids = append(kids, c)
	}
	for _, c := range kids {
		_, err := c.stdin.Write([]byte("g"))
		require.NoError(t, err)
	}
	for _, c := range kids {
		c.expect(t, "done")
	}
	_, err := kids[0].stdin.Write([]byte("s")) // a Sync once both are done: it covers all
	require.NoError(t, err)
	kids[0].expect(t, "synced")
	for _, c := range kids {
		c.release(t)
	}
	log := cfs.events()

	r := rand.New(rand.NewPCG(rand.Uint64(), 13))
	offsets := imageAt(log, len(log), bytesOffsetsName).states(r, 0)[1]
	data := imageAt(log, len(log), bytesDataName).states(r, 0)[1]
	require.Equal(t, "everything", offsets.how)
	writeBytesState(t, check, offsets, data)
	all := bytesRecords(t, check, "after both writers' last Sync and Close")
	require.Len(t, all, 2*each, "after both writers' last Sync and Close")

	need := make([]int, len(log)+1) // records counted by the Syncs that returned before event k
	synced := make([]bool, len(log)+1)
	marks := 0
	for k, e := range log {
		need[k+1], synced[k+1] = need[k], synced[k]
		if e.kind == evMark {
			need[k+1], synced[k+1] = max(need[k], e.mark-1), true
			marks++
		}
	}
	require.Equal(t, 2*each, need[len(log)])
	total := 0
	for c := range cuts + 1 {
		k := r.IntN(len(log) + 1)
		if c == cuts {
			k = len(log)
		}
		offsets := imageAt(log, k, bytesOffsetsName).states(r, random)
		data := imageAt(log, k, bytesDataName).states(r, random)
		// The same kind of state in both files, then random pairs.
		var pairs [][2]crashState
		for i := range min(len(offsets), len(data)) {
			pairs = append(pairs, [2]crashState{offsets[i], data[i]})
		}
		for range random {
			pairs = append(pairs, [2]crashState{offsets[r.IntN(len(offsets))], data[r.IntN(len(data))]})
		}
		for _, pair := range pairs {
			total++
			where := fmt.Sprintf("cut %d of %d events, %d records synced, offsets %q, data %q", k, len(log), need[k], pair[0].how, pair[1].how)
			if !pair[0].ok {
				require.False(t, synced[k], "%s: the offsets file is gone, but a Sync had returned", where)
				continue
			}
			writeBytesState(t, check, pair[0], pair[1])
			got := bytesRecords(t, check, where)
			require.GreaterOrEqual(t, len(got), need[k], "%s: records a returned Sync covered were lost (%s)", where, headerWords(pair[0].data))
			require.LessOrEqual(t, len(got), len(all), "%s", where)
			for i := range got {
				if !bytes.Equal(got[i], all[i]) {
					require.Failf(t, "counted a record the writers did not write there", "%s: record %d is %x, not %x (%s)", where, i, got[i], all[i], headerWords(pair[0].data))
				}
			}
			if total%20 == 0 {
				w, err := OpenBytes(check, Shared())
				require.NoError(t, err, where)
				x := makeBytesRec(7, 0, 0, 1)
				require.NoError(t, w.Push(x), where)
				require.NoError(t, w.Sync(), where)
				require.NoError(t, w.Close(), where)
				require.Equal(t, append(got, x), bytesRecords(t, check, where), "%s: reopened after a Shared writer's push to the recovered Bytes", where)
			}
		}
	}
	t.Logf("%d crash states checked, at %d cuts of %d events with %d returned Syncs", total, cuts+1, len(log), marks)
}
