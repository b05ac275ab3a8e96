//go:build linux && (amd64 || arm64)

package memvec

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/require"
)

func init() { children["relabelwork"] = relabelWorkChild }

// bigRecordRenamed is bigRecord with every field renamed: the same bytes,
// another layout, whose JSON is as long as bigRecord's and more than a page,
// so that a layout slot spans pages that the page of the layout word is not.
type bigRecordRenamed struct {
	A1, B1, C1, D1, E1, F1, G1, H1, I1, J1, K1, L1, M1, N1, O1, P1, Q1, R1, S1, T1 wideRecord
}

// bigRecordAt is the ith element of the Relabel power-loss test's vector.
func bigRecordAt(i int) bigRecord {
	var r bigRecord
	r.A.Alpha, r.J.Eta, r.T.Kappa = int32(i), int32(-i), int32(i*7)
	return r
}

// relabelPowerLossTimes is how often the power-loss test's child relabels.
const relabelPowerLossTimes = 6

// relabelWorkChild writes $MEMVEC_N bigRecords to a new vector at
// $MEMVEC_PATH and makes it durable (mark 0 in crashfs's log), then
// relabels it relabelPowerLossTimes times, to bigRecordRenamed, back to
// bigRecord, and so on (mark i once the ith Relabel has returned), while
// a goroutine writes pages of the file back at random, so that any page
// may reach the disk at any moment, as the kernel's write-back may do.
func relabelWorkChild() {
	path := os.Getenv("MEMVEC_PATH")
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	err := func() error {
		v, err := Open[bigRecord](path)
		if err != nil {
			return err
		}
		for i := range n {
			if err := v.Push(bigRecordAt(i)); err != nil {
				return err
			}
		}
		if err := v.Sync(); err != nil {
			return err
		}
		if err := v.Close(); err != nil {
			return err
		}
		os.Mkdir(filepath.Join(filepath.Dir(path), "mark-0"), 0o755)
		done := make(chan struct{})
		defer close(done)
		go writeBackAtRandom(path, 4, done)
		for i := 1; i <= relabelPowerLossTimes; i++ {
			if i%2 == 1 {
				err = Relabel[bigRecordRenamed](path)
			} else {
				err = Relabel[bigRecord](path)
			}
			if err != nil {
				return err
			}
			os.Mkdir(filepath.Join(filepath.Dir(path), "mark-"+strconv.Itoa(i)), 0o755)
		}
		return nil
	}()
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("done")
}

// TestRelabelPowerLossStates relabels a vector on crashfs again and again
// and, at every point of the log from the vector made durable on, builds
// the states a power loss could leave (crashImage.states). Each is opened
// as after a reboot: it must open as exactly one of the two types, the
// layout of the last Relabel that returned or of the one under way, never
// ErrCorrupt, with every element as it was. And every byte Relabel writes
// back is in the pages of the header and the layout slots: it never writes
// an element's page but the one the slots end in (its cost does not grow
// with the file). The relabels run in a child process (see
// TestCreateNewIsDurableAtOpen).
func TestRelabelPowerLossStates(t *testing.T) {
	dir, cfs := mountCrashFS(t)
	reboot(t)
	const n, random = 300, 20
	l, err := layoutFor[bigRecord]()
	require.NoError(t, err)
	require.Greater(t, int(format.DataOffsetFor(l.body())), 2*pageSize, "premise: the layout slots span pages beyond the header's")
	name := "r.vec"
	c := startChild(t, "relabelwork", "MEMVEC_PATH="+filepath.Join(dir, name), "MEMVEC_N="+strconv.Itoa(n))
	c.expect(t, "done")
	c.release(t)
	log := cfs.events()
	marks := map[int]int{} // mark -> its index in the log
	for k, e := range log {
		if e.kind == evMark {
			marks[e.mark] = k
		}
	}
	require.Len(t, marks, relabelPowerLossTimes+1)
	end := roundUp(int(format.DataOffsetFor(l.body())), pageSize) // the page the slots end in, written back whole
	for k, e := range log[marks[0]:] {
		if e.kind == evWrite && e.name == name {
			require.LessOrEqual(t, e.off+int64(len(e.data)), int64(end), "event %d: a Relabel wrote past the layout slots' pages, at %d", marks[0]+k, e.off)
		}
	}

	check := filepath.Join(tempDir(t), "state.vec")
	r := rand.New(rand.NewPCG(3, 4))
	states, seen := 0, map[string]int{}
	returned := 0 // the relabels returned before the cut
	for k := marks[0]; k <= len(log); k++ {
		if k > marks[0] && log[k-1].kind == evMark {
			returned = log[k-1].mark
		}
		for _, st := range imageAt(log, k, name).states(r, random) {
			require.True(t, st.ok, "the file's name was durable before Relabel began")
			states++
			where := fmt.Sprintf("cut at event %d of %d, after %d relabels returned, state %q", k, len(log), returned, st.how)
			require.NoError(t, os.WriteFile(check, st.data, 0o644))
			renamed := false
			if v, err := Open[bigRecord](check, ReadOnly()); !errors.Is(err, ErrTypeMismatch) {
				require.NoError(t, err, where)
				requireBigRecords(t, n, v.Slice(), where)
				require.NoError(t, v.Close())
			} else {
				v, err := Open[bigRecordRenamed](check, ReadOnly())
				require.NoError(t, err, where)
				requireBigRecords(t, n, relabelOf[bigRecord](v.Slice()), where)
				require.NoError(t, v.Close())
				renamed = true
			}
			// After i relabels the layout is bigRecordRenamed if i is
			// odd: i is the relabels returned, or one more under way.
			under := returned < relabelPowerLossTimes
			require.True(t, renamed == (returned%2 == 1) || under && renamed == ((returned+1)%2 == 1), "%s: renamed %v", where, renamed)
			seen[fmt.Sprintf("after %d, renamed %v", returned, renamed)]++
		}
	}
	for i := range relabelPowerLossTimes {
		require.Positive(t, seen[fmt.Sprintf("after %d, renamed %v", i, i%2 == 1)], "states with relabel %d under way, its old layout", i+1)
		require.Positive(t, seen[fmt.Sprintf("after %d, renamed %v", i, i%2 == 0)], "states with relabel %d under way, its new layout", i+1)
	}
	t.Logf("%d power-loss states of %d relabels checked, from %d cuts: %v", states, relabelPowerLossTimes, len(log)-marks[0]+1, seen)
}

// requireBigRecords requires that xs are the n elements bigRecordAt made.
func requireBigRecords(t *testing.T, n int, xs []bigRecord, where string) {
	t.Helper()
	require.Len(t, xs, n, where)
	for i, x := range xs {
		if x != bigRecordAt(i) {
			require.Equal(t, bigRecordAt(i), x, "%s: element %d", where, i)
		}
	}
}
