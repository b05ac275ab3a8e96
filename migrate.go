package memvec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/memvec/memvec/internal/region"
)

// Migrate rewrites the vector file at path, stored for element type From,
// as a vector of To, converting each element with convert, in order.
// Interrupted at any moment (an error, a panic in convert, a crash, kill -9,
// a power loss), the file at path is either the old vector, intact, or the
// new one, complete: never a mixture, never missing. It is how a
// file's element type changes, as when a struct gains a field:
//
//	type PointV1 struct{ X, Y float64 }
//	type PointV2 struct{ X, Y, Z float64 }
//
//	err := memvec.Migrate(path, func(p PointV1) PointV2 { return PointV2{X: p.X, Y: p.Y} })
//
// Until then, opening the file with PointV2 returns ErrTypeMismatch: the
// layout stored in the file is what keeps old elements from being read as
// new ones.
//
// How, in order, and why that order:
//
//  1. Migrate opens the file as its writer (Open with MustExist), taking
//     the exclusive lock that it holds to the end (on Windows, up to the
//     rename: see below). A file that another handle holds is an error
//     wrapping ErrLocked, after the LockTimeout if one is given; one
//     written for another type than From, ErrTypeMismatch; a missing one,
//     fs.ErrNotExist. Nothing is created or changed then.
//  2. Under the lock, it removes what an interrupted Migrate of the same
//     file left: the temporary file beside it, named path plus
//     ".memvec-migrate.tmp". Only the holder of the file's lock ever
//     writes that name, so what is there is a leftover, never another
//     Migrate's work in progress. Open never looks at it.
//  3. It creates the temporary file (CreateNew), reserves its disk blocks
//     for all the elements at once (so that a full disk fails here, before
//     any conversion), and appends the converted elements in batches of
//     256 KiB: memory stays constant whatever the file's size (the pages
//     read and written are dropped behind, every 64 MiB, with DontNeed).
//  4. It syncs the new file, elements and header, and closes it: the new
//     vector must be on the disk before a name can lead to it, or a power
//     loss after the rename could leave the path naming a file whose
//     elements never got there.
//  5. It renames the temporary file over path: one atomic step, in which
//     the path goes from naming the old file to naming the new one.
//  6. It syncs the directory (Unix), so that the rename itself survives a
//     power loss; before that, a power loss leaves the old vector. (A
//     directory the caller may not open, one it may write but not read,
//     is not synced, and that is no error: see File.Sync. The rename then
//     survives a power loss once the system has written the directory
//     back on its own.)
//  7. It closes the old vector, releasing the lock.
//
// An error at any step up to the rename removes the temporary file and
// leaves the old vector as it was; so does a panic in convert, which
// Migrate lets through after cleaning up. A crash leaves the temporary
// file, which the next Migrate removes (step 2) and everything else
// ignores. An error after the rename (the directory's sync) says that the
// new vector is in place.
//
// A symbolic link at path is followed: the file it leads to is replaced,
// beside itself, and the link is kept.
//
// Handles that had the old file open: a process (or goroutine) that waits
// in Open with a LockTimeout for the lock Migrate holds gets the new file,
// not the old one, once Migrate ends: an open checks, once it has the lock,
// that the path still names the file it locked, and opens it again if not.
// A follower (see Follow) of the old file keeps it: it goes on reading the
// old elements, which nothing changes any more, without a fault, and its
// Refresh and Wait see no new ones. To follow the new vector, open the path
// again.
//
// Windows cannot rename over a file that is open: memvec's handles do not
// share the file for deletion (so that no program deletes or renames a
// vector file under them), and MoveFileEx needs the target to have no
// handle at all. So there Migrate closes the old vector, releasing its lock,
// just before the rename (MoveFileEx with MOVEFILE_REPLACE_EXISTING), and
// an open that comes in between finds the old file, never a missing one.
// If any handle has the old file open at the rename (a follower, a
// ReadOnly reader, an Open waiting for the lock, or one that took it in
// between), the rename fails: Migrate returns an error wrapping ErrLocked,
// removes the new file, and the old one stays, with whatever that handle
// writes. What Windows does not exclude is an Open that locks, writes and
// closes the old file entirely between Migrate's close and its rename, a
// window of a few system calls: what it wrote is lost with the old file.
// Keep writers away while migrating on Windows. There is no directory to
// sync there: Migrate flushes the new file after the rename
// (FlushFileBuffers), which commits NTFS's journal, the rename with it.
//
// Of the options, LockTimeout applies to the old file's lock; Mode, Reserve
// and Advise apply to the new file. The new file's permission bits are by
// default exactly the old file's (and on Unix, where the process may set
// them, so are its owner and group); Mode sets them instead, before the
// umask, as for Open. ReadOnly, Follow, MustExist and CreateNew make no
// sense here: Migrate returns an error naming them.
//
// The new vector holds exactly the old one's elements, converted, in a file
// of their size rounded up to whole pages: no spare capacity past that.
// Migrate costs one read of the old file and one write of the new one, made
// durable; the disk must have room for both files at once (a full disk is
// an error wrapping ENOSPC, and the old vector stays).
func Migrate[From, To any](path string, convert func(From) To, opts ...Option) (err error) {
	defer func() {
		if err != nil {
			err = &fileOpError{op: "migrate", path: path, err: err}
		}
	}()
	o, err := migrateOptions(opts)
	if err != nil {
		return err
	}
	if _, err := layoutFor[From](); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if _, err := layoutFor[To](); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	target, err := followLink(path)
	if err != nil {
		return err
	}

	// 1. The old vector, locked to the end. The conversion reads it once,
	// in order.
	oldOpts := []Option{MustExist(), Advise(AdviseSequential)}
	if o.lockWaits {
		oldOpts = append(oldOpts, LockTimeout(o.lockTimeout))
	}
	old, err := Open[From](target, oldOpts...)
	if err != nil {
		return err
	}
	defer func() {
		if old != nil {
			old.Close()
		}
	}()
	// The path names the file locked: the open checked (see openLocked).
	oldInfo, err := os.Stat(target)
	if err != nil {
		return err
	}

	// 2. What an interrupted Migrate left.
	tmp := migrateTempPath(target)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove what an interrupted migration left: %w", err)
	}
	migrateStep("locked")

	// 3. The new vector, beside the old one: a rename does not cross file
	// systems.
	mode := oldInfo.Mode().Perm()
	if o.modeGiven {
		mode = o.mode
	}
	nv, err := Open[To](tmp, CreateNew(), Mode(mode), Reserve(o.reserve), Advise(o.advice))
	if err != nil {
		// An open that created the file and then failed (a full disk
		// has no room for the header) leaves it: the name is this
		// Migrate's alone (step 2), so it goes.
		os.Remove(tmp)
		return err
	}
	renamed := false
	defer func() {
		// Also on a panic in convert: the old file stays, the new goes.
		if nv != nil {
			nv.Close()
		}
		if !renamed {
			os.Remove(tmp)
		}
	}()
	if err := nv.mem.(*File).r.AdoptOwnership(oldInfo, !o.modeGiven); err != nil {
		return fmt.Errorf("give %s the old file's permissions: %w", tmp, err)
	}
	migrateStep("created")
	if err := convertInto(nv, old, convert); err != nil {
		return err
	}

	// 4. The new vector on the disk before any name leads to it. Close
	// after Sync records nothing new: the header says what Sync made
	// durable.
	if err := nv.Sync(); err != nil {
		return err
	}
	migrateStep("synced")
	err, nv = nv.Close(), nil
	if err != nil {
		return err
	}
	migrateStep("closed")

	// 5, 6 and 7: the rename, the directory, the lock (see replaceFile for
	// each system's order).
	release := func() error {
		v := old
		old = nil
		return v.Close()
	}
	// The path names the new vector from the rename on: the old one's
	// Close must not take that for another program's doing (see
	// File.checkFile).
	old.mem.(*File).r.SetPathReplaced()
	renamed, err = region.ReplaceFile(tmp, target, release, migrateStep)
	return err
}

// convertInto appends convert(x) for every x of old to v, in batches of
// migrateBatchBytes, having first reserved room for all of them: a full
// disk fails before anything is converted. Behind every migrateWindowBytes
// of the new vector, it drops the pages of both vectors from its memory
// (DontNeed: hints, whose failure changes nothing), so that converting a
// file larger than the memory does not push the rest of the system out.
func convertInto[From, To any](v *MemVec[To], old *MemVec[From], convert func(From) To) error {
	src := old.Slice()
	if err := v.Grow(len(src)); err != nil {
		return err
	}
	size := int(unsafe.Sizeof(*new(To)))
	batch, window := migrateBatchBytes, migrateWindowBytes
	if size > 0 {
		batch, window = max(1, batch/size), max(1, window/size)
	}
	buf := make([]To, 0, min(batch, len(src)))
	dropped := 0
	for i := 0; i < len(src); i += batch {
		buf = buf[:0]
		for _, x := range src[i:min(i+batch, len(src))] {
			buf = append(buf, convert(x))
		}
		if err := v.Append(buf...); err != nil {
			return err
		}
		if n := v.Len(); n-dropped >= window {
			v.DontNeed(dropped, n)
			old.DontNeed(dropped, n)
			dropped = n
		}
		migrateStep("batch")
	}
	return nil
}

// migrateBatchBytes is the size of a batch of converted elements: the
// memory Migrate allocates, whatever the size of the file. A variable, so
// that the crash tests can make batches small.
var migrateBatchBytes = 256 << 10

// migrateWindowBytes is how much of the new vector Migrate writes between
// two DontNeed hints behind it.
const migrateWindowBytes = 64 << 20

// migrateStepHook, when set by a test, is called at each step of Migrate with
// its name: "locked" (the old file is open and locked, leftovers are
// removed), "created" (the temporary file), "batch" (after every batch of
// elements appended), "synced", "closed" (the new file), "renamed",
// "dirsynced" (the rename is durable) and "released" (the old file is
// closed; on Windows this comes before "renamed").
var migrateStepHook func(step string)

// migrateStep calls migrateStepHook, if a test set it.
func migrateStep(step string) {
	if migrateStepHook != nil {
		migrateStepHook(step)
	}
}

// migrateTempPath returns the name of the temporary file beside path that
// Migrate writes the new vector to.
func migrateTempPath(path string) string { return path + ".memvec-migrate.tmp" }

// followLink returns the file that path leads to if path is a symbolic
// link, so that Migrate replaces that file and keeps the link, and path
// otherwise.
func followLink(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return path, nil
	}
	return filepath.EvalSymlinks(path)
}

// migrateOptions builds Migrate's options and refuses those that make no
// sense for it, naming them.
func migrateOptions(opts []Option) (options, error) {
	o := buildOptions(opts)
	name := o.firstGiven("ReadOnly", "Follow", "MustExist", "CreateNew", "SyncEvery", "TempDir")
	if name == "" {
		return o, nil
	}
	return o, fmt.Errorf("option %s does not apply to Migrate, which opens the old file as its writer and creates the new one itself", name)
}

// fileOpError is an error of an operation on a file by its path, Migrate's
// or Relabel's: "memvec: <op> <path>: <cause>", with the cause's own
// "memvec: " dropped, so that the message says it once. errors.Is and
// errors.As see the cause.
type fileOpError struct {
	op, path string
	err      error
}

func (e *fileOpError) Error() string {
	return "memvec: " + e.op + " " + e.path + ": " + strings.TrimPrefix(e.err.Error(), "memvec: ")
}

func (e *fileOpError) Unwrap() error { return e.err }
