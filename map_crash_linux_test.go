//go:build linux && (amd64 || arm64)

package memvec

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func init() { children["mapcrashwork"] = mapCrashWorkChild }

// mapCrashOp is one op of the Map power-loss workload: a batch of n Puts
// ('p') or Deletes ('d') of the keys given, a Sync ('s'), a Close and
// reopen ('r'), or an abandon (a killed writer) and reopen ('k').
type mapCrashOp struct {
	kind byte
	keys []uint64
}

// mapCrashPlan is a workload and, for each op, the map after it (snaps[0]
// is the empty map before the first) and the snapshot the last Sync that
// returned covered.
type mapCrashPlan struct {
	ops    []mapCrashOp
	snaps  []map[uint64]uint64
	synced []int
}

// mapCrashValue is the value Put stores for key k at op j: its three words
// tell the key and the op, and agree with each other (wideOf).
func mapCrashValue(k uint64, j int) uint64 { return k<<20 | uint64(j) }

// planMapCrashWorkload makes the workload of seed: n ops over 3,000 keys,
// enough to split the map hundreds of times.
func planMapCrashWorkload(seed uint64, n int) *mapCrashPlan {
	r := rand.New(rand.NewPCG(seed, 9))
	p := &mapCrashPlan{snaps: []map[uint64]uint64{{}}, synced: []int{0}}
	cur, synced := map[uint64]uint64{}, 0
	for j := range n {
		var op mapCrashOp
		switch x := r.IntN(100); {
		case x < 55:
			op.kind = 'p'
			for range 1 + r.IntN(200) {
				op.keys = append(op.keys, 1+r.Uint64N(3000))
			}
		case x < 75:
			op.kind = 'd'
			for range 1 + r.IntN(60) {
				op.keys = append(op.keys, 1+r.Uint64N(3000))
			}
		case x < 88:
			op.kind = 's'
		case x < 94:
			op.kind = 'r'
		default:
			op.kind = 'k'
		}
		switch op.kind {
		case 'p':
			for _, k := range op.keys {
				cur[k] = mapCrashValue(k, j)
			}
		case 'd':
			for _, k := range op.keys {
				delete(cur, k)
			}
		default: // a Sync, a Close, or the reopen after a kill (which syncs)
			synced = j + 1
		}
		p.ops = append(p.ops, op)
		p.snaps = append(p.snaps, maps.Clone(cur))
		p.synced = append(p.synced, synced)
	}
	return p
}

// mapCrashWorkChild runs the workload of $MEMVEC_SEED ($MEMVEC_OPS ops) on
// the map at $MEMVEC_PATH, a file on crashfs, with a mark after each op,
// while a goroutine has the kernel write random pages back.
func mapCrashWorkChild() {
	path := os.Getenv("MEMVEC_PATH")
	seed, _ := strconv.ParseUint(os.Getenv("MEMVEC_SEED"), 10, 64)
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_OPS"))
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	m, err := OpenMap[uint64, wide](path)
	if err != nil {
		fail(err)
	}
	done := make(chan struct{})
	go writeBackAtRandom(path, seed, done)
	for j, op := range planMapCrashWorkload(seed, n).ops {
		switch op.kind {
		case 'p':
			for _, k := range op.keys {
				if err = m.Put(k, wideOf(mapCrashValue(k, j))); err != nil {
					break
				}
			}
		case 'd':
			for _, k := range op.keys {
				if _, err = m.Delete(k); err != nil {
					break
				}
			}
		case 's':
			err = m.Sync()
		case 'r':
			if err = m.Close(); err == nil {
				m, err = OpenMap[uint64, wide](path)
			}
		case 'k':
			abandonMap(m)
			m, err = OpenMap[uint64, wide](path)
		}
		if err != nil {
			fail(fmt.Errorf("op %d %c: %w", j, op.kind, err))
		}
		os.Mkdir(filepath.Join(filepath.Dir(path), "mark-"+strconv.Itoa(j)), 0o755)
	}
	close(done)
	if err := m.Close(); err != nil {
		fail(err)
	}
	fmt.Println("done")
}

// abandonMap drops m as a killed writer does: its file is unmapped and
// closed, the lock released, but nothing of Close runs.
func abandonMap[K comparable, V any](m *Map[K, V]) {
	m.mem.(*File).r.Abandon()
	m.closed = true
	m.b = nil
}

// mapEntries opens the map at path read-only and returns its entries,
// requiring every value whole and the same by Get as by All, and Len to
// count them.
func mapEntries(t *testing.T, path, where string) map[uint64]uint64 {
	t.Helper()
	m, err := OpenMap[uint64, wide](path, ReadOnly())
	require.NoError(t, err, where)
	defer m.Close()
	got := map[uint64]uint64{}
	for k, v := range m.All() {
		require.True(t, v.whole(), "%s: key %d has a torn value %v", where, k, v)
		_, dup := got[k]
		require.False(t, dup, "%s: All yields key %d twice", where, k)
		got[k] = uint64(v[0])
		g, ok := m.Get(k)
		require.True(t, ok && g == v, "%s: Get(%d) = %v, %v; All gave %v", where, k, g, ok, v)
	}
	require.Equal(t, len(got), m.Len(), where)
	return got
}

// TestMapPowerLossStates runs Map workloads on a file over crashfs and, at
// many points of each, opens the states a power loss could leave, as
// after a reboot: each opens (never ErrCorrupt); every value is whole and
// one that was written to its key; every key has its value at the last
// Sync that returned or one it had since (absent if it was absent at some
// moment since). Every 20th state a writer then claims it, puts a key and
// closes, and the map is what it found plus that key. Last, a clean
// shutdown after Close loses nothing.
func TestMapPowerLossStates(t *testing.T) {
	seeds := []uint64{rand.Uint64(), rand.Uint64(), rand.Uint64()}
	const ops, cuts, random = 100, 300, 3
	reboot(t)
	check := filepath.Join(tempDir(t), "state.map")
	total := 0
	for _, seed := range seeds {
		dir, cfs := mountCrashFS(t)
		path := filepath.Join(dir, "m.map")
		c := startChild(t, "mapcrashwork", "MEMVEC_PATH="+path, "MEMVEC_SEED="+strconv.FormatUint(seed, 10), "MEMVEC_OPS="+strconv.Itoa(ops))
		c.expect(t, "done")
		c.release(t)
		plan := planMapCrashWorkload(seed, ops)
		log := cfs.events()
		r := rand.New(rand.NewPCG(seed, 11))
		mark := -1
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
			j := marks[k]
			from, next := plan.synced[j+1], min(j+2, len(plan.snaps)-1)
			for _, st := range imageAt(log, k, "m.map").states(r, random) {
				total++
				where := fmt.Sprintf("seed %d, cut %d of %d events, after op %d of %d, %q", seed, k, len(log), j, ops, st.how)
				if !st.ok {
					require.Zero(t, from, "%s: the file is gone, but a Sync had returned", where)
					continue
				}
				require.NoError(t, os.WriteFile(check, st.data, 0o644))
				got := mapEntries(t, check, where)
				for key := uint64(1); key <= 3000; key++ {
					v, ok := got[key]
					allowed := false
					for s := from; s <= next && !allowed; s++ {
						w, had := plan.snaps[s][key]
						allowed = had == ok && w == v
					}
					require.True(t, allowed, "%s: key %d is %d (present %v), a value it never had since the last Sync (op %d); then %v, now %v",
						where, key, v, ok, from-1, plan.snaps[from][key], plan.snaps[j+1][key])
				}
				if total%20 == 0 {
					w, err := OpenMap[uint64, wide](check)
					require.NoError(t, err, where)
					require.NoError(t, w.Put(5000, wideOf(mapCrashValue(5000, 1))))
					require.NoError(t, w.Close())
					got[5000] = mapCrashValue(5000, 1)
					require.Equal(t, got, mapEntries(t, check, where), "%s: claimed and written", where)
				}
			}
		}
		clean := imageAt(log, len(log), "m.map").states(r, 0)[1]
		require.Equal(t, "everything", clean.how)
		require.NoError(t, os.WriteFile(check, clean.data, 0o644))
		require.Equal(t, plan.snaps[len(plan.snaps)-1], mapEntries(t, check, "clean shutdown"), "seed %d: a clean shutdown after Close lost entries", seed)
	}
	t.Logf("%d crash states checked, from %d workloads of %d ops", total, len(seeds), ops)
}
