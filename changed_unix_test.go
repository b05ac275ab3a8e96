//go:build unix

package memvec

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
	"github.com/stretchr/testify/require"
)

// TestWriterFileCut: another process cuts the file under its writer. The
// writer's next growth, Sync and Close return an error wrapping
// ErrFileChanged, and nothing of the file is written again through it: the
// growth does not extend the file from the size the writer remembered
// (which would bring the cut bytes back as zeros, counted as elements), and
// the header stays as the cut left it. Close still releases the lock. What
// the file then holds: a header that counts elements past the cut, which
// every open refuses as ErrCorrupt, or, if the cut took only spare
// capacity, the elements it counts, whole.
func TestWriterFileCut(t *testing.T) {
	size := int64(unsafe.Sizeof(point{}))
	// writer opens a new vector, appends n points and Syncs.
	writer := func(t *testing.T, n int) (string, *MemVec[point]) {
		path := vecPath(t)
		w, err := Open[point](path)
		require.NoError(t, err)
		t.Cleanup(func() { w.Close() })
		require.NoError(t, w.Append(pts(seq(n)...)...))
		require.NoError(t, w.Sync())
		return path, w
	}
	// requireRefused requires that w, its file found changed, refuses to
	// write, and that its Close releases the file all the same.
	requireRefused := func(t *testing.T, w *MemVec[point], path string) {
		head := fileHead(t, path, format.HeaderSize)
		cut := fileSize(t, path)
		require.ErrorIs(t, w.Sync(), ErrFileChanged)
		require.ErrorIs(t, w.Push(pt(-1)), ErrFileChanged)
		require.ErrorIs(t, w.Grow(1<<20), ErrFileChanged)
		require.ErrorIs(t, w.Close(), ErrFileChanged)
		require.NoError(t, w.Close(), "a second Close")
		require.Equal(t, cut, fileSize(t, path), "the file as the cut left it")
		require.Equal(t, head, fileHead(t, path, format.HeaderSize), "the header as the cut left it")
	}

	t.Run("growth", func(t *testing.T) {
		path, w := writer(t, 10_000)
		for w.Len() < w.Cap() {
			require.NoError(t, w.Push(pt(w.Len())))
		}
		full := fileSize(t, path)
		require.NoError(t, alterFile(t, path, "truncate", strconv.FormatInt(full/2, 10)))

		err := w.Append(pt(w.Len())) // past the capacity: the file must grow
		t.Log(err)
		require.ErrorIs(t, err, ErrFileChanged)
		require.ErrorContains(t, err, "memvec: resize "+path+": the file was cut to "+strconv.FormatInt(full/2, 10)+" bytes by another program")
		require.Equal(t, full/2, fileSize(t, path), "the file was grown back")
		requireRefused(t, w, path)

		_, err = Open[point](path)
		require.ErrorIs(t, err, ErrCorrupt)
		_, err = OpenRaw(path)
		require.ErrorIs(t, err, ErrCorrupt)
	})

	t.Run("sync, the elements cut", func(t *testing.T) {
		path, w := writer(t, 10_000)
		require.NoError(t, w.Append(pts(seq(5_000)...)...))
		half := (int64(ptOff) + int64(w.Len())*size) / 2
		require.NoError(t, alterFile(t, path, "truncate", strconv.FormatInt(half, 10)))

		err := w.Sync()
		require.ErrorIs(t, err, ErrFileChanged)
		require.EqualError(t, err, "memvec: sync "+path+": the file was cut to "+strconv.FormatInt(half, 10)+
			" bytes by another program, the vector had "+strconv.FormatInt(w.mem.(*File).FileSize(), 10)+": file changed under this handle")
		requireRefused(t, w, path)

		_, err = Open[point](path)
		require.ErrorIs(t, err, ErrCorrupt)
	})

	t.Run("sync, the spare capacity cut", func(t *testing.T) {
		path, w := writer(t, 0)
		require.NoError(t, w.Grow(100_000))
		require.NoError(t, w.Append(pts(seq(1_000)...)...))
		end := roundUp(ptOff+w.Len()*int(size), pageSize)
		require.Less(t, int64(end), fileSize(t, path))
		require.NoError(t, alterFile(t, path, "truncate", strconv.Itoa(end)))

		requireRefused(t, w, path)
		// The elements the header counts are all there.
		r := openVec[point](t, path, ReadOnly())
		require.Equal(t, pts(seq(1_000)...), r.Slice())
	})

	t.Run("close, the spare capacity cut", func(t *testing.T) {
		path, w := writer(t, 0)
		require.NoError(t, w.Grow(100_000))
		require.NoError(t, w.Append(pts(seq(1_000)...)...))
		end := roundUp(ptOff+w.Len()*int(size), pageSize)
		require.NoError(t, alterFile(t, path, "truncate", strconv.Itoa(end)))
		head := fileHead(t, path, format.HeaderSize)
		require.ErrorIs(t, w.Close(), ErrFileChanged)
		require.Equal(t, head, fileHead(t, path, format.HeaderSize), "the header as the cut left it")
		require.Equal(t, int64(end), fileSize(t, path))
	})

	t.Run("close", func(t *testing.T) {
		path, w := writer(t, 10_000)
		require.NoError(t, w.Append(pts(seq(5_000)...)...))
		had := w.mem.(*File).FileSize()
		require.NoError(t, alterFile(t, path, "truncate", "0"))
		err := w.Close()
		require.ErrorIs(t, err, ErrFileChanged)
		require.EqualError(t, err, "memvec: close "+path+": the file was cut to 0 bytes by another program, the vector had "+
			strconv.FormatInt(had, 10)+": file changed under this handle")
		require.Zero(t, fileSize(t, path))
		// Released: a writer opens the file, empty, as a new vector.
		v := openVec[point](t, path)
		require.Zero(t, v.Len())
	})
}

// TestWriterFileRemovedOrReplaced: another process removes the file under
// its writer, renames it away, or renames another file over its path. The
// writer goes on writing the file it has open, which no path leads to any
// more (or another), so its Sync, Close and growth return an error wrapping
// ErrFileChanged rather than nil: what it writes from then on is lost, or
// lands where nobody looks. Close still releases the file.
func TestWriterFileRemovedOrReplaced(t *testing.T) {
	for _, how := range []string{"remove", "rename", "replace"} {
		t.Run(how, func(t *testing.T) {
			dir := tempDir(t)
			path := filepath.Join(dir, "test.vec")
			w, err := Open[point](path)
			require.NoError(t, err)
			t.Cleanup(func() { w.Close() })
			require.NoError(t, w.Append(pts(seq(1_000)...)...))
			require.NoError(t, w.Sync())
			want := "the file was removed or renamed by another program"
			switch how {
			case "remove":
				require.NoError(t, alterFile(t, path, "remove"))
			case "rename":
				require.NoError(t, alterFile(t, path, "rename", filepath.Join(dir, "moved.vec")))
			case "replace":
				other := filepath.Join(dir, "other.vec")
				require.NoError(t, os.WriteFile(other, nil, 0o644))
				require.NoError(t, alterFile(t, path, "replace", other))
				want = "another file was put at the file's path by another program"
			}
			require.NoError(t, w.Push(pt(1_000)), "a push within the capacity writes the file the writer has")

			err = w.Sync()
			require.ErrorIs(t, err, ErrFileChanged)
			require.EqualError(t, err, "memvec: sync "+path+": "+want+": file changed under this handle")
			require.ErrorIs(t, w.Push(pt(1_001)), ErrFileChanged)
			require.ErrorIs(t, w.Close(), ErrFileChanged)
			require.NoError(t, w.Close(), "a second Close")
		})
	}

	t.Run("growth", func(t *testing.T) {
		path := vecPath(t)
		w := openVec[point](t, path)
		require.NoError(t, w.Push(pt(0)))
		require.NoError(t, alterFile(t, path, "remove"))
		require.ErrorIs(t, w.Grow(1<<20), ErrFileChanged)
		require.ErrorIs(t, w.Close(), ErrFileChanged)
	})

	t.Run("close", func(t *testing.T) {
		path := vecPath(t)
		w := openVec[point](t, path)
		require.NoError(t, w.Push(pt(0)))
		require.NoError(t, alterFile(t, path, "remove"))
		require.ErrorIs(t, w.Close(), ErrFileChanged)
	})
}

// TestWriterPathAfterChdir: a file opened by a relative path is the same
// file after the program changes its working directory, and a hard link
// added elsewhere changes nothing: the writer's checks of the path's file
// look where the path led at the open.
func TestWriterPathAfterChdir(t *testing.T) {
	dir := tempDir(t)
	t.Chdir(dir)
	w := openVec[point](t, "test.vec")
	require.NoError(t, w.Push(pt(0)))
	require.NoError(t, os.Link(filepath.Join(dir, "test.vec"), filepath.Join(dir, "link.vec")))
	t.Chdir(tempDir(t))
	require.NoError(t, w.Sync())
	require.NoError(t, w.Grow(1<<20))
	require.NoError(t, w.Close())
}

// TestFollowerFileCutToZero: another process cuts the file to 0 bytes
// under a follower that waits for more elements, asleep on the wake word
// (Linux) or polling. Its Wait, and then its Refresh, return an error
// wrapping ErrFileChanged: the follower's loads of the header fault, and
// the fault is not the end of the program. So for a follower in another
// process, and for a Raw. The writer's Close finds the file cut, too.
func TestFollowerFileCutToZero(t *testing.T) {
	withSleepMax(t, sleepMaxCut)
	// waitCut has wait sleep (or poll) in another goroutine until the
	// file at path, of which the follower had had bytes, is cut to 0 by
	// another process, and requires its error to wrap ErrFileChanged; then
	// refresh's too.
	waitCut := func(t *testing.T, path string, had int64, wake uintptr, wait func() error, refresh func() error) {
		done := make(chan error, 1)
		go func() { done <- wait() }()
		if wake != 0 {
			awaitFollowerAsleep(t, wake)
		}
		require.NoError(t, alterFile(t, path, "truncate", "0"))
		err := awaitDone(t, done)
		t.Log(err)
		what := path + ": the file was cut to 0 bytes by another program, the vector had " + strconv.FormatInt(had, 10) + ": file changed under this handle"
		require.ErrorIs(t, err, ErrFileChanged)
		require.EqualError(t, err, "memvec: wait "+what)
		err = refresh()
		require.ErrorIs(t, err, ErrFileChanged)
		require.EqualError(t, err, "memvec: refresh "+what)
	}
	writer := func(t *testing.T) (string, *MemVec[point]) {
		path := vecPath(t)
		w, err := Open[point](path)
		require.NoError(t, err)
		t.Cleanup(func() { w.Close() })
		require.NoError(t, w.Append(pts(seq(1_000)...)...))
		return path, w
	}

	for _, sleeps := range []bool{true, false} {
		name := "polling"
		if sleeps {
			name = "asleep"
		}
		t.Run(name, func(t *testing.T) {
			path, w := writer(t)
			f := follow[point](t, path)
			var wake uintptr
			if sleeps && region.CanSleep {
				wake = wakeAddr(f)
			} else {
				f.mem.(*File).r.PollOnly() // as for a file the follower may not write
			}
			waitCut(t, path, f.mem.(*File).FileSize(), wake,
				func() error { _, err := f.Wait(context.Background(), f.Len()); return err },
				func() error { _, err := f.Refresh(); return err })
			require.ErrorIs(t, w.Close(), ErrFileChanged)
			require.NoError(t, f.Close())
		})
	}

	t.Run("raw", func(t *testing.T) {
		path, w := writer(t)
		r, err := OpenRaw(path, Follow())
		require.NoError(t, err)
		defer r.Close()
		before, ok := r.Info()
		require.True(t, ok)
		var wake uintptr
		if region.CanSleep {
			wake = wakeAddr(r.v)
		}
		waitCut(t, path, r.v.mem.(*File).FileSize(), wake,
			func() error { _, err := r.Wait(context.Background(), r.Len()); return err },
			func() error { _, err := r.Refresh(); return err })
		// Info reads the header as of the last Refresh that succeeded,
		// not the mapped file, which would fault now.
		after, ok := r.Info()
		require.True(t, ok)
		require.Equal(t, before, after)
		require.ErrorIs(t, w.Close(), ErrFileChanged)
		require.NoError(t, r.Close())
	})

	t.Run("process", func(t *testing.T) {
		path, w := writer(t)
		c := startChild(t, "followcut", "MEMVEC_PATH="+path)
		require.True(t, c.lines.Scan())
		addr, err := strconv.ParseUint(c.lines.Text()[2:], 16, 64)
		require.NoError(t, err, c.lines.Text())
		if region.CanSleep {
			awaitSleeper(t, c.cmd.Process.Pid, uintptr(addr))
		}
		require.NoError(t, os.Truncate(path, 0)) // this process is another program, for the follower
		require.True(t, c.lines.Scan(), "the follower said nothing: %v", c.lines.Err())
		t.Log(c.lines.Text())
		require.Regexp(t, `^changed: memvec: wait `+regexp.QuoteMeta(path)+`: the file was cut to 0 bytes by another program.*: file changed under this handle$`, c.lines.Text())
		c.release(t)
		require.ErrorIs(t, w.Close(), ErrFileChanged)
	})
}

// TestCatchFault: catchFault turns a fault in the mapping of a file that
// another process cut into an error wrapping ErrFileChanged, in memvec's
// form, also for Populate's read of each page (region.TouchPages, where the
// system has no MADV_POPULATE_READ); it puts SetPanicOnFault back as it
// was, and lets any other panic go on: an index out of range, a nil
// pointer's fault. A writer that met the fault writes no more.
func TestCatchFault(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(seq(1_000)...)...))
	f := w.mem.(*File)
	b, had := f.Bytes(), f.FileSize()
	require.NoError(t, alterFile(t, path, "truncate", "0"))
	guarded := func(read func() byte) (err error) {
		defer catchFault(f, "read", debug.SetPanicOnFault(true), &err)
		region.TouchSink.Store(uint32(read()))
		return nil
	}

	err := guarded(func() byte { return b[ptOff] })
	require.ErrorIs(t, err, ErrFileChanged)
	require.EqualError(t, err, "memvec: read "+path+": the file was cut to 0 bytes by another program, the vector had "+strconv.FormatInt(had, 10)+": file changed under this handle")
	require.False(t, debug.SetPanicOnFault(false), "the setting is put back")
	require.ErrorIs(t, guarded(func() byte { region.TouchPages(b); return 0 }), ErrFileChanged)

	var nothing []byte
	require.Panics(t, func() { guarded(func() byte { return nothing[len(b)] }) })
	var none *byte
	require.Panics(t, func() { guarded(func() byte { return *none }) })
	require.False(t, debug.SetPanicOnFault(false), "the setting is put back after a panic")

	require.ErrorIs(t, w.Sync(), ErrFileChanged)
	require.ErrorIs(t, w.Close(), ErrFileChanged)
}

// TestChecksumFaultInAPart: the checksum of a large range, computed in
// parts on other goroutines (checksum), meets a file that another process
// cut: a fault in a part's goroutine, or in the caller's own part, is an
// error wrapping ErrFileChanged from the caller's catchFault, not the end
// of the program, and no part's goroutine reads the mapping after.
func TestChecksumFaultInAPart(t *testing.T) {
	for _, cut := range []struct {
		name string
		at   func(size int) int
	}{
		{"in the second part only", func(size int) int { return (size/2 + 1<<20) &^ (pageSize - 1) }},
		{"in every part", func(int) int { return 0 }},
	} {
		t.Run(cut.name, func(t *testing.T) {
			path := vecPath(t)
			w := openVec[point](t, path)
			require.NoError(t, w.Append(pts(seq(200_000)...)...))
			f := w.mem.(*File)
			b := f.Bytes()
			require.Greater(t, len(b), 2<<20, "a cut past the first part")
			require.NoError(t, alterFile(t, path, "truncate", strconv.Itoa(cut.at(len(b)))))
			err := func() (err error) {
				defer catchFault(f, "close", debug.SetPanicOnFault(true), &err)
				region.TouchSink.Store(format.ChecksumParts(b, 2))
				return nil
			}()
			require.ErrorIs(t, err, ErrFileChanged)
			require.ErrorIs(t, w.Close(), ErrFileChanged)
		})
	}
}

// withSleepMax sets sleepMax to d until the test ends.
func withSleepMax(t *testing.T, d time.Duration) {
	old := sleepMax
	sleepMax = d
	t.Cleanup(func() { sleepMax = old })
}

// fileHead returns the first n bytes of the file at path, as a program
// that reads it sees them.
func fileHead(t *testing.T, path string, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	b := make([]byte, n)
	_, err = f.ReadAt(b, 0)
	require.NoError(t, err)
	return b
}
