//go:build linux && (amd64 || arm64)

package memvec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func init() {
	children["syncfail"] = syncFailChild
	children["syncfailreopen"] = syncFailReopenChild
	children["syncfailmigrate"] = syncFailMigrateChild
}

// The workload of TestFailedSyncIsSticky: syncFailSynced elements synced,
// then more, up to syncFailPushed, whose write-back fails.
const syncFailSynced, syncFailPushed = 1000, 5000

// syncResult says how a call of the failing workload ended, in a line the
// test compares: "ok", "failed with ENOSPC" (or EIO) for an error wrapping
// both ErrSyncFailed and that errno, or else the error itself.
func syncResult(err error) string {
	if err == nil {
		return "ok"
	}
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EIO} {
		if errors.Is(err, ErrSyncFailed) && errors.Is(err, errno) {
			fmt.Fprintln(os.Stderr, err) // for the test's log
			return "failed with " + unix.ErrnoName(errno)
		}
	}
	return err.Error()
}

// syncFailChild runs the workload of issue 17 on the vector at $MEMVEC_PATH,
// one step per line of its stdin: it pushes and syncs syncFailSynced
// elements ("synced ok"); at "fail" (the filesystem refuses write-back from
// then on) it pushes up to syncFailPushed and syncs ("pushed N", "sync:
// ..."); at "recovered" (the filesystem writes again) it syncs; at "go on"
// it pushes, syncs the File, says its length and whether its elements are
// the ones pushed, and closes.
func syncFailChild() {
	in := bufio.NewScanner(os.Stdin)
	step := func(want string) {
		if !in.Scan() || in.Text() != want {
			fmt.Printf("expected %q on stdin\n", want)
			os.Exit(childFailed)
		}
	}
	v, err := Open[crashRec](os.Getenv("MEMVEC_PATH"))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	push := func(n int) error {
		for v.Len() < n {
			if err := v.Push(makeCrashRec(uint64(v.Len()))); err != nil {
				return err
			}
		}
		return nil
	}
	if err := push(syncFailSynced); err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("synced", syncResult(v.Sync()))
	os.Mkdir(filepath.Join(filepath.Dir(os.Getenv("MEMVEC_PATH")), "mark-1"), 0o755)

	step("fail")
	if err := push(syncFailPushed); err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("pushed", v.Len())
	fmt.Println("sync:", syncResult(v.Sync()))

	step("recovered")
	fmt.Println("sync:", syncResult(v.Sync()))
	step("go on")
	fmt.Println("push:", syncResult(v.Push(makeCrashRec(uint64(v.Len())))))
	fmt.Println("file sync:", syncResult(v.Memory().Sync()))
	fmt.Println("len", v.Len())
	whole := "elements ok"
	for i, x := range v.All() {
		if x != makeCrashRec(uint64(i)) {
			whole = fmt.Sprintf("element %d is %v", i, x)
			break
		}
	}
	fmt.Println(whole)
	fmt.Println("close:", syncResult(v.Close()))
	io.Copy(io.Discard, os.Stdin)
}

// syncFailReopenChild opens the vector at $MEMVEC_PATH again, as a new
// writer, says its length and whether its elements are the ones pushed,
// pushes 10 more, syncs and closes.
func syncFailReopenChild() {
	v, err := Open[crashRec](os.Getenv("MEMVEC_PATH"))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("len", v.Len())
	whole := "elements ok"
	for i, x := range v.All() {
		if x != makeCrashRec(uint64(i)) {
			whole = fmt.Sprintf("element %d is %v", i, x)
			break
		}
	}
	fmt.Println(whole)
	for range 10 {
		if err := v.Push(makeCrashRec(uint64(v.Len()))); err != nil {
			fmt.Println(err)
			os.Exit(childFailed)
		}
	}
	fmt.Println("sync:", syncResult(v.Sync()))
	fmt.Println("close:", syncResult(v.Close()))
}

// writeBack has the kernel write back the file's first page, if dirty, as
// its own write-back would, and waits for it.
func writeBack(t *testing.T, path string) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	require.NoError(t, unix.SyncFileRange(fd, 0, int64(pageSize), unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER))
}

// requirePushed writes data (what the disk holds of the file) to check,
// opens it read-only and requires that it counts at least least elements, each the
// one pushed at its index: none zero, none torn. It returns the count.
func requirePushed(t *testing.T, check string, data []byte, least int, where string) int {
	t.Helper()
	require.NoError(t, os.WriteFile(check, data, 0o644))
	v, err := Open[crashRec](check, ReadOnly())
	require.NoError(t, err, where)
	defer v.Close()
	require.GreaterOrEqual(t, v.Len(), least, "%s: elements a Sync made durable were lost", where)
	for i, x := range v.All() {
		if x != makeCrashRec(uint64(i)) {
			require.Fail(t, "an element that was never written is counted", "%s: element %d of %d is %v", where, i, v.Len(), x)
		}
	}
	return v.Len()
}

// TestFailedSyncIsSticky reproduces issue 17 on crashfs: a Sync covers the
// first 1,000 elements; then the filesystem refuses write-back of the next
// 4,000, and recovers. It refuses every WRITE (ENOSPC); or all but those
// of the first page (EIO), so that the header, counting 5,000, reaches the
// disk, as in the issue; or that, and then the first page too, so that the
// vector cannot lower that header until the filesystem recovers. The Sync
// that covered the 4,000 fails, and so do every later Sync and Close, the
// Push between and the File's own Sync (ErrSyncFailed, and the errno): the
// kernel marked the pages clean, so a Sync that returned nil would say
// durable what is not. The vector counts the 1,000 from the failure on,
// and so does the file: on the disk as it is (what a reader finds once the
// page cache is dropped, with no power loss) once the filesystem takes the
// header, in every state a power loss could leave at any point, and for a
// new writer that opens it after the page cache is dropped, which then
// works as usual. No state counts an element that was not written: none
// reads zero.
func TestFailedSyncIsSticky(t *testing.T) {
	for _, tt := range []struct {
		name   string
		errno  syscall.Errno
		from   int64 // the WRITEs that reach past this byte fail,
		passes int64 // and the others too after this many (-1: never)
	}{
		{"every write-back refused", syscall.ENOSPC, 0, 0},
		{"the header written back, the rest refused", syscall.EIO, int64(pageSize), -1},
		{"the header written back once, the rest refused", syscall.EIO, int64(pageSize), 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Until it recovers, the disk keeps a header that counts the
			// lost elements if it takes one write of the header, and
			// refuses the next.
			testFailedSyncIsSticky(t, tt.errno, tt.from, tt.passes, tt.passes >= 0 && tt.from > 0)
		})
	}
}

func testFailedSyncIsSticky(t *testing.T, errno syscall.Errno, from, passes int64, stale bool) {
	dir, cfs := mountCrashFS(t)
	const name = "failing.vec"
	path := filepath.Join(dir, name)
	c := startChild(t, "syncfail", "MEMVEC_PATH="+path)
	say := func(line string) {
		_, err := io.WriteString(c.stdin, line+"\n")
		require.NoError(t, err)
	}
	failed := "failed with " + unix.ErrnoName(errno)
	c.expect(t, "synced ok")

	cfs.failWriteBack(errno, from, passes)
	say("fail")
	c.expect(t, "pushed "+strconv.Itoa(syncFailPushed))
	c.expect(t, "sync: "+failed)
	require.Positive(t, cfs.refused.Load(), "crashfs refused no write-back: the test tests nothing")
	// The file as the disk holds it, with no power loss: what a reader
	// finds once the page cache is dropped.
	check := filepath.Join(tempDir(t), "state.vec")
	disk := func() []byte {
		log := cfs.events()
		return imageAt(log, len(log), name).current
	}
	if !stale {
		require.Equal(t, syncFailSynced, requirePushed(t, check, disk(), syncFailSynced, "the disk after the failed Sync"),
			"the header on the disk counts what the Sync that succeeded covered")
	}

	cfs.failWriteBack(0, 0, 0)
	// Where the disk refused the lowered header, the vector left its page
	// dirty, so that the kernel's own write-back writes it once the disk
	// takes it (here an open, since FUSE invalidates the cache at each,
	// and sync_file_range).
	writeBack(t, path)
	require.Equal(t, syncFailSynced, requirePushed(t, check, disk(), syncFailSynced, "the disk after the kernel's write-back"),
		"the header on the disk counts what the Sync that succeeded covered")
	say("recovered")
	c.expect(t, "sync: "+failed) // the kernel reports the error once: this Sync must not return nil
	require.Equal(t, syncFailSynced, requirePushed(t, check, disk(), syncFailSynced, "the disk after the next Sync"),
		"the header on the disk counts what the Sync that succeeded covered")
	say("go on")
	c.expect(t, "push: "+failed)
	c.expect(t, "file sync: "+failed)
	c.expect(t, "len "+strconv.Itoa(syncFailSynced))
	c.expect(t, "elements ok")
	c.expect(t, "close: "+failed)
	c.release(t)
	require.Equal(t, syncFailSynced, requirePushed(t, check, disk(), syncFailSynced, "the disk after Close"))

	// A new writer, after the page cache is dropped: it reads the disk.
	require.NoError(t, os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0), "drop the page cache")
	c = startChild(t, "syncfailreopen", "MEMVEC_PATH="+path)
	c.expect(t, "len "+strconv.Itoa(syncFailSynced))
	c.expect(t, "elements ok")
	c.expect(t, "sync: ok")
	c.expect(t, "close: ok")
	require.NoError(t, c.cmd.Wait())
	log := cfs.events()
	require.Equal(t, syncFailSynced+10, requirePushed(t, check, imageAt(log, len(log), name).current, syncFailSynced+10, "the disk after the new writer"))

	// Every state a power loss could leave, at every point of the log.
	reboot(t)
	mark := -1 // the mark after the Sync that succeeded: from then on, its 1,000 elements must stay
	states := 0
	r := rand.New(rand.NewPCG(17, 1))
	for k := range len(log) + 1 {
		least := 0
		if mark >= 0 && k > mark {
			least = syncFailSynced
		}
		for _, st := range imageAt(log, k, name).states(r, 3) {
			where := fmt.Sprintf("power loss at event %d of %d, state %q", k, len(log), st.how)
			if !st.ok {
				require.Zero(t, least, "%s: the file is gone, but a Sync had returned", where)
				continue
			}
			requirePushed(t, check, st.data, least, where)
			states++
		}
		if k < len(log) && log[k].kind == evMark {
			mark = k
		}
	}
	require.GreaterOrEqual(t, mark, 0, "the workload's mark is missing from the log")
	t.Logf("%d power-loss states checked, from %d events", states, len(log))
}

// syncFailMigrateChild writes 1,000 points to a new vector at $MEMVEC_PATH,
// syncs and closes it ("ready"); at "go" (the filesystem refuses
// write-back) it migrates it to migratedPoint ("migrate: ...") and says
// whether the temporary file is gone; at "recovered" (the filesystem writes
// again, the page cache dropped) it says whether the path holds the old
// vector, whole.
func syncFailMigrateChild() {
	path := os.Getenv("MEMVEC_PATH")
	in := bufio.NewScanner(os.Stdin)
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	v, err := Open[point](path)
	if err != nil {
		fail(err)
	}
	if err := v.Append(pts(seq(1000)...)...); err != nil {
		fail(err)
	}
	if err := errors.Join(v.Sync(), v.Close()); err != nil {
		fail(err)
	}
	fmt.Println("ready")
	in.Scan()
	fmt.Println("migrate:", syncResult(Migrate(path, migratePoint)))
	_, err = os.Stat(migrateTempPath(path))
	fmt.Println("temp gone:", errors.Is(err, fs.ErrNotExist))
	in.Scan()
	old, err := Open[point](path, ReadOnly())
	if err != nil {
		fail(err)
	}
	fmt.Println("old vector whole:", slices.Equal(old.Slice(), pts(seq(1000)...)))
}

// TestMigrateFailedSyncKeepsOld: a Migrate whose new file's write-back
// fails (crashfs refuses every WRITE but those of a file's first page, so
// that the new file is created) returns an error wrapping ErrSyncFailed and
// the errno, and renames nothing: the path holds the old vector, whole,
// also once the page cache is dropped, and the temporary file is gone.
func TestMigrateFailedSyncKeepsOld(t *testing.T) {
	dir, cfs := mountCrashFS(t)
	c := startChild(t, "syncfailmigrate", "MEMVEC_PATH="+filepath.Join(dir, "old.vec"))
	c.expect(t, "ready")
	cfs.failWriteBack(syscall.EIO, int64(pageSize), -1)
	_, err := io.WriteString(c.stdin, "go\n")
	require.NoError(t, err)
	c.expect(t, "migrate: failed with EIO")
	c.expect(t, "temp gone: true")
	require.Positive(t, cfs.refused.Load(), "crashfs refused no write-back: the test tests nothing")
	cfs.failWriteBack(0, 0, 0)
	require.NoError(t, os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0), "drop the page cache")
	_, err = io.WriteString(c.stdin, "recovered\n")
	require.NoError(t, err)
	c.expect(t, "old vector whole: true")
	c.release(t)
}
