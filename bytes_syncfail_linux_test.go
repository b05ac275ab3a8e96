//go:build linux && (amd64 || arm64)

package memvec

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func init() {
	children["bytessyncfail"] = bytesSyncFailChild
	children["bytessyncfailreopen"] = bytesSyncFailReopenChild
}

// bytesSyncFailChild runs TestFailedSyncIsSticky's workload on the Bytes
// at $MEMVEC_PATH, one step per line of its stdin: it pushes and syncs
// syncFailSynced records ("synced ok"); at "fail" (the filesystem refuses
// write-back from then on) it pushes up to syncFailPushed and syncs
// ("pushed N", "sync: ..."); at "recovered" it syncs; at "go on" it
// pushes, says its length and whether its records are the ones pushed,
// and closes.
func bytesSyncFailChild() {
	in := bufio.NewScanner(os.Stdin)
	step := func(want string) {
		if !in.Scan() || in.Text() != want {
			fmt.Printf("expected %q on stdin\n", want)
			os.Exit(childFailed)
		}
	}
	b, err := OpenBytes(os.Getenv("MEMVEC_PATH"))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	push := func(n int) error {
		for b.Len() < n {
			if err := b.Push(record(b.Len())); err != nil {
				return err
			}
		}
		return nil
	}
	if err := push(syncFailSynced); err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("synced", syncResult(b.Sync()))
	step("fail")
	if err := push(syncFailPushed); err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("pushed", b.Len())
	fmt.Println("sync:", syncResult(b.Sync()))
	step("recovered")
	fmt.Println("sync:", syncResult(b.Sync()))
	step("go on")
	fmt.Println("push:", syncResult(b.Push(record(b.Len()))))
	fmt.Println("append:", syncResult(b.Append(record(b.Len()))))
	fmt.Println("len", b.Len())
	fmt.Println(bytesRecordsOK(b))
	fmt.Println("close:", syncResult(b.Close()))
	io.Copy(io.Discard, os.Stdin)
}

// bytesRecordsOK says "records ok" if b holds record(i) at each i, or the
// first record that differs.
func bytesRecordsOK(b *Bytes) string {
	for i, p := range b.All() {
		if string(p) != string(record(i)) {
			return fmt.Sprintf("record %d is %q", i, p)
		}
	}
	return "records ok"
}

// bytesSyncFailReopenChild opens the Bytes at $MEMVEC_PATH again, as a new
// writer, says its length and whether its records are the ones pushed,
// pushes 10 more, syncs and closes.
func bytesSyncFailReopenChild() {
	b, err := OpenBytes(os.Getenv("MEMVEC_PATH"))
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("len", b.Len())
	fmt.Println(bytesRecordsOK(b))
	for range 10 {
		if err := b.Push(record(b.Len())); err != nil {
			fmt.Println(err)
			os.Exit(childFailed)
		}
	}
	fmt.Println("sync:", syncResult(b.Sync()))
	fmt.Println("close:", syncResult(b.Close()))
}

// TestBytesFailedSyncIsSticky: a Bytes whose Sync failed (the disk refused
// the write-back of either file) stays failed, as a vector does: the next
// Sync fails too, even once the disk takes writes again (the kernel
// reports a write-back error once, and the records it dropped are gone
// from the page cache), Push, Append and Close fail, the Bytes counts what
// the last good Sync covered, and a new writer, after the page cache is
// dropped, finds those records whole and goes on.
func TestBytesFailedSyncIsSticky(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EIO} {
		t.Run(unix.ErrnoName(errno), func(t *testing.T) {
			dir, cfs := mountCrashFS(t)
			path := dir // crashfs holds files, not directories: its root is the Bytes
			c := startChild(t, "bytessyncfail", "MEMVEC_PATH="+path)
			say := func(line string) {
				_, err := io.WriteString(c.stdin, line+"\n")
				require.NoError(t, err)
			}
			failed := "failed with " + unix.ErrnoName(errno)
			c.expect(t, "synced ok")
			cfs.failWriteBack(errno, 0, 0)
			say("fail")
			c.expect(t, "pushed "+strconv.Itoa(syncFailPushed))
			c.expect(t, "sync: "+failed)
			require.Positive(t, cfs.refused.Load(), "crashfs refused no write-back: the test tests nothing")
			cfs.failWriteBack(0, 0, 0)
			say("recovered")
			c.expect(t, "sync: "+failed)
			say("go on")
			c.expect(t, "push: "+failed)
			c.expect(t, "append: "+failed)
			c.expect(t, "len "+strconv.Itoa(syncFailSynced))
			c.expect(t, "records ok")
			c.expect(t, "close: "+failed)
			c.release(t)

			require.NoError(t, os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0), "drop the page cache")
			c = startChild(t, "bytessyncfailreopen", "MEMVEC_PATH="+path)
			c.expect(t, "len "+strconv.Itoa(syncFailSynced))
			c.expect(t, "records ok")
			c.expect(t, "sync: ok")
			c.expect(t, "close: ok")
			require.NoError(t, c.cmd.Wait())
		})
	}
}
