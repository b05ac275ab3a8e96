package memvec

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"syscall"
	"time"
)

// File is a file mapped shared into memory: a Memory whose bytes are the
// file's bytes, so that a vector stored in it survives the process.
//
// OpenFile locks the file with an advisory lock: exclusive for a writer,
// shared for ReadOnly. On Unix it is an flock on the file; on Windows a
// LockFileEx lock on one byte at offset 2^62, past any data, so that the
// lock (mandatory there for reads and writes of the bytes it covers) keeps
// out other memvec handles but not a program that only reads the file.
// Every handle that cooperates through the lock (every memvec in this
// process or another on this host) is kept out while it is held; a program
// that ignores the lock is not. The lock is per host: do not share a file
// over NFS.
//
// On Unix a writable File maps not just the file but the address space the
// file may grow into (see Reserve), shared, at once. Growth then only
// extends the file: the mapping is already there, so it neither moves nor
// changes, views stay valid, and the mapping stays one piece however often
// it grows. Pages past the end of the file are never handed out. Past the
// reservation the file is mapped anew at twice the size, and views taken
// before move.
//
// On Windows a view of a file cannot reach past the file's end nor grow, so
// every Resize (a growth, or a Clip) maps the file anew, at another address,
// and unmaps the old view: views taken before a resize are invalid after
// it. Pushes within the capacity resize nothing and move nothing. (A Clip
// that followers keep from truncating the file, and growth back into the
// bytes it kept, move nothing either.) Reserve does not apply. A
// follower's view moves too: at a Refresh or Wait that finds the file
// grown past what the follower maps, it maps the whole file anew and
// unmaps the old view, so views taken before that Refresh are invalid
// after it. (Placeholder mappings, VirtualAlloc2 and MapViewOfFile3, could
// keep the address, but Wine, which runs the Windows tests, does not
// support them, so they would go untested.)
//
// Growth reserves the disk blocks before the file's end covers them
// (fallocate on Linux, F_PREALLOCATE on macOS, the growth itself on
// Windows, where NTFS allocates a file's clusters as its size grows), so
// that a full disk is an error from Resize, and so from Push or Grow,
// rather than a SIGBUS (on Windows, an in-page exception) on a later write.
// A Resize that fails for want of disk leaves the file and the mapping
// unchanged. On Linux a writer's pushes fault the next pages in for writing
// ahead of them (blocks already reserved), a MiB at a time, sharing the work
// with a short-lived helper goroutine when GOMAXPROCS is more than 1;
// Resize, the paging hints and Close wait for the helper to return first.
//
// On Linux a writer's open also gives an existing file the blocks its
// writes will need (a sparse file's holes; on XFS, blocks of its own for a
// reflinked copy's shared ones), or fails with ENOSPC, and makes a new file
// on btrfs no-copy-on-write. Where every write goes to a new block (ZFS; on
// btrfs, a file that had data before memvec opened it) no reservation
// holds: see the README's Limits.
//
// A File is not safe for concurrent use; it is meant to be used by one
// vector.
type File struct {
	osFile      fileHandle // the open, locked file
	path        string
	b           []byte // the mapped file: len(b) is the file's size
	base        *byte  // start of the mapping
	mapped      int    // bytes mapped from base: on Unix a page multiple, past the end of the file when writable; on Windows the view's size, at most the file's
	fileSize    int    // the file's size: len(b), or more after a shrink that followers kept from truncating
	reserve     int    // the Reserve option
	readOnly    bool   // ReadOnly or Follow
	created     bool   // this handle's open created the file: see discard
	follow      bool   // Follow: a follower
	sizeChanged bool   // since the last Sync: fsync is needed too
	trimTo      int    // the size Close cuts the file to if no follower maps it (see trimAtClose); 0: none
	syncErr     error  // the first barrier that failed: every Sync after it returns it (see Sync)
	closed      bool
	touch       pretoucher    // faults pages in ahead of the pushes
	syncEvery   time.Duration // the SyncEvery option: the vector's syncer's period

	// changed is set once the file is found changed by another program
	// (see checkFile), and wraps ErrFileChanged: nothing is written to the
	// file through this handle after.
	changed error
	// pathReplaced is set by Migrate when it renames the new vector over
	// the path: from then on the path names another file by design.
	pathReplaced bool

	// What only some systems keep: see file_unix.go, file_windows.go and
	// file_other.go.
	fileOS
}

// OpenFile opens the file at path, creating it if missing (with the Mode
// option's permissions, 0644 by default) unless ReadOnly, Follow or
// MustExist is given, and only if missing with CreateNew, locks it, and
// maps it. An empty file maps nothing until it grows; New makes it an
// empty vector.
//
// It returns an error wrapping ErrLocked if another handle holds the lock
// past the LockTimeout (by default it does not wait), an error for options
// that contradict each other (CreateNew with MustExist, ReadOnly or Follow;
// Follow with ReadOnly or LockTimeout), an error wrapping ErrCorrupt if
// the path names a named pipe (FIFO), a device or a socket, which is no
// vector file, and EISDIR for a directory, and the system's error
// (fs.ErrNotExist, fs.ErrExist, fs.ErrPermission, ENOSPC, ...) wrapped with
// the path otherwise. It never waits but for the lock, up to the
// LockTimeout: not for a writer to a named pipe either, whose open for
// reading would wait for one. Opening costs O(1) whatever the file's size:
// nothing is read.
// (On Linux, a writer's open of a sparse file or of a reflinked copy on XFS
// first allocates the blocks it lacks, once, at a cost that follows them.)
func OpenFile(path string, opts ...Option) (*File, error) {
	o, err := fileOptions(path, opts)
	if err != nil {
		return nil, err
	}
	f, err := openFile(path, o)
	if err != nil {
		return nil, err
	}
	f.syncEvery = o.syncEvery
	return f, nil
}

// Bytes returns the mapped file; len(Bytes()) is the file's size. It returns
// nil after Close.
func (f *File) Bytes() []byte { return f.b }

// Name returns the path the file was opened with.
func (f *File) Name() string { return f.path }

// Reserved returns the bytes of address space the file's mapping holds:
// the region grows in place up to this size without moving (see Reserve).
// On Unix a writable file (and a follower) maps its whole reservation at
// once, DefaultReserve by default, so Reserved is that, or the file's size
// rounded up to pages if larger; a ReadOnly file reserves nothing past its
// size rounded up to pages. On Windows it is the size of the view, which
// is the region's size or, after a shrink that kept the file's size, the
// size the view had. It returns 0 after Close.
func (f *File) Reserved() int { return f.mapped }

// Mapped returns the bytes of the file that the mapping covers: on Unix the
// file's size (FileSize) rounded up to pages, at most Reserved, since the
// mapping's pages past the file's end hold nothing and are never handed
// out; on Windows the view's size, which is Reserved. It is at least
// len(Bytes()). It returns 0 after Close.
func (f *File) Mapped() int {
	if f.closed {
		return 0
	}
	return min(f.mapped, roundUp(f.fileSize, pageSize))
}

// FileSize returns the file's size in bytes as this handle last set or saw
// it, without asking the system: len(Bytes()), or more after a shrink (a
// Clip) that followers kept from truncating the file (see Resize). A
// follower's is the size it found at its open or its last Refresh or Wait
// that needed more of the file. It returns 0 after Close.
func (f *File) FileSize() int64 {
	if f.closed {
		return 0
	}
	return int64(f.fileSize)
}

// DiskSize returns the bytes of disk the file occupies, as the file system
// reports them now: on Unix st_blocks*512 from fstat, on Windows the
// allocation size (GetFileInformationByHandleEx, FileStandardInfo). Since
// growth reserves the blocks it maps (see File), it is at least the size
// of the elements written; it may be more (whole blocks, a file system's
// preallocation) or, on a compressing file system, less than FileSize. It
// returns an error wrapping ErrClosed after Close and the system's error
// otherwise.
func (f *File) DiskSize() (int64, error) {
	if f.closed {
		return 0, fmt.Errorf("memvec: stat %s: %w", f.path, ErrClosed)
	}
	n, err := f.diskSize()
	if err != nil {
		return 0, fmt.Errorf("memvec: stat %s: %w", f.path, err)
	}
	return n, nil
}

// HasWriter reports whether a writer (a handle opened without ReadOnly or
// Follow, in this process or another) holds the file now: what a follower,
// which opens whether or not one does, asks to tell a live file from one
// whose writer has gone. For a writer's own File it is true; for a
// ReadOnly File false, since its lock keeps writers out. A follower asks
// the system, taking no lock a writer waits on (a writer's open at the
// same instant is never refused for it): on Linux an open-file-description
// lock that every writer takes on a byte past the end of any file
// (F_OFD_GETLK), on Windows the same byte with LockFileEx. A writer that
// dies stops counting when the system releases its locks (on Linux at
// once, on Windows soon after). The answer may change the moment after it
// is given. On macOS, the BSDs and Solaris, which have no lock a follower
// could test without keeping a writer out, a follower's HasWriter returns
// an error wrapping errors.ErrUnsupported. It returns an error wrapping
// ErrClosed after Close.
func (f *File) HasWriter() (bool, error) {
	switch {
	case f.closed:
		return false, fmt.Errorf("memvec: lock %s: %w", f.path, ErrClosed)
	case !f.readOnly:
		return true, nil
	case !f.follow:
		return false, nil
	}
	held, err := writerAttached(f.osFile)
	if err != nil {
		return false, fmt.Errorf("memvec: lock %s: %w", f.path, err)
	}
	return held, nil
}

// ReadOnly reports whether the file was opened with ReadOnly or Follow.
func (f *File) ReadOnly() bool { return f.readOnly }

// following reports whether the file was opened with Follow.
func (f *File) following() bool { return f.follow }

// Resize sets the region's size to size bytes and maps all of it, keeping
// the common prefix; new bytes are zero. Growing reserves the new disk
// blocks first. It returns ErrReadOnly, ErrClosed, or the system's error
// (ENOSPC for a full disk) wrapped with the path, and then the file and its
// mapping are unchanged. It returns an error wrapping ErrFileChanged, and
// changes nothing, if another program has cut the file below the size this
// handle gave it, removed it or put another file at its path (on Windows,
// which refuses to cut a mapped file or remove an open one, a file cut or
// marked for deletion all the same): a growth from the size this handle
// remembers would bring the bytes cut back as zeros, and what is written
// to a file no path leads to is lost at Close. Sync and Close check the
// same.
//
// Shrinking truncates the file, unless followers (see Follow) are attached:
// the region then shrinks but the file keeps its size, so that no
// follower's view loses the bytes under it (reading them would fault). The
// next shrink without followers truncates. On Windows, which refuses to
// cut a file under a mapped view, a view that another program maps keeps
// the file's size too. On macOS, the BSDs and Solaris, which give the
// writer no way to see followers, a shrink never truncates the file; the
// bytes past the region come back as capacity when the file is opened
// again.
func (f *File) Resize(size int) error {
	switch {
	case f.closed:
		return fmt.Errorf("memvec: resize %s: %w", f.path, ErrClosed)
	case f.readOnly:
		return fmt.Errorf("memvec: resize %s: %w", f.path, ErrReadOnly)
	case size < 0:
		return fmt.Errorf("memvec: resize %s: negative size %d", f.path, size)
	case size == len(f.b) && size == f.fileSize:
		return nil
	}
	// Never extend, nor cut, a file that another program has changed:
	// growth would extend it from the size this handle remembers, and the
	// bytes that other program cut would come back as zeros.
	if err := f.checkFile(); err != nil {
		return fmt.Errorf("memvec: resize %s: %w", f.path, err)
	}
	f.touch.stop()
	if err := f.resize(size); err != nil {
		return fmt.Errorf("memvec: resize %s: from %d to %d bytes: %w", f.path, len(f.b), size, err)
	}
	f.sizeChanged = true
	return nil
}

// prefault faults in the pages of the file's bytes [off, off+n) for
// writing, in bulk, and has a helper goroutine fault in some beyond (see
// prefaulter and pretoucher). Growth has reserved their blocks (see
// Resize), so faulting them in writes nothing to the disk and cannot fail
// for want of space.
func (f *File) prefault(off, n int) {
	if f.base != nil {
		f.touch.prefault(f.b, off, n)
	}
}

// Sync writes the mapped bytes that changed to the disk and waits for them
// (msync), and, if the file's size changed since the last Sync, makes the
// size durable too (fsync); the first Sync of a file that was new (or empty)
// when opened also syncs its directory, so that the file's name survives
// (a directory the caller may not open, one it may write but not read such
// as another user's 0733 directory, is not synced, and that is no error:
// the name then survives a power loss once the system has written the
// directory back on its own). On macOS every Sync ends with an fsync, which there is F_FULLFSYNC: msync
// leaves the bytes in the drive's cache. On Windows it is FlushViewOfFile
// and FlushFileBuffers, every time. Its cost follows the bytes changed, not
// the file's size. It returns ErrClosed after Close and does nothing for a
// read-only file. It returns an error wrapping ErrFileChanged, and syncs
// nothing, if another program has cut the file, removed it or put another
// file at its path (see Resize).
//
// A Sync that fails may have lost the bytes it was to make durable, though
// the mapping may still read them for a while: the system reports a failed
// write-back once, marks those pages clean and may drop them, and a later
// msync or fsync returns nil without writing them again. So the failure is
// for good: the error wraps ErrSyncFailed and the system's error, and every
// later Sync returns it. Open the file again to go on.
func (f *File) Sync() error { return f.syncUpTo(len(f.b)) }

// syncUpTo is Sync of the file's first n bytes, in whole pages: the
// vector's barrier, which needs its header and its elements durable and
// nothing past them (see MemVec.syncElements). A Sync of the whole mapping
// would also write back the pages past the elements that the pretoucher
// made dirty ahead of the pushes, to write them again once the pushes
// reach them (BENCHMARKS.md, "Durable appends").
func (f *File) syncUpTo(n int) error {
	switch {
	case f.closed:
		return fmt.Errorf("memvec: sync %s: %w", f.path, ErrClosed)
	case f.readOnly:
		return nil
	case f.syncErr != nil:
		return f.syncErr
	}
	if err := f.checkFile(); err != nil {
		return fmt.Errorf("memvec: sync %s: %w", f.path, err)
	}
	if err := f.sync(n); err != nil {
		return f.failSync(err)
	}
	return nil
}

// syncHeader makes the file's first page, which holds the header, durable
// alone (syncFirstPage). The vector calls it to raise or lower the durable
// length (durable.go), and, after a barrier failed, to make its lowered
// header durable: so it does not refuse after a failure, but a failure of
// its own fails Sync, as Sync's does, since the system's report of a
// failed write-back may have been for any page of the file.
func (f *File) syncHeader() error {
	switch {
	case f.closed || f.readOnly || len(f.b) == 0:
		return nil
	case f.changed != nil:
		return fmt.Errorf("memvec: sync %s: %w", f.path, f.changed)
	}
	if err := f.syncFirstPage(); err != nil {
		return f.failSync(err)
	}
	return nil
}

// failSync returns err, the error of a barrier, as the failure it is
// (wrapping ErrSyncFailed), and keeps the first such failure for every
// later Sync.
func (f *File) failSync(err error) error {
	err = fmt.Errorf("memvec: sync %s: %w: %w", f.path, err, ErrSyncFailed)
	if f.syncErr == nil {
		f.syncErr = err
	}
	return err
}

// Close unmaps the file, releases the lock and closes the file, in that
// order. It does not sync: the bytes written are in the operating system's
// cache and reach the disk in time, also if the process exits or crashes,
// but only Sync makes them survive a power loss. A writable file that
// another program has changed (see Resize) is closed all the same, and
// Close returns an error wrapping ErrFileChanged: what was written to it
// may be lost. A second Close returns nil.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	changed := f.checkFile()
	f.closed = true
	f.touch.stop()
	err := errors.Join(changed, f.close())
	// Nothing of the mapping, nor of what the system kept (fileOS),
	// outlives Close.
	f.b, f.base, f.mapped, f.fileOS = nil, nil, 0, fileOS{}
	if err != nil {
		return fmt.Errorf("memvec: close %s: %w", f.path, err)
	}
	return nil
}

// trimAtClose makes Close cut the file to size bytes, after its mapping
// is gone, if it is larger and no follower is attached then (see
// followersAttached): the spare capacity a writer's growth reserved (up to
// the data's size, or 1 GiB, past the data: see MemVec.Grow) is not kept
// on the disk once the file is closed. The vector sets it, to what its
// elements and its header need.
func (f *File) trimAtClose(size int) { f.trimTo = size }

// trim cuts the file to the size trimAtClose set, for close, once the
// file's mapping is gone, before the lock is released: only if it is
// larger, if this handle writes the file and found no change by another
// program, and if no follower is attached, since a follower's mapping may
// reach past the cut (its view of elements the writer dropped) and would
// fault there. Where the writer cannot see followers (macOS, the BSDs,
// Solaris) it never cuts. A cut that fails (Windows refuses one under
// another program's view of the file) leaves the file as it was, which is
// no error: the bytes past the data hold nothing that counts.
func (f *File) trim() {
	if f.trimTo <= 0 || f.trimTo >= f.fileSize || f.readOnly || f.changed != nil {
		return
	}
	if followed, err := followersAttached(f.osFile); err != nil || followed {
		return
	}
	if f.osFile.Truncate(int64(f.trimTo)) == nil {
		f.fileSize = f.trimTo
	}
}

// checkFile returns an error wrapping ErrFileChanged if another program
// has changed the file under this writable handle: cut it below the size
// the handle gave it (FileSize), removed it, or put another file at its
// path (see fileChange for each system). The first such error is kept:
// from then on every check returns it, and nothing more is written to the
// file through this handle. A reader or a follower writes nothing and is
// not checked: its reads of a file cut under it fault, and memvec's own
// reads turn the fault into this error (see catchFault).
//
// It costs a system call or two (fstat, and a stat of the path), so it runs
// where the writer makes system calls anyway: growth, Sync and Close.
func (f *File) checkFile() error {
	if f.changed != nil || f.readOnly || f.closed {
		return f.changed
	}
	what, err := f.fileChange()
	if err != nil {
		return err
	}
	if what != "" {
		f.changed = fmt.Errorf("%s: %w", what, ErrFileChanged)
	}
	return f.changed
}

// cutError returns the error for a cut file, as checkFile words it: the
// file has size bytes, fewer than the handle gave it.
func (f *File) cutError(size int64) string {
	return fmt.Sprintf("the file was cut to %d bytes by another program, the vector had %d", size, f.fileSize)
}

// readFault returns the error for a memory fault in an access of the
// mapping of f. A file shorter than this handle's size was cut by another
// program: an error wrapping ErrFileChanged. A file that has all its bytes
// faulted because its filesystem could not give the page (a read that
// failed, a write into a block that a full disk could not allocate: a hole
// another program punched, or any block on a copy-on-write filesystem):
// an error wrapping EIO. Either way a writer writes nothing more through
// this handle.
func (f *File) readFault() error {
	var err error
	switch size, serr := f.currentSize(); {
	case serr != nil:
		err = fmt.Errorf("the file was cut by another program: %w", ErrFileChanged)
	case size < int64(f.fileSize):
		err = fmt.Errorf("%s: %w", f.cutError(size), ErrFileChanged)
	default:
		err = fmt.Errorf("an access of the mapping faulted, though the file has all its %d bytes: "+
			"its filesystem could not give the page (a failed read, or no room on the disk for a block "+
			"that is not allocated or is copied on write): %w", size, syscall.EIO)
	}
	if !f.readOnly && f.changed == nil {
		f.changed = err
	}
	return err
}

// followedSize returns the size of a follower's file, read again, or an
// error wrapping ErrCorrupt if it is smaller than size: the writer grows the
// file before its length counts the elements there, so a header that counts
// past the end is damage.
func followedSize(osf *os.File, size int) (int, error) {
	fi, err := osf.Stat()
	if err != nil {
		return 0, err
	}
	have := fi.Size()
	if have < int64(size) {
		return 0, corrupt("the header counts elements up to byte %d, the file has %d bytes", size, have)
	}
	if have > math.MaxInt {
		return 0, fmt.Errorf("%d bytes do not fit in this platform's address space", have)
	}
	return int(have), nil
}

// notRegular returns the error for a file of type typ (fs.FileMode's type
// bits) at a path that should hold a vector, which lives in a regular file
// only: EISDIR for a directory, as open(2) says to a writer, and for
// anything else (a named pipe, a device, a socket) an error wrapping
// ErrCorrupt, since it is no vector file. That is what errors.Is users
// already match for "something is at the path, and it is not a vector";
// the message says what it is instead.
func notRegular(typ fs.FileMode) error {
	what := "not a regular file (" + typ.String() + ")"
	switch {
	case typ.IsDir():
		return syscall.EISDIR
	case typ&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO), not a regular file"
	case typ&fs.ModeCharDevice != 0:
		what = "a character device, not a regular file"
	case typ&fs.ModeDevice != 0:
		what = "a block device, not a regular file"
	case typ&fs.ModeSocket != 0:
		what = "a socket, not a regular file"
	}
	return corrupt("%s", what)
}

// removeIfSame removes path if it names the file that have, the Stat of an
// open file, describes: the same device and inode (on Windows, volume and
// file index). The path's own entry is compared (Lstat), since that is what
// the removal removes. A path that names nothing, or another file, is left.
func removeIfSame(path string, have os.FileInfo) error {
	named, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !os.SameFile(have, named):
		return nil
	}
	return os.Remove(path)
}
