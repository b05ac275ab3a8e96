//go:build unix || windows

package memvec

import (
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func init() { children["relabel"] = relabelChild }

// relabelCrashLen is the length of the vectors the Relabel crash test
// relabels, and relabelCrashTimes how often its child relabels one.
const (
	relabelCrashLen   = 2000
	relabelCrashTimes = 20
)

// relabelChild relabels the vector of readingTemp at $MEMVEC_PATH
// relabelCrashTimes times, to readingCelsius, back to readingTemp, and so
// on, and reports its progress on stdout, one line at a time: each step of
// Relabel ("written", "synced", "flipped", "durable": see
// relabelStepHook) and "relabelled" once it has returned. If $MEMVEC_STOP
// is n > 0, it stops at its nth line: it says "stopped" and waits, where
// it is, for the kill. Once done it says "done" and waits too.
func relabelChild() {
	say := stepReporter()
	relabelStepHook = say
	path := os.Getenv("MEMVEC_PATH")
	for i := range relabelCrashTimes {
		var err error
		if i%2 == 0 {
			err = Relabel[readingCelsius](path)
		} else {
			err = Relabel[readingTemp](path)
		}
		if err != nil {
			fmt.Println(err)
			os.Exit(childFailed)
		}
		say("relabelled")
	}
	fmt.Println("done")
	io.Copy(io.Discard, os.Stdin)
}

// TestRelabelKillNine kills a relabelling child at random moments, and at
// each of Relabel's steps, and after every kill requires that the file
// opens as exactly one of the two types, with every element as it was;
// for a child stopped at a step, as the type that the relabels whose
// "flipped" it reported made it (the new layout from that step on, the
// old one before); and that a Relabel then completes.
//
// Half the trials kill the child stopped at a chosen line of its report,
// the other half kill it running, some time after a chosen line.
// MEMVEC_RELABEL_TRIALS sets the number of trials (200 by default, 60 on
// Windows, 20 with -short).
func TestRelabelKillNine(t *testing.T) {
	trials := 200
	switch {
	case testing.Short():
		trials = 20
	case runtime.GOOS == "windows":
		trials = 60 // a process costs ten times as much to start under Wine, which runs CI's Windows tests
	}
	if s := os.Getenv("MEMVEC_RELABEL_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "MEMVEC_RELABEL_TRIALS")
		trials = n
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 6))
	path := vecPath(t)
	old := generate(relabelCrashLen, readingAt)
	renamed := relabelOf[readingCelsius](old)

	// readBack requires that the path opens as exactly one of the types,
	// whole, and reports whether it is readingCelsius.
	readBack := func(trial int) (celsius bool) {
		t.Helper()
		gotOld, errOld := readVecWaiting[readingTemp](path)
		gotNew, errNew := readVecWaiting[readingCelsius](path)
		require.False(t, errOld == nil && errNew == nil, "trial %d: the file opens as both types", trial)
		if errOld == nil {
			require.ErrorIs(t, errNew, ErrTypeMismatch, "trial %d", trial)
			require.True(t, slices.Equal(old, gotOld), "trial %d: the elements changed", trial)
			return false
		}
		require.NoError(t, errNew, "trial %d: the file opens as neither type (as readingTemp: %v)", trial, errOld)
		require.ErrorIs(t, errOld, ErrTypeMismatch, "trial %d", trial)
		require.True(t, slices.Equal(renamed, gotNew), "trial %d: the elements changed", trial)
		return true
	}

	// The first trial runs to the end, to learn the lines of the child.
	writeVec(t, path, old)
	c := startChild(t, "relabel", "MEMVEC_PATH="+path)
	var lines []string
	for c.lines.Scan() && c.lines.Text() != "done" {
		lines = append(lines, c.lines.Text())
	}
	require.Equal(t, "done", c.lines.Text(), "the child failed: %v", lines)
	c.kill(t, nil)
	require.Len(t, lines, 5*relabelCrashTimes)
	require.Equal(t, relabelCrashTimes%2 == 1, readBack(0))

	outcomes := map[string]int{}
	for trial := 1; trial < trials; trial++ {
		require.NoError(t, os.Remove(path))
		writeVec(t, path, old)
		at := r.IntN(len(lines)) // the index of the chosen line
		stopped := r.IntN(2) == 0
		if stopped {
			c = startChild(t, "relabel", "MEMVEC_PATH="+path, "MEMVEC_STOP="+strconv.Itoa(at+1))
		} else {
			c = startChild(t, "relabel", "MEMVEC_PATH="+path)
		}
		for i := 0; i <= at; i++ {
			require.True(t, c.lines.Scan(), "trial %d: the child ended at line %d of %d", trial, i, at)
			require.Equal(t, lines[i], c.lines.Text(), "trial %d: line %d", trial, i)
		}
		if stopped {
			c.expect(t, "stopped")
		}
		c.kill(t, nil)

		celsius := readBack(trial)
		flipped := 0 // the relabels whose new layout was current when the child said line at
		for _, l := range lines[:at+1] {
			if l == "flipped" {
				flipped++
			}
		}
		if stopped {
			require.Equal(t, flipped%2 == 1, celsius, "trial %d: stopped at line %d (%s) after %d flips", trial, at, lines[at], flipped)
		}
		mode := map[bool]string{true: "stopped at", false: "running after"}[stopped]
		outcomes[fmt.Sprintf("%-13s %-10s -> %s", mode, lines[at], map[bool]string{true: "readingCelsius", false: "readingTemp"}[celsius])]++

		// A Relabel completes from whatever the kill left.
		require.NoError(t, Relabel[readingTemp](path, LockTimeout(killedLockWait)), "trial %d", trial)
		require.False(t, readBack(trial), "trial %d", trial)
	}
	t.Logf("%d trials (%d lines a child):", trials, len(lines))
	for _, k := range slices.Sorted(maps.Keys(outcomes)) {
		t.Logf("  %s: %d", k, outcomes[k])
	}
}
