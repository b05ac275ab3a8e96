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

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func init() { children["crashwork"] = crashWorkChild }

// crashOp is one step of a power-loss workload.
type crashOp struct {
	kind byte // 'p' Push n, 'a' Append n, 's' Sync, 't' Truncate to i, 'c' Clip, 'i' Insert n at i, 'w' Set i, 'r' Close and Open again, 'k' drop the file as a killed writer does and Open again
	i, n int
}

// crashKey is the element op j writes at index i: every write of an index
// gives another element, so that a reader can tell which write it sees.
func crashKey(j, i int) uint64 { return uint64(j+1)<<32 | uint64(i) }

// crashPlan is a workload with what a reader may find after a power loss
// during it: after each op, the model's contents and the durable length
// the writer keeps (FORMAT.md, "Power loss"), which the vector must keep.
type crashPlan struct {
	ops     []crashOp
	snaps   [][]uint64 // snaps[j+1]: the contents after op j; snaps[0] empty
	durable []int      // durable[j+1]: the durable length after op j
	synced  []int      // synced[j+1]: the index+1 of the last Sync up to op j, 0 if none
}

// planCrashWorkload makes the workload of seed: n ops on a vector of
// crashRec, pushes and appends that grow the file, Syncs, Truncates, Clips,
// Inserts, Sets and reopens.
func planCrashWorkload(seed uint64, n int) *crashPlan {
	r := rand.New(rand.NewPCG(seed, 9))
	p := &crashPlan{snaps: [][]uint64{nil}, durable: []int{0}, synced: []int{0}}
	var s []uint64
	d, synced := 0, 0
	for j := range n {
		var op crashOp
		switch x := r.IntN(100); {
		case x < 30:
			op = crashOp{kind: 'p', n: 1 + r.IntN(200)}
		case x < 50:
			op = crashOp{kind: 'a', n: 1 + r.IntN(300)}
		case x < 62:
			op = crashOp{kind: 's'}
		case x < 70 && len(s) > 0:
			op = crashOp{kind: 't', i: r.IntN(len(s) + 1)}
		case x < 75:
			op = crashOp{kind: 'c'}
		case x < 83 && len(s) > 0:
			op = crashOp{kind: 'i', i: r.IntN(len(s) + 1), n: 1 + r.IntN(20)}
		case x < 93 && len(s) > 0:
			op = crashOp{kind: 'w', i: r.IntN(len(s))}
		case x < 96:
			op = crashOp{kind: 'r'}
		default:
			op = crashOp{kind: 'k'}
		}
		switch op.kind {
		case 'p', 'a':
			d = min(d, len(s))
			for range op.n {
				s = append(s, crashKey(j, len(s)))
			}
		case 's':
			d, synced = len(s), j+1
		case 't':
			s = s[:op.i]
		case 'c':
			d = min(d, len(s))
		case 'i':
			d = min(d, op.i)
			keys := make([]uint64, op.n)
			for k := range keys {
				keys[k] = crashKey(j, op.i+k)
			}
			s = slices.Insert(s, op.i, keys...)
		case 'w':
			d = min(d, op.i)
			s[op.i] = crashKey(j, op.i)
		}
		p.ops = append(p.ops, op)
		p.snaps = append(p.snaps, slices.Clone(s))
		p.durable = append(p.durable, d)
		p.synced = append(p.synced, synced)
	}
	return p
}

// crashWorkChild runs the workload of $MEMVEC_SEED ($MEMVEC_OPS ops) on the
// vector at $MEMVEC_PATH, with a mark in the log after each op, while a
// goroutine has the kernel write random pages of the file back, as its own
// writeback would, in no order.
func crashWorkChild() {
	path := os.Getenv("MEMVEC_PATH")
	seed, _ := strconv.ParseUint(os.Getenv("MEMVEC_SEED"), 10, 64)
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_OPS"))
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	v, err := Open[crashRec](path)
	if err != nil {
		fail(err)
	}
	done := make(chan struct{})
	go writeBackAtRandom(path, seed, done)
	rec := func(j, i int) crashRec { return makeCrashRec(crashKey(j, i)) }
	for j, op := range planCrashWorkload(seed, n).ops {
		switch op.kind {
		case 'p':
			for range op.n {
				err = v.Push(rec(j, v.Len()))
				if err != nil {
					break
				}
			}
		case 'a':
			batch := make([]crashRec, op.n)
			for k := range batch {
				batch[k] = rec(j, v.Len()+k)
			}
			err = v.Append(batch...)
		case 's':
			err = v.Sync()
		case 't':
			v.Truncate(op.i)
		case 'c':
			err = v.Clip()
		case 'i':
			batch := make([]crashRec, op.n)
			for k := range batch {
				batch[k] = rec(j, op.i+k)
			}
			err = v.Insert(op.i, batch...)
		case 'w':
			v.Set(op.i, rec(j, op.i))
		case 'r':
			if err = v.Close(); err == nil {
				v, err = Open[crashRec](path)
			}
		case 'k':
			abandon(v)
			v, err = Open[crashRec](path)
		}
		if err != nil {
			fail(fmt.Errorf("op %d %c: %w", j, op.kind, err))
		}
		os.Mkdir(filepath.Join(filepath.Dir(path), "mark-"+strconv.Itoa(j)), 0o755)
	}
	close(done)
	if err := v.Close(); err != nil {
		fail(err)
	}
	fmt.Println("done")
}

// TestPowerLossStates runs workloads on the real File backend over
// crashfs, and at many points of each builds the states a power loss could
// leave (see crashImage.states), then opens each as after a reboot and
// checks it: it opens (never ErrCorrupt); it is missing only if no Sync had
// returned; every element it counts is whole, and they are a prefix of the
// vector's contents at some moment since the last Sync that returned, no
// shorter than those contents or the durable length the writer kept
// (FORMAT.md, "Power loss"). A writer then opens it, pushes, and the vector
// reopens consistent. Last, the workload closes the vector: with every page
// written back, as a clean shutdown does, nothing is lost.
func TestPowerLossStates(t *testing.T) {
	dir, cfs := mountCrashFS(t)
	seeds := []uint64{rand.Uint64(), rand.Uint64(), rand.Uint64()}
	const ops, cuts, random = 120, 400, 3
	reboot(t) // every state is opened as after a reboot
	check := filepath.Join(tempDir(t), "state.vec")
	total := 0
	for _, seed := range seeds {
		name := fmt.Sprintf("w%d.vec", seed)
		path := filepath.Join(dir, name)
		start := len(cfs.events())
		c := startChild(t, "crashwork", "MEMVEC_PATH="+path, "MEMVEC_SEED="+strconv.FormatUint(seed, 10), "MEMVEC_OPS="+strconv.Itoa(ops))
		c.expect(t, "done")
		c.release(t)
		plan := planCrashWorkload(seed, ops)
		log := cfs.events()[start:]
		r := rand.New(rand.NewPCG(seed, 11))
		mark := -1 // the last op whose mark is before the cut
		marks := make([]int, len(log)+1)
		for k, e := range log {
			marks[k] = mark
			if e.kind == evMark {
				mark = e.mark
			}
		}
		marks[len(log)] = mark
		for range cuts {
			k := r.IntN(len(log) + 1)
			j := marks[k] // ops up to j are done; op j+1 may be under way
			next := min(j+2, len(plan.snaps)-1)
			need := min(plan.durable[j+1], plan.durable[next])
			from := plan.synced[j+1] // the snapshots since the last Sync that returned
			for _, st := range imageAt(log, k, name).states(r, random) {
				total++
				where := fmt.Sprintf("seed %d, cut %d of %d events, after op %d of %d, state %q", seed, k, len(log), j, ops, st.how)
				if !st.ok {
					require.Zero(t, from, "%s: the file is gone, but a Sync had returned", where)
					continue
				}
				require.NoError(t, os.WriteFile(check, st.data, 0o644))
				v, err := Open[crashRec](check, ReadOnly())
				require.NoError(t, err, where)
				got := make([]uint64, v.Len())
				for i, x := range v.All() {
					got[i] = x.I
					require.Equal(t, makeCrashRec(x.I), x, "%s: element %d is torn", where, i)
				}
				require.NoError(t, v.Close())
				// got must be the vector at some moment since the last Sync
				// (the writer may have dropped elements since), cut to no
				// less than the durable length.
				prefix, kept := false, false
				for s := from; s <= next && !kept; s++ {
					if len(plan.snaps[s]) >= len(got) && slices.Equal(plan.snaps[s][:len(got)], got) {
						prefix = true
						kept = len(got) >= min(len(plan.snaps[s]), need)
					}
				}
				require.True(t, prefix, "%s: the %d elements are no prefix of the vector since the last Sync (%s)", where, len(got), headerWords(st.data))
				require.True(t, kept, "%s: %d elements kept, fewer than the durable length %d: elements a Sync made durable were lost (%s)", where, len(got), need, headerWords(st.data))
				if total%20 == 0 {
					requireWritableAfterRecovery(t, check, got)
				}
			}
		}
		// A clean shutdown after the Close: every page written back, and
		// nothing may be lost (P3), Sync or not.
		clean := imageAt(log, len(log), name).states(r, 0)[1]
		require.Equal(t, "everything", clean.how)
		require.NoError(t, os.WriteFile(check, clean.data, 0o644))
		v, err := Open[crashRec](check, ReadOnly())
		require.NoError(t, err)
		got := make([]uint64, 0, v.Len())
		for _, x := range v.All() {
			got = append(got, x.I)
		}
		require.NoError(t, v.Close())
		require.Equal(t, plan.snaps[len(plan.snaps)-1], got, "seed %d: a clean shutdown after Close lost elements", seed)
		require.NoError(t, os.Remove(path))
	}
	t.Logf("%d crash states checked, from %d workloads of %d ops", total, len(seeds), ops)
}

// requireWritableAfterRecovery opens the recovered file at path for
// writing, pushes, and requires that it reopens with got and the push.
func requireWritableAfterRecovery(t *testing.T, path string, got []uint64) {
	t.Helper()
	w, err := Open[crashRec](path)
	require.NoError(t, err)
	require.NoError(t, w.Push(makeCrashRec(7)))
	require.NoError(t, w.Close())
	v, err := Open[crashRec](path, ReadOnly())
	require.NoError(t, err)
	defer v.Close()
	require.Equal(t, len(got)+1, v.Len())
	for i, x := range v.All() {
		want := uint64(7)
		if i < len(got) {
			want = got[i]
		}
		if x.I != want {
			require.Fail(t, "recovered and written", "element %d is %d, want %d", i, x.I, want)
		}
	}
}

// TestCreateNewIsDurableAtOpen: a file that CreateNew creates is as durable
// as one created by default, before Open returns: its name (a directory
// fsync after the create) and its header (an fsync after the header's
// write), so that a power loss right after the open leaves a valid, empty
// vector, not a missing file nor one whose header is zero. The opens run
// in child processes: a process that maps a file of its own FUSE server
// can deadlock in a page fault that the server needs memory to answer.
func TestCreateNewIsDurableAtOpen(t *testing.T) {
	dir, cfs := mountCrashFS(t)
	reboot(t)
	for _, role := range []string{"hold", "createnew"} {
		name := role + ".vec"
		c := startChild(t, role, "MEMVEC_PATH="+filepath.Join(dir, name))
		want := "locked"
		if role == "createnew" {
			_, err := io.WriteString(c.stdin, "go\n")
			require.NoError(t, err)
			want = "won"
		}
		c.expect(t, want)
		im := imageAt(cfs.events(), len(cfs.events()), name)
		require.True(t, im.named, "%s: the new file's name is not durable", name)
		require.GreaterOrEqual(t, len(im.durable), format.HeaderSize, "%s: the header is not durable", name)
		check := filepath.Join(tempDir(t), "state.vec")
		require.NoError(t, os.WriteFile(check, im.durable, 0o644))
		r, err := Open[point](check, ReadOnly())
		require.NoError(t, err, "%s: the durable image opens", name)
		require.Zero(t, r.Len())
		require.NoError(t, r.Close())
		c.release(t)
	}
}

// writeBackAtRandom has the kernel write pages of the file at path back at
// random (the pages of seed's sequence), as its own writeback would, in no
// order, until done is closed: a power loss may then find any of them on
// the disk. It waits for the file to exist.
func writeBackAtRandom(path string, seed uint64, done <-chan struct{}) {
	r := rand.New(rand.NewPCG(seed, 10))
	fd := -1
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		if fd < 0 {
			fd, _ = unix.Open(path, unix.O_RDONLY, 0)
		}
		var st unix.Stat_t
		if fd >= 0 && unix.Fstat(fd, &st) == nil && st.Size > 0 {
			off := r.Int64N(st.Size) &^ int64(pageSize-1)
			unix.SyncFileRange(fd, off, int64(pageSize), unix.SYNC_FILE_RANGE_WRITE)
		}
		time.Sleep(50 * time.Microsecond)
	}
}
