package memvec

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
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
	r         *region.File      // the file, locked and mapped: the region layer's part
	syncErr   error             // the first barrier that failed: every Sync after it returns it (see Sync)
	touch     region.Pretoucher // faults pages in ahead of the pushes
	syncEvery time.Duration     // the SyncEvery option: the vector's syncer's period
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
	return openFile(path, o)
}

// openFile opens the file at path with the options o.
func openFile(path string, o options) (*File, error) {
	r, err := region.OpenFile(path, o.region())
	if err != nil {
		return nil, err
	}
	return &File{r: r, syncEvery: o.syncEvery}, nil
}

// Bytes returns the mapped file; len(Bytes()) is the file's size. It returns
// nil after Close.
func (f *File) Bytes() []byte { return f.r.Bytes() }

// Name returns the path the file was opened with.
func (f *File) Name() string { return f.r.Path() }

// Reserved returns the bytes of address space the file's mapping holds:
// the region grows in place up to this size without moving (see Reserve).
// On Unix a writable file (and a follower) maps its whole reservation at
// once, DefaultReserve by default, so Reserved is that, or the file's size
// rounded up to pages if larger; a ReadOnly file reserves nothing past its
// size rounded up to pages. On Windows it is the size of the view, which
// is the region's size or, after a shrink that kept the file's size, the
// size the view had. It returns 0 after Close.
func (f *File) Reserved() int { return f.r.Reserved() }

// Mapped returns the bytes of the file that the mapping covers: on Unix the
// file's size (FileSize) rounded up to pages, at most Reserved, since the
// mapping's pages past the file's end hold nothing and are never handed
// out; on Windows the view's size, which is Reserved. It is at least
// len(Bytes()). It returns 0 after Close.
func (f *File) Mapped() int {
	if f.r.Closed() {
		return 0
	}
	return min(f.r.Reserved(), roundUp(f.r.Size(), pageSize))
}

// FileSize returns the file's size in bytes as this handle last set or saw
// it, without asking the system: len(Bytes()), or more after a shrink (a
// Clip) that followers kept from truncating the file (see Resize). A
// follower's is the size it found at its open or its last Refresh or Wait
// that needed more of the file. It returns 0 after Close.
func (f *File) FileSize() int64 {
	if f.r.Closed() {
		return 0
	}
	return int64(f.r.Size())
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
	if f.r.Closed() {
		return 0, fmt.Errorf("memvec: stat %s: %w", f.r.Path(), ErrClosed)
	}
	n, err := f.r.DiskSize()
	if err != nil {
		return 0, fmt.Errorf("memvec: stat %s: %w", f.r.Path(), err)
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
	if f.r.Closed() {
		return false, fmt.Errorf("memvec: lock %s: %w", f.r.Path(), ErrClosed)
	}
	held, err := f.r.HasWriter()
	if err != nil {
		return false, fmt.Errorf("memvec: lock %s: %w", f.r.Path(), err)
	}
	return held, nil
}

// ReadOnly reports whether the file was opened with ReadOnly or Follow.
func (f *File) ReadOnly() bool { return f.r.ReadOnly() }

// following reports whether the file was opened with Follow.
func (f *File) following() bool { return f.r.Following() }

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
	case f.r.Closed():
		return fmt.Errorf("memvec: resize %s: %w", f.r.Path(), ErrClosed)
	case f.r.ReadOnly():
		return fmt.Errorf("memvec: resize %s: %w", f.r.Path(), ErrReadOnly)
	case size < 0:
		return fmt.Errorf("memvec: resize %s: negative size %d", f.r.Path(), size)
	case size == len(f.r.Bytes()) && size == f.r.Size():
		return nil
	}
	// Never extend, nor cut, a file that another program has changed:
	// growth would extend it from the size this handle remembers, and the
	// bytes that other program cut would come back as zeros.
	if err := f.r.CheckChange(); err != nil {
		return fmt.Errorf("memvec: resize %s: %w", f.r.Path(), err)
	}
	f.touch.Stop()
	if err := f.r.Resize(size); err != nil {
		return fmt.Errorf("memvec: resize %s: from %d to %d bytes: %w", f.r.Path(), len(f.r.Bytes()), size, err)
	}
	return nil
}

// growShared is File.GrowShared for a Shared writer's vector: the helper
// that faults pages in stops first, as for every change of the mapping.
func (f *File) growShared(size int) error {
	f.touch.Stop()
	return f.r.GrowShared(size)
}

// prefault faults in the pages of the file's bytes [off, off+n) for
// writing, in bulk, and has a helper goroutine fault in some beyond (see
// prefaulter and pretoucher). Growth has reserved their blocks (see
// Resize), so faulting them in writes nothing to the disk and cannot fail
// for want of space.
func (f *File) prefault(off, n int) {
	if f.r.Base() != nil {
		f.touch.Prefault(f.r.Bytes(), off, n)
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
func (f *File) Sync() error { return f.syncUpTo(len(f.r.Bytes())) }

// syncUpTo is Sync of the file's first n bytes, in whole pages: the
// vector's barrier, which needs its header and its elements durable and
// nothing past them (see MemVec.syncElements). A Sync of the whole mapping
// would also write back the pages past the elements that the pretoucher
// made dirty ahead of the pushes, to write them again once the pushes
// reach them (BENCHMARKS.md, "Durable appends").
func (f *File) syncUpTo(n int) error {
	switch {
	case f.r.Closed():
		return fmt.Errorf("memvec: sync %s: %w", f.r.Path(), ErrClosed)
	case f.r.ReadOnly():
		return nil
	case f.syncErr != nil:
		return f.syncErr
	}
	if err := f.r.CheckChange(); err != nil {
		return fmt.Errorf("memvec: sync %s: %w", f.r.Path(), err)
	}
	if err := f.r.Sync(n); err != nil {
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
	case f.r.Closed() || f.r.ReadOnly() || len(f.r.Bytes()) == 0:
		return nil
	case f.r.Changed() != nil:
		return fmt.Errorf("memvec: sync %s: %w", f.r.Path(), f.r.Changed())
	}
	if err := f.r.SyncFirstPage(); err != nil {
		return f.failSync(err)
	}
	return nil
}

// failSync returns err, the error of a barrier, as the failure it is
// (wrapping ErrSyncFailed), and keeps the first such failure for every
// later Sync.
func (f *File) failSync(err error) error {
	err = fmt.Errorf("memvec: sync %s: %w: %w", f.r.Path(), err, ErrSyncFailed)
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
	if f.r.Closed() {
		return nil
	}
	f.touch.Stop()
	if err := f.r.Close(); err != nil {
		return fmt.Errorf("memvec: close %s: %w", f.r.Path(), err)
	}
	return nil
}

// trimAtClose makes Close cut the file to size bytes, after its mapping
// is gone, if it is larger and no follower is attached then: the spare
// capacity a writer's growth reserved (up to the data's size, or 1 GiB,
// past the data: see MemVec.Grow) is not kept on the disk once the file is
// closed. The vector sets it, to what its elements and its header need
// (see region.File.TrimAtClose).
func (f *File) trimAtClose(size int) { f.r.TrimAtClose(size) }

// checkFile returns an error wrapping ErrFileChanged if another program
// has changed the file under this writable handle (see
// region.File.CheckChange).
func (f *File) checkFile() error { return f.r.CheckChange() }

// readFault returns the error for a memory fault in an access of the
// mapping of f (see region.File.ReadFault).
func (f *File) readFault() error { return f.r.ReadFault() }

// followTo makes Bytes cover at least size bytes of a follower's file, if
// the file has them (see followedMemory).
func (f *File) followTo(size int) error { return f.r.FollowTo(size) }

// wakeWord returns a follower's writable wake word, or nil (see
// followedMemory).
func (f *File) wakeWord() *atomic.Uint32 { return f.r.WakeWord(format.OffWake) }

// What a vector asks of its Memory beyond the interface, a File has.
var (
	_ followedMemory = (*File)(nil)
	_ fileChecker    = (*File)(nil)
	_ headerSyncer   = (*File)(nil)
	_ prefaulter     = (*File)(nil)
	_ hinter         = (*File)(nil)
	_ readOnlyMemory = (*File)(nil)
	_ namedMemory    = (*File)(nil)
	_ prefaulter     = (*Anon)(nil)
	_ hinter         = (*Anon)(nil)
)
