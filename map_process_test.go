//go:build unix || windows

package memvec

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func init() { children["mapwork"] = mapWorkChild }

// mapWorkKeys is how many keys the kill -9 test's child writes: enough that
// the map splits thousands of times across the trials.
const mapWorkKeys = 20_000

// mapWorkChild opens the map at $MEMVEC_PATH and forever puts and deletes
// random keys, and counts keys up by Update, with a Sync now and then.
// Before each Put, Update or Delete it writes "B P key x", "B U key" or
// "B D key" to stdout, unbuffered, and "A" once the call returned. With $MEMVEC_STEP n > 0 it kills itself at the n-th step
// of the Map's work (mapStep: between the stores of a Put, a Delete, a
// split, a Sync).
func mapWorkChild() {
	m, err := OpenMap[uint64, wide](os.Getenv("MEMVEC_PATH"))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	if step, _ := strconv.Atoi(os.Getenv("MEMVEC_STEP")); step > 0 {
		steps := 0
		mapStep = func() {
			if steps++; steps == step {
				self, _ := os.FindProcess(os.Getpid())
				self.Kill()
				select {} // the kill lands
			}
		}
	}
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), 3))
	for j := 0; ; j++ {
		k := 1 + r.Uint64N(mapWorkKeys)
		switch x := r.IntN(1000); {
		case x < 550:
			v := r.Uint64() >> 1
			os.Stdout.WriteString("B P " + strconv.FormatUint(k, 10) + " " + strconv.FormatUint(v, 10) + "\n")
			err = m.Put(k, wideOf(v))
		case x < 750:
			os.Stdout.WriteString("B U " + strconv.FormatUint(k, 10) + "\n")
			err = m.Update(k, func(v wide, _ bool) (wide, bool) { return wideOf(uint64(v[0]) + 1), true })
		case x < 998:
			os.Stdout.WriteString("B D " + strconv.FormatUint(k, 10) + "\n")
			_, err = m.Delete(k)
		default:
			err = m.Sync()
			if err == nil {
				continue
			}
		}
		if err != nil {
			fmt.Println(err)
			os.Exit(childFailed)
		}
		os.Stdout.WriteString("A\n")
	}
}

// mapWorkOp is an op the child announced: a Put of x (an Update: x is the
// value it counts up to) or a Delete of key.
type mapWorkOp struct {
	put bool
	key uint64
	x   uint64
}

// TestMapKillNineKeepsReturnedOps kills a child that puts and deletes
// (kill -9 on Unix, TerminateProcess on Windows), half the time at a
// random moment and half at a random step of the Map's work (inside a
// Put, an Update, a Delete, a split or a Sync), many times over one file, and after
// each kill requires of the map, opened ReadOnly: every Put, Update and
// Delete that returned holds; the key of the op in flight has its old value or
// its new one, whole; no other key changed; Len counts the keys.
func TestMapKillNineKeepsReturnedOps(t *testing.T) {
	trials := 40
	if testing.Short() {
		trials = 8
	}
	path := filepath.Join(tempDir(t), "kill.map")
	r := rand.New(rand.NewPCG(rand.Uint64(), 2))
	model := map[uint64]uint64{}
	inFlight, ops := 0, 0
	for trial := range trials {
		step := 0
		if trial%2 == 1 {
			step = 1 + r.IntN(20_000)
		}
		c := startChild(t, "mapwork", "MEMVEC_PATH="+path, "MEMVEC_STEP="+strconv.Itoa(step))
		target := 1 << r.IntN(15)
		target += r.IntN(target)
		reached, drained := make(chan struct{}), make(chan struct{})
		var pending *mapWorkOp
		var complaint string
		go func() {
			defer close(drained)
			n := 0
			signal := reached
			for c.lines.Scan() {
				f := strings.Fields(c.lines.Text())
				switch {
				case len(f) == 1 && f[0] == "A" && pending != nil:
					if pending.put {
						model[pending.key] = pending.x
					} else {
						delete(model, pending.key)
					}
					pending = nil
					if n++; signal != nil && n >= target {
						close(signal)
						signal = nil
					}
					continue
				case len(f) >= 3 && f[0] == "B" && pending == nil:
					op := &mapWorkOp{put: f[1] != "D"}
					op.key, _ = strconv.ParseUint(f[2], 10, 64)
					if f[1] == "P" && len(f) == 4 {
						op.x, _ = strconv.ParseUint(f[3], 10, 64)
					} else if f[1] == "U" {
						op.x = model[op.key] + 1
					}
					pending = op
					continue
				}
				complaint = c.lines.Text()
				break
			}
			if signal != nil {
				close(signal)
			}
		}()
		if step == 0 {
			<-reached
			c.kill(t, drained)
		} else {
			<-drained
			requireKilled(t, c.cmd.Wait())
		}
		require.Empty(t, complaint, "trial %d: the child said", trial)

		m, err := OpenMap[uint64, wide](path, ReadOnly(), LockTimeout(killedLockWait))
		require.NoError(t, err, "trial %d", trial)
		where := fmt.Sprintf("trial %d (step %d)", trial, step)
		if pending != nil {
			inFlight++
			old, had := model[pending.key]
			v, ok := m.Get(pending.key)
			require.True(t, !ok || v.whole(), "%s: the key in flight has a torn value %v", where, v)
			isOld := ok == had && (!ok || uint64(v[0]) == old)
			isNew := ok == pending.put && (!ok || uint64(v[0]) == pending.x)
			require.True(t, isOld || isNew, "%s: the key in flight, %d, is %v (present %v): neither its old value %d (present %v) nor the new one %+v", where, pending.key, v, ok, old, had, *pending)
			if ok {
				model[pending.key] = uint64(v[0])
			} else {
				delete(model, pending.key)
			}
		}
		require.Equal(t, len(model), m.Len(), "%s: Len", where)
		n := 0
		for k, v := range m.All() {
			n++
			x, ok := model[k]
			require.True(t, ok && v.whole() && uint64(v[0]) == x, "%s: key %d is %v, present %v; the child left it %d", where, k, v, ok, x)
		}
		require.Equal(t, len(model), n, "%s: All", where)
		ops += len(model)
		require.NoError(t, m.Close())
	}
	t.Logf("%d trials, %d of them killed inside an op, %d keys checked in all, %d in the map at the end", trials, inFlight, ops, len(model))
}

func init() { children["mapsplit"] = mapSplitChild }

// mapSplitKey is the key of the i-th Put of mapSplitChild: spread over the
// hash, so that splits move about half a bucket's keys.
func mapSplitKey(i uint64) uint64 { return i * 0x9E3779B97F4A7C15 }

// mapSplitChild opens the map at $MEMVEC_PATH and puts the keys
// mapSplitKey(1), mapSplitKey(2), ... with the values wideOf(i), in order,
// saying "A i" once Put i returned, until it kills itself at step
// $MEMVEC_STEP of the Map's work (mapStep: between the stores of a Put and
// after each key a split copies).
func mapSplitChild() {
	m, err := OpenMap[uint64, wide](os.Getenv("MEMVEC_PATH"))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	step, _ := strconv.Atoi(os.Getenv("MEMVEC_STEP"))
	steps := 0
	mapStep = func() {
		if steps++; steps == step {
			self, _ := os.FindProcess(os.Getpid())
			self.Kill()
			select {} // the kill lands
		}
	}
	for i := uint64(1); ; i++ {
		if err := m.Put(mapSplitKey(i), wideOf(i)); err != nil {
			fmt.Println(err)
			os.Exit(childFailed)
		}
		os.Stdout.WriteString("A " + strconv.FormatUint(i, 10) + "\n")
	}
}

// TestMapKillInsideSplit kills a writer that only inserts at every step of
// its first splits, and at random steps of later ones (whose parents have
// overflow buckets), and requires of the map it leaves, read-only and
// then claimed by a writer that goes on: every Put that returned is found
// with its value, the key in flight is absent or has its value, and Len
// and All count exactly those. A split that published the new bucket
// count before it had copied the keys into the child would lose the keys
// not yet copied.
func TestMapKillInsideSplit(t *testing.T) {
	dir := tempDir(t)
	r := rand.New(rand.NewPCG(rand.Uint64(), 7))
	steps := make([]int, 0, 150)
	for s := 1; s <= 120; s++ {
		steps = append(steps, s)
	}
	for range 30 {
		steps = append(steps, 120+r.IntN(40_000))
	}
	if testing.Short() {
		steps = steps[:60]
	}
	for _, step := range steps {
		where := fmt.Sprintf("killed at step %d", step)
		path := filepath.Join(dir, strconv.Itoa(step)+".map")
		c := startChild(t, "mapsplit", "MEMVEC_PATH="+path, "MEMVEC_STEP="+strconv.Itoa(step))
		var returned uint64
		for c.lines.Scan() {
			f := strings.Fields(c.lines.Text())
			require.True(t, len(f) == 2 && f[0] == "A", "%s: the child said %q", where, c.lines.Text())
			returned, _ = strconv.ParseUint(f[1], 10, 64)
		}
		requireKilled(t, c.cmd.Wait())
		check := func(m *Map[uint64, wide], stage string) {
			n := returned
			if v, ok := m.Get(mapSplitKey(returned + 1)); ok {
				require.Equal(t, wideOf(returned+1), v, "%s, %s: the key in flight", where, stage)
				n++
			}
			for i := uint64(1); i <= returned; i++ {
				v, ok := m.Get(mapSplitKey(i))
				require.True(t, ok, "%s, %s: Put %d of %d returned, but its key is missing (%d buckets)", where, stage, i, returned, m.buckets)
				require.Equal(t, wideOf(i), v, "%s, %s: key %d", where, stage, i)
			}
			require.Equal(t, int(n), m.Len(), "%s, %s: Len", where, stage)
			all := 0
			for k, v := range m.All() {
				require.True(t, v.whole() && mapSplitKey(uint64(v[0])) == k && uint64(v[0]) <= n, "%s, %s: All yields %d: %v", where, stage, k, v)
				all++
			}
			require.Equal(t, int(n), all, "%s, %s: All", where, stage)
		}
		ro, err := OpenMap[uint64, wide](path, ReadOnly(), LockTimeout(killedLockWait))
		require.NoError(t, err, where)
		check(ro, "read-only")
		require.NoError(t, ro.Close())
		w, err := OpenMap[uint64, wide](path)
		require.NoError(t, err, where)
		check(w, "claimed")
		for i := returned + 1; i <= returned+200; i++ { // through the split the kill cut short, again
			require.NoError(t, w.Put(mapSplitKey(i), wideOf(i)))
		}
		returned += 200
		check(w, "claimed and grown")
		require.NoError(t, w.Close())
	}
}

func init() { children["mapkilldelete"] = mapKillDeleteChild }

// mapKillDeleteChild puts the keys 1 to 100 into the map at $MEMVEC_PATH
// and syncs, then says "deleting" and deletes key 50, killing itself at
// the Delete's first step: after it stored the epoch into the slot's
// checksum word, before the control word.
func mapKillDeleteChild() {
	m, err := OpenMap[uint64, wide](os.Getenv("MEMVEC_PATH"))
	if err == nil {
		for k := uint64(1); k <= 100 && err == nil; k++ {
			err = m.Put(k, wideOf(k))
		}
	}
	if err == nil {
		err = m.Sync()
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	mapStep = func() {
		self, _ := os.FindProcess(os.Getpid())
		self.Kill()
		select {} // the kill lands
	}
	fmt.Println("deleting")
	m.Delete(50)
	fmt.Println("the Delete returned")
}

// TestMapDeleteKilledBeforeItsControlWord: a writer killed inside a
// Delete, after it stored the epoch into the slot's checksum word and
// before the control word, leaves the key in the map with a checksum that
// no longer holds. The next writer's open restores it (from the pending
// record), so that the key, in the map for that writer and its Sync, is
// kept by a reader after a power loss, which checks the checksums; without
// that, the reader would drop the key.
func TestMapDeleteKilledBeforeItsControlWord(t *testing.T) {
	path := filepath.Join(tempDir(t), "delete.map")
	c := startChild(t, "mapkilldelete", "MEMVEC_PATH="+path)
	c.expect(t, "deleting")
	requireKilled(t, c.cmd.Wait())

	m, err := OpenMap[uint64, wide](path, LockTimeout(killedLockWait))
	require.NoError(t, err)
	v, ok := m.Get(50)
	require.True(t, ok && v == wideOf(50), "the key of the killed Delete, in the same boot: %v, present %v", v, ok)
	require.Equal(t, 100, m.Len())
	require.NoError(t, m.Sync())
	require.NoError(t, m.Close())

	reboot(t)
	r, err := OpenMap[uint64, wide](path, ReadOnly())
	require.NoError(t, err)
	defer r.Close()
	v, ok = r.Get(50)
	require.True(t, ok && v == wideOf(50), "after a power loss, the key of the Delete killed before the writer that synced it: %v, present %v", v, ok)
	require.Equal(t, 100, r.Len())
}
