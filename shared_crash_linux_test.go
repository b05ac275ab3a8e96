//go:build linux && (amd64 || arm64)

package memvec

import (
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
	children["sharedsync"] = sharedSyncChild
}

// sharedSyncChild opens $MEMVEC_PATH Shared as writer $MEMVEC_W and,
// once its stdin says go, pushes $MEMVEC_N elements (single Pushes and
// Appends of 2 to 8), calling Sync now and then and once at the end. Before
// each Sync it Refreshes, and once the Sync has returned it puts a mark of
// the length the Refresh found, plus one, in the log of crashfs (a mkdir
// of "mark-L+1" beside the file): every element of every writer published
// before the Sync was called, those L at least, must survive a power loss
// after the mark. It says "done", and, if its stdin says so, Syncs once
// more (says "synced"); it closes when its stdin closes.
func sharedSyncChild() {
	path := os.Getenv("MEMVEC_PATH")
	w64, _ := strconv.ParseUint(os.Getenv("MEMVEC_W"), 10, 32)
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	w := uint32(w64)
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(childFailed)
	}
	v, err := Open[sharedRec](path, Shared(), LockTimeout(time.Minute))
	if err != nil {
		fail("%v", err)
	}
	syncMark := func() {
		l, err := v.Refresh()
		if err != nil {
			fail("refresh: %v", err)
		}
		if err := v.Sync(); err != nil {
			fail("sync: %v", err)
		}
		os.Mkdir(filepath.Join(filepath.Dir(path), "mark-"+strconv.Itoa(l+1)), 0o755)
	}
	fmt.Println("ready")
	var b [1]byte
	os.Stdin.Read(b[:])
	rng := rand.New(rand.NewPCG(uint64(w), 5))
	batch := make([]sharedRec, 0, 8)
	for seq := 0; seq < n; {
		k := 1
		if rng.IntN(4) == 0 {
			k = min(2+rng.IntN(7), n-seq)
		}
		batch = batch[:0]
		for i := range k {
			batch = append(batch, makeSharedRec(w, uint32(seq+i), uint32(i), uint32(k)))
		}
		if k == 1 {
			err = v.Push(batch[0])
		} else {
			err = v.Append(batch...)
		}
		if err != nil {
			fail("push %d: %v", seq, err)
		}
		seq += k
		if rng.IntN(100) == 0 {
			syncMark()
		}
	}
	syncMark()
	fmt.Println("done")
	if k, _ := os.Stdin.Read(b[:]); k == 1 {
		syncMark()
		fmt.Println("synced")
	}
	io.Copy(io.Discard, os.Stdin)
	if err := v.Close(); err != nil {
		fail("%v", err)
	}
}

// TestSharedPowerLossStates has two Shared writer processes push to one
// file on crashfs at once, each calling Sync now and then, and builds the
// states a power loss could leave at many points of the log (see
// crashImage.states), each opened as after a reboot: it opens (never
// ErrCorrupt), and is missing only if no Sync had returned; it counts every
// element published before a Sync that returned was called, by either
// writer; and every element it counts is whole, in its writer's order, each
// Append together, and the element the writers wrote at its place (a prefix
// of the final file). Now and then a Shared writer opens the state, pushes,
// and it reopens with the push after what it counted. Last, once both
// writers have closed after a final Sync, the file holds every element.
func TestSharedPowerLossStates(t *testing.T) {
	dir, cfs := mountCrashFS(t)
	const each, cuts, random = 3000, 300, 3
	reboot(t) // every state is opened as after a reboot
	check := filepath.Join(tempDir(t), "state.vec")
	name := "s.vec"
	path := filepath.Join(dir, name)
	var kids []*child
	for w := range 2 {
		// One after the other: the first creates the file.
		c := startChild(t, "sharedsync", "MEMVEC_PATH="+path, "MEMVEC_W="+strconv.Itoa(w+1), "MEMVEC_N="+strconv.Itoa(each))
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

	final := imageAt(log, len(log), name).states(rand.New(rand.NewPCG(1, 2)), 0)[1]
	require.Equal(t, "everything", final.how)
	require.NoError(t, os.WriteFile(check, final.data, 0o644))
	v, err := Open[sharedRec](check, ReadOnly())
	require.NoError(t, err)
	all := slices.Clone(v.Slice())
	require.NoError(t, v.Close())
	require.Len(t, all, 2*each, "after both writers' last Sync and Close")
	counts := checkSharedRecs(t, all)
	require.Equal(t, map[uint32]int{1: each, 2: each}, counts)

	need := make([]int, len(log)+1) // elements counted by the Syncs that returned before event k
	synced := make([]bool, len(log)+1)
	for k, e := range log {
		need[k+1], synced[k+1] = need[k], synced[k]
		if e.kind == evMark {
			need[k+1], synced[k+1] = max(need[k], e.mark-1), true
		}
	}
	require.Equal(t, 2*each, need[len(log)])
	r := rand.New(rand.NewPCG(rand.Uint64(), 13))
	total, marks := 0, 0
	for _, e := range log {
		if e.kind == evMark {
			marks++
		}
	}
	for c := range cuts + 1 {
		k := r.IntN(len(log) + 1)
		if c == cuts {
			k = len(log)
		}
		for _, st := range imageAt(log, k, name).states(r, random) {
			total++
			where := fmt.Sprintf("cut %d of %d events, %d elements synced, state %q", k, len(log), need[k], st.how)
			if !st.ok {
				require.False(t, synced[k], "%s: the file is gone, but a Sync had returned", where)
				continue
			}
			require.NoError(t, os.WriteFile(check, st.data, 0o644))
			v, err := Open[sharedRec](check, ReadOnly())
			require.NoError(t, err, where)
			got := slices.Clone(v.Slice())
			require.NoError(t, v.Close())
			require.GreaterOrEqual(t, len(got), need[k], "%s: elements a returned Sync covered were lost (%s)", where, headerWords(st.data))
			require.LessOrEqual(t, len(got), len(all), "%s", where)
			checkSharedRecs(t, got)
			for i := range got {
				if got[i] != all[i] {
					require.Failf(t, "counted an element the writers did not write there", "%s: element %d is %+v, not %+v (%s)", where, i, got[i], all[i], headerWords(st.data))
				}
			}
			if total%20 == 0 {
				requireSharedWritableAfterRecovery(t, check, got)
			}
		}
	}
	t.Logf("%d crash states checked, at %d cuts of %d events with %d returned Syncs", total, cuts+1, len(log), marks)
}

// requireSharedWritableAfterRecovery opens the recovered file at path as a
// Shared writer, pushes, and requires that it reopens with got and the
// push.
func requireSharedWritableAfterRecovery(t *testing.T, path string, got []sharedRec) {
	t.Helper()
	w, err := Open[sharedRec](path, Shared())
	require.NoError(t, err)
	x := makeSharedRec(7, 0, 0, 1)
	require.NoError(t, w.Push(x))
	require.NoError(t, w.Sync())
	require.NoError(t, w.Close())
	v, err := Open[sharedRec](path, ReadOnly())
	require.NoError(t, err)
	defer v.Close()
	require.Equal(t, len(got)+1, v.Len(), "reopened after a Shared writer's push to the recovered file")
	require.Equal(t, append(slices.Clone(got), x), v.Slice())
}
