//go:build unix || windows

package memvec

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func init() {
	children["migrate"] = migrateChild
}

// The crash test migrates vectors of uint32 to vectors of migrated, two
// layouts that never open as each other.
type migrated struct{ I, Square uint64 }

func migrateOldAt(i int) uint32 { return uint32(i) * 2654435761 }

func migrateConvert(x uint32) migrated { return migrated{uint64(x), uint64(x) * uint64(x)} }

// migrateCrashLen is the length of the crash test's vectors, and
// migrateConvertEvery how often its child reports conversions.
const (
	migrateCrashLen     = 20_000
	migrateConvertEvery = 100
)

// migrateChild migrates the vector of uint32 at $MEMVEC_PATH to one of
// migrated, in batches of 256 elements, and reports its progress on
// stdout, one line at a time: each step of Migrate ("locked", "created",
// "batch", "synced", "closed", "renamed", "dirsynced", "released": see
// migrateStepHook) and "convert" every migrateConvertEvery conversions.
// If $MEMVEC_STOP is n > 0, it stops at its nth line: it says "stopped"
// and waits, where it is, for the kill. Once Migrate returns it says
// "migrated" and waits too, so that it never ends on its own.
func migrateChild() {
	say := stepReporter()
	migrateBatchBytes = 256 * int(unsafe.Sizeof(migrated{}))
	migrateStepHook = say
	converted := 0
	err := Migrate(os.Getenv("MEMVEC_PATH"), func(x uint32) migrated {
		if converted++; converted%migrateConvertEvery == 0 {
			say("convert")
		}
		return migrateConvert(x)
	})
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("migrated")
	io.Copy(io.Discard, os.Stdin)
}

// TestMigrateKillNine kills a migrating child at random moments, and at
// each of Migrate's steps, and after every kill requires that the path
// opens as exactly one of the two types, holding either every old element
// or every converted one (the converted ones from the rename on), that a
// Migrate then completes, and that it leaves nothing beside the file.
//
// Half the trials kill the child stopped at a chosen line of its report
// (the file's state is then known exactly: the new vector from the rename
// on, the old one and a leftover temporary file between "created" and
// "renamed"); the other half kill it running, some time after a chosen
// line. Half of the chosen lines are Migrate's steps other than its
// batches, so that the moments around the sync and the rename are hit
// often. MEMVEC_MIGRATE_TRIALS sets the number of trials (200 by default,
// 100 on Windows, 20 with -short).
func TestMigrateKillNine(t *testing.T) {
	trials := 200
	switch {
	case testing.Short():
		trials = 20
	case runtime.GOOS == "windows":
		trials = 100 // a process costs ten times as much to start under Wine, which runs CI's Windows tests
	}
	if s := os.Getenv("MEMVEC_MIGRATE_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "MEMVEC_MIGRATE_TRIALS")
		trials = n
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 5))
	path := vecPath(t)
	dir := filepath.Dir(path)
	old := generate(migrateCrashLen, migrateOldAt)
	converted := convertAll(old, migrateConvert)

	// readBack requires that the path opens as exactly one of the types,
	// whole, and reports which.
	readBack := func(trial int) (isNew bool) {
		t.Helper()
		gotOld, errOld := readVecWaiting[uint32](path)
		gotNew, errNew := readVecWaiting[migrated](path)
		require.False(t, errOld == nil && errNew == nil, "trial %d: the file opens as both types", trial)
		if errOld == nil {
			require.ErrorIs(t, errNew, ErrTypeMismatch, "trial %d", trial)
			require.True(t, slices.Equal(old, gotOld), "trial %d: the old vector is not intact (%d elements)", trial, len(gotOld))
			return false
		}
		require.NoError(t, errNew, "trial %d: the file opens as neither type (old: %v)", trial, errOld)
		require.ErrorIs(t, errOld, ErrTypeMismatch, "trial %d", trial)
		require.True(t, slices.Equal(converted, gotNew), "trial %d: the new vector is not complete (%d elements)", trial, len(gotNew))
		return true
	}
	// complete runs a Migrate to the end and requires the new vector,
	// alone in its directory.
	complete := func(trial int, isNew bool) {
		t.Helper()
		var err error
		if isNew {
			err = Migrate(path, func(x migrated) migrated { return x }, LockTimeout(killedLockWait))
		} else {
			err = Migrate(path, migrateConvert, LockTimeout(killedLockWait))
		}
		require.NoError(t, err, "trial %d", trial)
		require.True(t, readBack(trial), "trial %d", trial)
		require.Equal(t, []string{filepath.Base(path)}, dirNames(t, dir), "trial %d: something is left beside the file", trial)
	}

	// The first trial runs to the end, to learn the lines of a whole
	// migration.
	writeVec(t, path, old)
	c := startChild(t, "migrate", "MEMVEC_PATH="+path)
	var lines []string
	for c.lines.Scan() && c.lines.Text() != "migrated" {
		lines = append(lines, c.lines.Text())
	}
	require.Equal(t, "migrated", c.lines.Text(), "the child failed: %v", lines)
	c.kill(t, nil)
	renamedAt, createdAt := slices.Index(lines, "renamed"), slices.Index(lines, "created")
	require.Positive(t, renamedAt)
	var steps []int // the lines that are steps other than batches
	for i, l := range lines {
		if l != "batch" && l != "convert" {
			steps = append(steps, i)
		}
	}
	require.True(t, readBack(0))
	complete(0, true)

	outcomes := map[string]int{}
	for trial := 1; trial < trials; trial++ {
		require.NoError(t, os.Remove(path))
		writeVec(t, path, old)
		at := r.IntN(len(lines)) // the index of the chosen line
		if r.IntN(2) == 0 {
			at = steps[r.IntN(len(steps))]
		}
		stopped := r.IntN(2) == 0
		if stopped {
			c = startChild(t, "migrate", "MEMVEC_PATH="+path, "MEMVEC_STOP="+strconv.Itoa(at+1))
		} else {
			c = startChild(t, "migrate", "MEMVEC_PATH="+path)
		}
		for i := 0; i <= at; i++ {
			require.True(t, c.lines.Scan(), "trial %d: the child ended at line %d of %d", trial, i, at)
			require.Equal(t, lines[i], c.lines.Text(), "trial %d: line %d", trial, i)
		}
		if stopped {
			c.expect(t, "stopped")
		}
		c.kill(t, nil)

		isNew := readBack(trial)
		switch {
		case at >= renamedAt:
			require.True(t, isNew, "trial %d: killed after the rename (line %d, %s), the file must be the new vector", trial, at, lines[at])
		case stopped:
			require.False(t, isNew, "trial %d: killed before the rename (line %d, %s), the file must be the old vector", trial, at, lines[at])
		}
		_, err := os.Stat(migrateTempPath(path))
		if stopped && at >= createdAt && at < renamedAt {
			require.NoError(t, err, "trial %d: killed at %s, the temporary file must be left", trial, lines[at])
		}
		mode := map[bool]string{true: "stopped at", false: "running after"}[stopped]
		outcomes[fmt.Sprintf("%-13s %-9s -> %s", mode, lines[at], map[bool]string{true: "new", false: "old"}[isNew])]++
		complete(trial, isNew)
	}
	t.Logf("%d trials (%d lines a migration):", trials, len(lines))
	keys := make([]string, 0, len(outcomes))
	for k := range outcomes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Logf("  %s: %d", k, outcomes[k])
	}
}

// stepReporter returns how a crash test's child reports its progress: a
// line on stdout for each call and, at the $MEMVEC_STOP-th (if set), a
// line "stopped", after which it waits, where it is, for the kill.
func stepReporter() func(line string) {
	stop, _ := strconv.Atoi(os.Getenv("MEMVEC_STOP"))
	lines := 0
	return func(line string) {
		lines++
		os.Stdout.WriteString(line + "\n")
		if lines == stop {
			os.Stdout.WriteString("stopped\n")
			io.Copy(io.Discard, os.Stdin)
		}
	}
}

// readVecWaiting is readVec, waiting killedLockWait for a killed child's
// lock.
func readVecWaiting[T any](path string) ([]T, error) {
	v, err := Open[T](path, ReadOnly(), LockTimeout(killedLockWait))
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return slices.Clone(v.Slice()), nil
}
