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

	"github.com/stretchr/testify/require"
)

func init() { children["migratework"] = migrateWorkChild }

// migratedPoint is what the power-loss test of Migrate converts points to:
// a struct that gained a field, of another layout than point's.
type migratedPoint struct {
	X, Y, Z float64
	N       uint64
}

// migratePoint converts a point for the power-loss test of Migrate.
func migratePoint(p point) migratedPoint { return migratedPoint{p.X, p.Y, p.Z, uint64(p.X)*3 + 1} }

// migrateWorkChild writes $MEMVEC_N points to a new vector at $MEMVEC_PATH
// and makes it durable (mark 0 in crashfs's log), then migrates it to
// migratedPoint (mark 1 once Migrate has returned), in batches of 4 KiB so
// that the conversion is many writes.
func migrateWorkChild() {
	path := os.Getenv("MEMVEC_PATH")
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	err := func() error {
		v, err := Open[point](path)
		if err != nil {
			return err
		}
		for i := range n {
			if err := v.Push(pt(i)); err != nil {
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
		migrateBatchBytes = 4 << 10
		done := make(chan struct{})
		go writeBackAtRandom(migrateTempPath(path), 3, done)
		err = Migrate(path, migratePoint)
		close(done)
		if err != nil {
			return err
		}
		os.Mkdir(filepath.Join(filepath.Dir(path), "mark-1"), 0o755)
		return nil
	}()
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("done")
}

// TestMigratePowerLossStates migrates a vector on crashfs and, at every
// point of the log from the old vector made durable on, builds the states a
// power loss could leave: the directory as its last fsync left it or with
// any prefix of the renames, creates and removals since, and the file the
// path then names in the states of crashImage.states. Each is opened as
// after a reboot: it must be the old vector, whole, or the new one,
// complete, never a vector short of elements, nor a corrupt or missing
// file; and once Migrate has returned, it must be the new one. The
// migration runs in a child process (see TestCreateNewIsDurableAtOpen).
func TestMigratePowerLossStates(t *testing.T) {
	dir, cfs := mountCrashFS(t)
	reboot(t)
	const n, random = 100_000, 10
	name := "m.vec"
	c := startChild(t, "migratework", "MEMVEC_PATH="+filepath.Join(dir, name), "MEMVEC_N="+strconv.Itoa(n))
	c.expect(t, "done")
	c.release(t)
	log := cfs.events()
	marks := map[int]int{} // mark -> its index in the log
	for k, e := range log {
		if e.kind == evMark {
			marks[e.mark] = k
		}
	}
	require.Contains(t, marks, 0)
	require.Contains(t, marks, 1)

	check := filepath.Join(tempDir(t), "state.vec")
	r := rand.New(rand.NewPCG(1, 2))
	states, olds, news := 0, 0, 0
	for k := marks[0]; k <= len(log); k++ {
		returned := k > marks[1]
		for _, id := range namedAt(log, k, name) {
			where := fmt.Sprintf("cut at event %d of %d (Migrate began at %d and returned at %d), file %d", k, len(log), marks[0], marks[1], id)
			require.NotZero(t, id, "%s: the path names no file", where)
			for _, st := range imageOf(log, k, id).states(r, random) {
				if !st.ok {
					continue // a lost name: namedAt has the names
				}
				states++
				where := where + fmt.Sprintf(", state %q", st.how)
				require.NoError(t, os.WriteFile(check, st.data, 0o644))
				if v, err := Open[point](check, ReadOnly()); !errors.Is(err, ErrTypeMismatch) {
					require.NoError(t, err, where)
					olds++
					require.False(t, returned, "%s: Migrate had returned, but the path holds the old vector", where)
					require.Equal(t, n, v.Len(), "%s: the old vector", where)
					for i, x := range v.All() {
						if x != pt(i) {
							require.Equal(t, pt(i), x, "%s: old element %d", where, i)
						}
					}
					require.NoError(t, v.Close())
					continue
				}
				v, err := Open[migratedPoint](check, ReadOnly())
				require.NoError(t, err, where)
				news++
				require.Equal(t, n, v.Len(), "%s: the new vector", where)
				for i, x := range v.All() {
					if want := migratePoint(pt(i)); x != want {
						require.Equal(t, want, x, "%s: new element %d", where, i)
					}
				}
				require.NoError(t, v.Close())
			}
		}
	}
	require.NotZero(t, olds)
	require.NotZero(t, news)
	t.Logf("%d power-loss states of a Migrate checked, from %d cuts: %d the old vector, %d the new one", states, len(log)-marks[0]+1, olds, news)
}
