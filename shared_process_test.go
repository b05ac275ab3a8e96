//go:build linux || windows

package memvec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/memvec/memvec/internal/region"
	"github.com/stretchr/testify/require"
)

func init() {
	children["holdclass"] = holdClassChild
}

// classOptions returns the options that open a file as class: "excl" (an
// exclusive writer), "shared", "ro" (ReadOnly) or "follow".
func classOptions(class string) []Option {
	switch class {
	case "shared":
		return []Option{Shared()}
	case "ro":
		return []Option{ReadOnly()}
	case "follow":
		return []Option{Follow()}
	}
	return nil
}

// holdClassChild opens the file at $MEMVEC_PATH as $MEMVEC_CLASS (see
// classOptions) with OpenFile, waiting for its stdin to say go if
// $MEMVEC_GO is set, says "locked <id>" (its Shared identity, 0 for
// others) or "refused", and holds the file until its stdin is closed.
func holdClassChild() {
	if os.Getenv("MEMVEC_SLOW_ENTRY") != "" {
		// Held inside its entry for a while: another entrant that were not
		// kept out by the entry byte would take its own class byte meanwhile.
		region.ClassTaken = func() { time.Sleep(20 * time.Millisecond) }
	}
	if os.Getenv("MEMVEC_GO") != "" {
		var b [1]byte
		os.Stdin.Read(b[:])
	}
	f, err := OpenFile(os.Getenv("MEMVEC_PATH"), classOptions(os.Getenv("MEMVEC_CLASS"))...)
	switch {
	case errors.Is(err, ErrLocked):
		fmt.Println("refused")
		return
	case err != nil:
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("locked", f.r.SharedID())
	io.Copy(io.Discard, os.Stdin)
	if err := f.Close(); err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
}

// TestSharedLockClasses holds the file in a child process as each class,
// and opens it in this one as each class: an exclusive writer, Shared
// writers and ReadOnly readers exclude each other with ErrLocked, Shared
// writers and ReadOnly readers each share with their own class, and a
// follower is kept out by nobody.
func TestSharedLockClasses(t *testing.T) {
	path := filepath.Join(tempDir(t), "a.vec")
	writeVec(t, path, []point{{1, 2, 3}})
	classes := []string{"excl", "shared", "ro", "follow"}
	admits := map[[2]string]bool{
		{"shared", "shared"}: true, {"ro", "ro"}: true,
		{"excl", "follow"}: true, {"shared", "follow"}: true, {"ro", "follow"}: true, {"follow", "follow"}: true,
		{"follow", "excl"}: true, {"follow", "shared"}: true, {"follow", "ro"}: true,
	}
	for _, held := range classes {
		c := startChild(t, "holdclass", "MEMVEC_PATH="+path, "MEMVEC_CLASS="+held)
		require.True(t, c.lines.Scan())
		require.Regexp(t, `^locked \d+$`, c.lines.Text())
		for _, opening := range classes {
			f, err := OpenFile(path, classOptions(opening)...)
			if admits[[2]string{held, opening}] {
				require.NoError(t, err, "%s beside %s", opening, held)
				require.NoError(t, f.Close())
			} else {
				require.ErrorIs(t, err, ErrLocked, "%s beside %s", opening, held)
			}
		}
		c.release(t)
	}
}

// TestSharedOpensAtOnce starts Shared writers and ReadOnly readers in
// many processes that all open one file at the same moment, without
// waiting, each holding its class byte a while before it tests the
// other's: the two classes never both get in, and two entrants of one
// class never keep each other out, so all those of the class that got in
// first get in, each Shared writer with an identity of its own. With
// Shared writers alone, every one gets in. Six trials, alternately of
// writers alone and of both classes; two in short mode (CI's race and
// 32-bit steps, where each child process costs seconds).
func TestSharedOpensAtOnce(t *testing.T) {
	const each = 6
	trials := 6
	if testing.Short() {
		trials = 2
	}
	for trial := range trials {
		path := filepath.Join(tempDir(t), "a.vec")
		writeVec(t, path, []point{{1, 2, 3}})
		var kids []*child
		var classes []string
		for i := range 2 * each {
			class := "shared"
			if trial%2 == 1 && i%2 == 1 {
				class = "ro"
			}
			kids = append(kids, startChild(t, "holdclass", "MEMVEC_PATH="+path, "MEMVEC_CLASS="+class, "MEMVEC_GO=1", "MEMVEC_SLOW_ENTRY=1"))
			classes = append(classes, class)
		}
		for _, c := range kids {
			_, err := c.stdin.Write([]byte("g"))
			require.NoError(t, err)
		}
		in := map[string]int{}
		ids := map[int]bool{}
		for i, c := range kids {
			require.True(t, c.lines.Scan())
			line := c.lines.Text()
			if line == "refused" {
				continue
			}
			var id int
			_, err := fmt.Sscanf(line, "locked %d", &id)
			require.NoError(t, err, line)
			in[classes[i]]++
			if classes[i] == "shared" {
				require.False(t, ids[id], "identity %d given twice", id)
				ids[id] = true
			}
		}
		require.Len(t, in, 1, "trial %d: the classes that got in: %v", trial, in)
		if trial%2 == 0 {
			require.Equal(t, 2*each, in["shared"])
		} else {
			require.Equal(t, each, in["shared"]+in["ro"], "trial %d: every entrant of the class that got in got in", trial)
		}
		for _, c := range kids {
			c.release(t)
		}
	}
}

// TestSharedWriterAlive: a Shared writer tells another's life by its
// slot byte, which the system releases when the process is killed.
func TestSharedWriterAlive(t *testing.T) {
	path := filepath.Join(tempDir(t), "a.vec")
	writeVec(t, path, []point{{1, 2, 3}})
	c := startChild(t, "holdclass", "MEMVEC_PATH="+path, "MEMVEC_CLASS=shared")
	require.True(t, c.lines.Scan())
	id, err := strconv.Atoi(c.lines.Text()[len("locked "):])
	require.NoError(t, err)
	require.Equal(t, 1, id)
	f, err := OpenFile(path, Shared())
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, 2, f.r.SharedID())
	alive, err := f.r.SharedWriterAlive(id)
	require.NoError(t, err)
	require.True(t, alive)
	alive, err = f.r.SharedWriterAlive(3)
	require.NoError(t, err)
	require.False(t, alive)
	c.kill(t, nil)
	// Released at once on Linux; on Windows within killedLockWait.
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		alive, err := f.r.SharedWriterAlive(id)
		require.NoError(t, err)
		if !alive {
			break
		}
		require.Less(t, time.Since(start), killedLockWait, "the killed writer still counts as alive")
	}
	g, err := OpenFile(path, Shared())
	require.NoError(t, err)
	require.Equal(t, 1, g.r.SharedID(), "the dead writer's slot is free again")
	require.NoError(t, g.Close())
}
