//go:build unix || windows

package memvec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// The tests of a file that another program truncates, removes or replaces
// while memvec has it open (issue 17): the other program is a child
// process (alterChild), or for a follower this test process, which is
// another program from the follower's point of view.

func init() {
	children["alter"] = alterChild
	children["followcut"] = followCutChild
}

// alterChild changes the file at $MEMVEC_PATH as another program would,
// by $MEMVEC_ALTER: "truncate N" cuts it to N bytes, "remove" removes it,
// "rename P" renames it to P, "replace P" renames the file P over it. It
// prints "ok", or the error.
func alterChild() {
	path := os.Getenv("MEMVEC_PATH")
	how, arg, _ := strings.Cut(os.Getenv("MEMVEC_ALTER"), " ")
	var err error
	switch how {
	case "truncate":
		var n int64
		if n, err = strconv.ParseInt(arg, 10, 64); err == nil {
			err = os.Truncate(path, n)
		}
	case "remove":
		err = os.Remove(path)
	case "rename":
		err = os.Rename(path, arg)
	case "replace":
		err = os.Rename(arg, path)
	default:
		err = fmt.Errorf("unknown alteration %q", how)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ok")
}

// alterFile has another process change the file at path (see alterChild)
// and returns the error it met, or nil.
func alterFile(t *testing.T, path string, alter ...string) error {
	t.Helper()
	c := startChild(t, "alter", "MEMVEC_PATH="+path, "MEMVEC_ALTER="+strings.Join(alter, " "))
	require.True(t, c.lines.Scan(), "the altering process said nothing: %v", c.lines.Err())
	said := c.lines.Text()
	c.release(t)
	if said != "ok" {
		return errors.New(said)
	}
	return nil
}

// followCutChild follows the vector of points at $MEMVEC_PATH, prints the
// address of its wake word, waits for more than the elements it has, and
// prints what Wait returned: "changed: <error>" if the error wraps
// ErrFileChanged, which is what the test that cuts the file under it
// wants, and exits childFailed otherwise. Its sleeps on the wake word last
// at most sleepMaxCut, so that it looks at the file again soon after the
// cut, as a follower does within sleepMax.
func followCutChild() {
	sleepMax = sleepMaxCut
	f, err := Open[point](os.Getenv("MEMVEC_PATH"), Follow())
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Printf("%#x\n", uintptr(unsafe.Pointer(f.mem.(*File).wakeWord())))
	_, err = f.Wait(context.Background(), f.Len())
	if !errors.Is(err, ErrFileChanged) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("changed:", err)
	if err := f.Close(); err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
}

// sleepMaxCut is sleepMax for the followers of a file that is cut under
// them: a follower asleep in Wait, whom nobody wakes after the cut, looks
// at the file again after this long. (The other tests make sleepMax an
// hour, so that a lost wake-up shows.)
const sleepMaxCut = 10 * time.Millisecond
