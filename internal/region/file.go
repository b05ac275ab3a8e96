package region

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/memvec/memvec/internal/errs"
)

// Options says how OpenFile opens a file: the root package's options that
// concern the file, and the two sizes of the format that the file needs to
// know (HeadSize, HeadOnlyBlocks).
type Options struct {
	ReadOnly    bool          // open for reading, under a shared lock
	Follow      bool          // a follower: reads beside a writer, takes no lock a writer waits on
	Shared      bool          // a Shared writer: writes beside other Shared writers (see shared.go)
	MustExist   bool          // never create the file
	CreateNew   bool          // create the file; fail if it exists
	LockTimeout time.Duration // how long to wait for the lock
	Mode        fs.FileMode   // the permissions of a file the open creates
	Reserve     int           // address space a writer's mapping reserves (see File)
	Advice      Advice        // given to every mapping of the file
	// HeadSize is the size of the format's header: what the open reads
	// into the page cache with read(2) before anything touches the mapping
	// (see cacheHeader), and what a file must have for a follower to map
	// its wake word (see WakeWord).
	HeadSize int
	// HeadOnly readies the disk blocks of the first HeadOnlyBlocks bytes
	// only, not the whole file's (see ownBlocks): for an open that writes
	// there only.
	HeadOnly       bool
	HeadOnlyBlocks int
}

// File is a file opened, locked and mapped shared: a region whose bytes are
// the file's bytes. It grows in place with real disk blocks under it,
// syncs, watches for other programs' changes to the file, and tells a
// writer from its followers by their locks. See the root package's File
// for what each system does.
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
	trimTo      int    // the size Close cuts the file to if no follower maps it (see TrimAtClose); 0: none
	closed      bool
	unnamed     bool // made by CreateUnnamed: no name reaches it, no lock guards it
	nameStays   bool // an unnamed file whose name stays in its directory until Close (see createUnnamed on Windows)
	sharedID    int  // a Shared writer's identity, the slot byte it holds (see SharedID); 0 for any other handle

	// changed is the error of a change another program made to the file
	// under this writable handle, once found (see CheckChange): nothing is
	// written to the file after it.
	changed error
	// pathReplaced is set when this handle itself replaced or removed
	// the file at its path (Migrate, discard): fileChange then no longer
	// compares the path's file with the handle's.
	pathReplaced bool

	fileOS
}

// OpenFile opens, locks and maps the file at path. Its errors say
// "memvec: <op> <path>: ...".
func OpenFile(path string, o Options) (*File, error) { return openFile(path, o) }

// CreateUnnamed creates, in the directory dir, a file that no name
// reaches, opened for writing and empty, for a region that lives no longer
// than its process: on Linux an O_TMPFILE (where the filesystem has it), or
// else, on Unix, a file created with a random name and removed at once; on
// Windows a file created for deletion at its close and, where the system
// allows (NTFS since Windows 10 1709), removed at once with POSIX semantics
// (see createUnnamed for each). Its disk space goes back to the filesystem
// when Close closes it, or when the process dies and the system closes it.
//
// It grows as any writer's File does (Resize: the disk blocks first, then
// the mapping, inside its reservation), but it takes no lock (nobody else
// can open it), has no directory entry to sync, and is never compared with
// a path. name is what its errors call it, "memvec: <op> <name>: ...".
func CreateUnnamed(dir, name string, o Options) (*File, error) {
	f, err := createUnnamed(dir, name, o)
	if err != nil {
		return nil, fmt.Errorf("memvec: create %s: %w", name, err)
	}
	return f, nil
}

// Unnamed reports whether the file was made by CreateUnnamed.
func (f *File) Unnamed() bool { return f.unnamed }

// NameStays reports whether the name of a file CreateUnnamed made stays in
// its directory until Close: on Windows, where the system refused to
// remove it at once (see createUnnamed there). Never on Unix.
func (f *File) NameStays() bool { return f.nameStays }

// Bytes returns the mapped file: its length is the file's size.
func (f *File) Bytes() []byte { return f.b }

// Path returns the path the file was opened at.
func (f *File) Path() string { return f.path }

// OS returns the open file.
func (f *File) OS() fileHandle { return f.osFile }

// Base returns the start of the mapping.
func (f *File) Base() *byte { return f.base }

// Reserved returns the bytes mapped from Base (see the root's
// File.Reserved).
func (f *File) Reserved() int { return f.mapped }

// Size returns the file's size as this handle last set or saw it.
func (f *File) Size() int { return f.fileSize }

// ReadOnly reports whether the file was opened ReadOnly or Follow.
func (f *File) ReadOnly() bool { return f.readOnly }

// Following reports whether the file was opened Follow.
func (f *File) Following() bool { return f.follow }

// Created reports whether this handle's open created the file.
func (f *File) Created() bool { return f.created }

// Closed reports whether Close (or Discard) has run.
func (f *File) Closed() bool { return f.closed }

// Changed returns the change of the file by another program that this
// handle found, or nil (see CheckChange).
func (f *File) Changed() error { return f.changed }

// SetPathReplaced records that this handle has itself replaced or removed
// the file at its path: the path is no longer compared (see fileChange).
func (f *File) SetPathReplaced() { f.pathReplaced = true }

// DiskSize returns the bytes of disk the file occupies.
func (f *File) DiskSize() (int64, error) { return f.diskSize() }

// HasWriter reports whether a writer holds the file: true for a writer,
// false for a ReadOnly reader, and what the system says for a follower.
func (f *File) HasWriter() (bool, error) {
	switch {
	case !f.readOnly:
		return true, nil
	case !f.follow:
		return false, nil
	}
	return writerAttached(f.osFile)
}

// Resize sets the file's size to size bytes and maps all of it, keeping
// the common prefix (see resize): growth reserves the disk blocks first.
// On failure the file and its mapping are unchanged. The caller checks
// first that no other program has changed the file (CheckChange).
func (f *File) Resize(size int) error {
	if err := f.resize(size); err != nil {
		return err
	}
	f.sizeChanged = true
	return nil
}

// Sync makes the file's first n bytes durable, in whole pages (msync), and
// the file's size and directory entry if they changed (see sync). The
// caller checks first that no other program has changed the file
// (CheckChange).
func (f *File) Sync(n int) error { return f.sync(n) }

// SyncFirstPage makes the file's first page, which holds the header,
// durable alone.
func (f *File) SyncFirstPage() error { return f.syncFirstPage() }

// SyncPrefix makes the file's first n bytes durable (see syncPrefix).
func (f *File) SyncPrefix(n int) error { return f.syncPrefix(n) }

// FollowTo maps what a follower's file has now, which must be at least
// size bytes (see followTo).
func (f *File) FollowTo(size int) error { return f.followTo(size) }

// WakeWord returns the 32-bit word at offset off of a follower's file,
// mapped writable, or nil if the follower may not write the file (see
// wakeWord). A writer's is in Bytes.
func (f *File) WakeWord(off int) *atomic.Uint32 { return f.wakeWord(off) }

// Discard closes a file whose container could not be created or opened,
// and removes it if this handle's open created it (see discard).
func (f *File) Discard() error { return f.discard() }

// Close unmaps the file, cuts it to the size TrimAtClose set (see trim),
// releases the lock and closes the file, in that order. It returns the
// error of CheckChange too: what was written to a changed file may be
// lost. A second Close returns nil.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	changed := f.CheckChange()
	f.closed = true
	err := errors.Join(changed, f.close())
	// Nothing of the mapping, nor of what the system kept (fileOS),
	// outlives Close.
	f.b, f.base, f.mapped, f.fileOS = nil, nil, 0, fileOS{}
	return err
}

// TrimAtClose makes Close cut the file to size bytes, after its mapping
// is gone, if it is larger and no follower is attached then (see
// followersAttached): the spare capacity a writer's growth reserved is not
// kept on the disk once the file is closed.
func (f *File) TrimAtClose(size int) { f.trimTo = size }

// trim cuts the file to the size TrimAtClose set, for close, once the
// file's mapping is gone, before the lock is released: only if it is
// larger, if this handle writes the file and found no change by another
// program, and if no follower is attached, since a follower's mapping may
// reach past the cut (its view of elements the writer dropped) and would
// fault there. Where the writer cannot see followers (macOS, the BSDs,
// Solaris) it never cuts. A cut that fails (Windows refuses one under
// another program's view of the file) leaves the file as it was, which is
// no error: the bytes past the data hold nothing that counts.
func (f *File) trim() {
	// Shared writers never cut the file: the others' mappings, and
	// their elements, may reach past any size one of them would cut to.
	if f.trimTo <= 0 || f.trimTo >= f.fileSize || f.readOnly || f.changed != nil || f.sharedID != 0 {
		return
	}
	if followed, err := followersAttached(f.osFile); err != nil || followed {
		return
	}
	if f.osFile.Truncate(int64(f.trimTo)) == nil {
		f.fileSize = f.trimTo
	}
}

// CheckChange returns an error wrapping ErrFileChanged if another program
// has changed the file under this writable handle: cut it below the size
// the handle gave it (Size), removed it, or put another file at its path
// (see fileChange for each system). The first such error is kept: from
// then on every check returns it, and nothing more is written to the file
// through this handle. A reader or a follower writes nothing and is not
// checked: its reads of a file cut under it fault, and the containers'
// own reads turn the fault into this error (see ReadFault).
//
// It costs a system call or two (fstat, and a stat of the path), so it runs
// where the writer makes system calls anyway: growth, Sync and Close.
func (f *File) CheckChange() error {
	if f.changed != nil || f.readOnly || f.closed {
		return f.changed
	}
	what, err := f.fileChange()
	if err != nil {
		return err
	}
	if what != "" {
		f.changed = fmt.Errorf("%s: %w", what, errs.ErrFileChanged)
	}
	return f.changed
}

// cutError returns the error for a cut file, as CheckChange words it: the
// file has size bytes, fewer than the handle gave it.
func (f *File) cutError(size int64) string {
	return fmt.Sprintf("the file was cut to %d bytes by another program, the vector had %d", size, f.fileSize)
}

// ReadFault returns the error for a memory fault in an access of the
// mapping of f. A file shorter than this handle's size was cut by another
// program: an error wrapping ErrFileChanged. A file that has all its bytes
// faulted because its filesystem could not give the page (a read that
// failed, a write into a block that a full disk could not allocate: a hole
// another program punched, or any block on a copy-on-write filesystem):
// an error wrapping EIO. Either way a writer writes nothing more through
// this handle.
func (f *File) ReadFault() error {
	var err error
	switch size, serr := f.currentSize(); {
	case serr != nil:
		err = fmt.Errorf("the file was cut by another program: %w", errs.ErrFileChanged)
	case size < int64(f.fileSize):
		err = fmt.Errorf("%s: %w", f.cutError(size), errs.ErrFileChanged)
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
		return 0, errs.Corruptf("the header counts elements up to byte %d, the file has %d bytes", size, have)
	}
	if have > math.MaxInt {
		return 0, fmt.Errorf("%d bytes do not fit in this platform's address space", have)
	}
	return int(have), nil
}

// NotRegular returns the error for a file of type typ (fs.FileMode's type
// bits) at a path that should hold a container, which lives in a regular
// file only: EISDIR for a directory, as open(2) says to a writer, and for
// anything else (a named pipe, a device, a socket) an error wrapping
// ErrCorrupt, since it is no memvec file. That is what errors.Is users
// already match for "something is at the path, and it is not a vector";
// the message says what it is instead.
func NotRegular(typ fs.FileMode) error {
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
	return errs.Corruptf("%s", what)
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

// Abandon drops the file as a killed process's handle is dropped: it is
// unmapped and closed, its locks released, with nothing of Close's checks.
// Tests use it to leave a file as a writer that died leaves it.
func (f *File) Abandon() {
	f.close()
	f.closed = true
}
