package region

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/memvec/memvec/internal/errs"
	"golang.org/x/sys/windows"
)

// fileHandle is the open file behind a File.
type fileHandle = *os.File

// fileOS is empty on Windows: a follower has no wake word to write (there
// is no futex across processes; Wait polls), and there is no directory to
// sync (see sync).
type fileOS struct{}

// openFile opens, locks and maps the file at path.
func openFile(path string, o Options) (_ *File, err error) {
	flag := os.O_RDWR | os.O_CREATE
	switch {
	case o.ReadOnly || o.Follow:
		// A follower opens read-only and never creates the file. It
		// never writes the wake word either: Windows has no futex that
		// works across processes (see wakeWord).
		flag = os.O_RDONLY
	case o.MustExist:
		flag = os.O_RDWR // OPEN_EXISTING
	case o.CreateNew:
		flag = os.O_RDWR | os.O_CREATE | os.O_EXCL // CREATE_NEW: one step, one winner
	}
	// os.OpenFile shares the file for reading and writing
	// (FILE_SHARE_READ|FILE_SHARE_WRITE), so that a follower and a writer,
	// or readers, open it together; the locks decide who may. It does not
	// share it for deletion: no handle of memvec lets the file be deleted
	// or renamed while it is open. So the file that an open waiting for the
	// lock gets is still the one its path names: nothing, not even Migrate,
	// can rename another file over the path while this handle is open, and
	// the check that openLocked makes on Unix after locking is not needed.
	osf, created, err := openCreating(path, flag, o.Mode)
	if err != nil {
		return nil, fmt.Errorf("memvec: %w", err) // *PathError: op, path and error
	}
	// Refused before it is locked: a device or a pipe may not take a lock.
	if fi, err := osf.Stat(); err != nil || !fi.Mode().IsRegular() {
		osf.Close()
		if err == nil {
			err = &fs.PathError{Op: "open", Path: path, Err: NotRegular(fi.Mode().Type())}
		}
		return nil, fmt.Errorf("memvec: %w", err)
	}
	start := time.Now()
	var sharedID int
	lock := func() error {
		err := lockFile(osf, o.ReadOnly || o.Shared, o.LockTimeout)
		if err == nil {
			if sharedID, err = lockClass(osf, o, o.LockTimeout-time.Since(start)); err != nil {
				unlockFile(osf)
			}
		}
		return err
	}
	if o.Follow {
		// A follower takes no lock that a writer waits on: only the
		// follower byte, shared (see follow_windows.go). File.close
		// releases the lock it took.
		lock = func() error { return lockFollower(osf) }
	}
	if err := lock(); err != nil {
		osf.Close()
		return nil, fmt.Errorf("memvec: lock %s: %w", path, err)
	}
	if !o.ReadOnly && !o.Follow {
		markWriter(osf, o.Shared) // for File.HasWriter of the followers
	}
	// Every error below unlocks and closes the file, and removes it if
	// this open created it (see discard).
	f := &File{osFile: osf, path: path, readOnly: o.ReadOnly || o.Follow, follow: o.Follow, reserve: o.Reserve, created: created, sharedID: sharedID}
	defer func() {
		if err != nil {
			f.discard()
		}
	}()
	fi, err := osf.Stat()
	if err != nil {
		return nil, fmt.Errorf("memvec: %w", err)
	}
	size := fi.Size()
	if size > math.MaxInt {
		return nil, fmt.Errorf("memvec: open %s: %d bytes do not fit in this platform's address space", path, size)
	}
	if o.Follow {
		// The writer may grow the file (or, before it sees this
		// follower's lock, cut it) after the Stat: followTo maps what the
		// file has when it maps.
		if err := f.followTo(0); err != nil {
			return nil, fmt.Errorf("memvec: map %s: %w", path, err)
		}
		return f, nil
	}
	if size > 0 {
		if err := f.mapView(int(size)); err != nil {
			return nil, fmt.Errorf("memvec: map %s: %w", path, err)
		}
	}
	f.fileSize = int(size)
	f.setSize(int(size))
	return f, nil
}

// openCreating opens path with flag (os.OpenFile's) and reports whether
// this open created the file. An open that may create the file (O_CREATE
// without O_EXCL: OPEN_ALWAYS) opens it without O_CREATE first
// (OPEN_EXISTING) and creates it, if missing, with O_EXCL (CREATE_NEW), so
// that it knows whether it created it: only a file this open created may be
// removed when what follows fails (see File.discard). If another open
// creates the file in between, it opens it as O_CREATE does, and counts it
// as not created. CreateFile does not wait on what it opens, so there is
// nothing here of what openDescriptor does on Unix for named pipes.
func openCreating(path string, flag int, mode fs.FileMode) (*os.File, bool, error) {
	switch {
	case flag&os.O_CREATE == 0:
		osf, err := os.OpenFile(path, flag, mode)
		return osf, false, err
	case flag&os.O_EXCL != 0:
		osf, err := os.OpenFile(path, flag, mode)
		return osf, err == nil, err
	}
	osf, err := os.OpenFile(path, flag&^os.O_CREATE, mode)
	if !errors.Is(err, fs.ErrNotExist) {
		return osf, false, err
	}
	osf, err = os.OpenFile(path, flag|os.O_EXCL, mode)
	if !errors.Is(err, fs.ErrExist) {
		return osf, err == nil, err
	}
	osf, err = os.OpenFile(path, flag, mode)
	return osf, false, err
}

// discard closes a file whose vector could not be created or opened, and,
// if this handle's open created it (see openCreating), removes it: nothing
// is left of an open that failed, and an open with CreateNew may try
// again. Windows removes no file that a handle has open without sharing
// it for deletion, which memvec's handles do not (see openFile): so the
// file is closed first, then removed if the path still names it (volume
// and file index). A handle that opened it in between and still has it
// makes the removal fail, and discard returns that error; an open that
// locked it, wrote it and closed it again entirely in between, a window
// of a few system calls, loses what it wrote.
func (f *File) discard() error {
	if f.closed {
		return nil
	}
	if !f.created {
		return f.Close()
	}
	have, err := f.osFile.Stat()
	cerr := f.Close()
	if err == nil {
		err = removeIfSame(f.path, have)
	}
	return errors.Join(err, cerr)
}

// resize changes the region's size. On Windows a view of a file cannot
// reach past the file's end nor grow, so a resize that needs more than the
// view maps the file anew, and one that truncates the file unmaps it first:
// either moves the region (see File). A shrink that followers keep from
// truncating the file (see File.Resize), and growth back into the bytes it
// kept, only change the region's length within the view: the region does
// not move.
//
// Growth past the file's end creates a file mapping object (a section) of
// the new size, which extends the file first: NTFS allocates the clusters
// of a file's new end at once, so a full disk is ERROR_DISK_FULL here, not
// a fault in a later write. The old view stays mapped until the new one
// is, so a growth that the disk refuses leaves the region where it was.
// One that fails later, for want of address space, must unmap the old view
// to give the file its size back, and maps it again, possibly elsewhere.
func (f *File) resize(size int) error {
	if size < f.fileSize {
		followed, err := followersAttached(f.osFile)
		if err != nil {
			return err
		}
		if !followed {
			return f.truncate(size)
		}
		// Followers may map the bytes past size: keep them (Windows would
		// refuse to cut them from under a follower's view anyway, with
		// ERROR_USER_MAPPED_FILE).
	}
	if size <= f.mapped {
		f.setSize(size)
		return nil
	}
	region := len(f.b)
	err := f.mapView(size)
	if err == nil {
		f.fileSize = max(f.fileSize, size)
		f.setSize(size)
		return nil
	}
	// MapViewOfFile failed (no address space) after the new section may
	// have extended the file: give the file its size back.
	if fi, serr := f.osFile.Stat(); serr == nil && fi.Size() == int64(f.fileSize) {
		return err
	}
	return errors.Join(err, f.restore(region))
}

// truncate cuts the file to size bytes and maps it at that size. Windows
// refuses to cut a file under a mapped view (ERROR_USER_MAPPED_FILE), so
// the view goes first, then the file is cut and mapped again.
//
// Another handle's view refuses the cut too: a follower that took its lock
// after followersAttached looked and mapped the file before the cut (or a
// program that maps the file). The file then keeps its size, as it does for
// the followers that followersAttached sees, and the region is mapped again
// at size.
func (f *File) truncate(size int) error {
	region := len(f.b)
	if err := f.unmapView(); err != nil {
		return err
	}
	err := f.osFile.Truncate(int64(size))
	switch {
	case err == nil:
		f.fileSize = size
	case errors.Is(err, windows.ERROR_USER_MAPPED_FILE):
		// The file is as it was, and f.fileSize with it.
	default:
		// The file is as it was: map it as it was.
		return errors.Join(err, f.remap(region))
	}
	if size > 0 {
		// If this fails, which needs the address space to run out between
		// the unmap and here, the File is left with no region and the
		// vector with no elements it can reach.
		if err := f.mapView(size); err != nil {
			f.setSize(0)
			return err
		}
	}
	f.setSize(size)
	return nil
}

// restore gives the file back its size, f.fileSize, after a growth whose
// section extended it but whose view failed, and maps the region of region
// bytes again, possibly elsewhere: the old view goes first, since Windows
// asks for every view to be unmapped before a file is cut. If another
// handle's view refuses the cut (a follower that mapped the file while it
// was longer), the file keeps the size it has.
func (f *File) restore(region int) error {
	err := f.unmapView()
	if err == nil {
		err = f.osFile.Truncate(int64(f.fileSize))
		if errors.Is(err, windows.ERROR_USER_MAPPED_FILE) {
			var fi os.FileInfo
			if fi, err = f.osFile.Stat(); err == nil {
				f.fileSize = int(fi.Size())
			}
		}
	}
	if err != nil {
		f.setSize(0)
		return fmt.Errorf("restore the size of %d bytes: %w", f.fileSize, err)
	}
	return f.remap(region)
}

// remap maps the first region bytes of the file again, after its view was
// unmapped: how a failed resize puts the region back as it was, though
// possibly elsewhere. If that fails, the File is left with no region.
func (f *File) remap(region int) error {
	if region > 0 {
		if err := f.mapView(region); err != nil {
			f.setSize(0)
			return fmt.Errorf("map the %d bytes again: %w", region, err)
		}
	}
	f.setSize(region)
	return nil
}

// followTo makes a follower's region cover at least size bytes, if the
// file has them, and returns an error wrapping ErrCorrupt if it does not.
// It reads the file's size again when size is past the region (the writer
// grows the file before its length counts the new elements), or when size
// is 0 (the follower of a file that has no header yet looks at every
// Refresh).
//
// A view on Windows cannot grow, and a read-only handle cannot create a
// section larger than the file (only a writer extends a file), so when the
// file has grown past the view, followTo maps a new view of the whole file
// as it is now and unmaps the old one at once: the follower's region moves,
// and every view of it taken before (Slice, pointers into it, running
// iterators) is invalid from then on. That happens only at a Refresh or
// Wait (or the open) that finds the file grown past the view; one that
// finds the elements it counts within the view maps nothing. On failure
// the region is as it was.
//
// The file never shrinks under a follower's view: the writer does not
// truncate it while followers are attached, and Windows refuses to cut a
// file under a view. But the writer may cut it between this Stat and the
// mapping, if it looked for followers before this follower took its lock:
// the section, as large as the Stat said, then no longer fits the file, and
// followTo looks again.
func (f *File) followTo(size int) error {
	if f.closed {
		return errs.ErrClosed
	}
	if size <= len(f.b) && size > 0 {
		return nil
	}
	for try := 1; ; try++ {
		have, err := followedSize(f.osFile, size)
		if err != nil {
			return err
		}
		if have <= f.mapped {
			f.fileSize = have
			f.setSize(have)
			return nil
		}
		err = f.mapView(have)
		if err == nil {
			f.fileSize = have
			f.setSize(have)
			return nil
		}
		if fi, serr := f.osFile.Stat(); serr != nil || fi.Size() >= int64(have) || try == followTries {
			return err
		}
	}
}

// followTries bounds the looks of followTo at a file that shrinks while it
// maps it: a writer cuts a file at most once before it sees the follower.
const followTries = 3

// wakeWord returns nil: Windows has no futex that works across processes
// on a shared file mapping (WaitOnAddress works within a process only), so
// a follower's Wait polls (see CanSleep).
func (f *File) wakeWord(off int) *atomic.Uint32 { return nil }

// mapView maps the first size bytes of the file in a new view, in place of
// the current one, which stays mapped until the new one is: on failure the
// region is unchanged (though a new section may have extended the file). A
// section larger than the file extends the file to its size; only a
// writer's can, a read-only handle's fails (see followTo).
//
// The section's handle is closed at once: a view keeps its section alive,
// and a section that no view needs would keep the file from shrinking.
func (f *File) mapView(size int) error {
	prot, access := uint32(windows.PAGE_READWRITE), uint32(windows.FILE_MAP_WRITE)
	if f.readOnly {
		prot, access = windows.PAGE_READONLY, windows.FILE_MAP_READ
	}
	section, err := windows.CreateFileMapping(windows.Handle(f.osFile.Fd()), nil, prot, uint32(uint64(size)>>32), uint32(size), nil)
	if err != nil {
		return os.NewSyscallError("CreateFileMapping", err)
	}
	var addr uintptr
	err = withAddressSpace(func() (err error) {
		addr, err = windows.MapViewOfFile(section, access, 0, 0, uintptr(size))
		return err
	})
	windows.CloseHandle(section)
	if err != nil {
		return os.NewSyscallError("MapViewOfFile", err)
	}
	if err := f.unmapView(); err != nil {
		windows.UnmapViewOfFile(addr)
		return err
	}
	f.base, f.mapped = AddrToPtr(addr), size
	return nil
}

// unmapView unmaps the file's view, if it has one. Every view of the file
// goes with it.
func (f *File) unmapView() error {
	if f.base == nil {
		return nil
	}
	if err := windows.UnmapViewOfFile(uintptr(unsafe.Pointer(f.base))); err != nil {
		return os.NewSyscallError("UnmapViewOfFile", err)
	}
	// A view kept past this point (a Slice from before a Close, or from
	// before a resize, which moves the view here) must fault rather than
	// reach what is mapped at its address next: the range is reserved
	// again at once, inaccessible, and retired (see retire). A view cannot
	// be replaced in place, so another thread of the process may map
	// something there in between; the reservation then fails, and the
	// range is that mapping's.
	if p, err := windows.VirtualAlloc(uintptr(unsafe.Pointer(f.base)), uintptr(f.mapped), windows.MEM_RESERVE, windows.PAGE_NOACCESS); err == nil {
		retire(AddrToPtr(p), f.mapped)
	}
	f.base, f.mapped = nil, 0
	return nil
}

// setSize makes Bytes the first size bytes of the view.
func (f *File) setSize(size int) {
	f.b = nil
	if size > 0 {
		f.b = unsafe.Slice(f.base, f.mapped)[:size:size]
	}
}

// sync writes the changed pages of the view's first n bytes to the file
// (FlushViewOfFile) and then the file to the disk (FlushFileBuffers, which
// os.File.Sync calls). Both are needed on every Sync: FlushViewOfFile
// starts the writes but waits neither for them nor for the drive's cache.
//
// There is no directory to sync: Windows has no call that flushes a
// directory through a handle os.Open returns, and NTFS logs a new file's
// name in its journal with the file's metadata, which FlushFileBuffers
// makes durable.
func (f *File) sync(n int) error {
	if n = min(n, len(f.b)); n > 0 {
		if err := windows.FlushViewOfFile(uintptr(unsafe.Pointer(f.base)), uintptr(n)); err != nil {
			return os.NewSyscallError("FlushViewOfFile", err)
		}
	}
	return f.osFile.Sync()
}

// syncFirstPage makes the file's first page durable (see syncHeader):
// FlushViewOfFile of that page, then FlushFileBuffers (see sync).
func (f *File) syncFirstPage() error {
	if err := windows.FlushViewOfFile(uintptr(unsafe.Pointer(f.base)), uintptr(min(len(f.b), pageSize))); err != nil {
		return os.NewSyscallError("FlushViewOfFile", err)
	}
	return f.osFile.Sync()
}

// fileStandardInfo is FILE_STANDARD_INFO, which golang.org/x/sys/windows
// does not declare.
type fileStandardInfo struct {
	AllocationSize int64
	EndOfFile      int64
	NumberOfLinks  uint32
	DeletePending  bool
	Directory      bool
}

// standardInfo returns the file's FILE_STANDARD_INFO.
func (f *File) standardInfo() (fileStandardInfo, error) {
	var info fileStandardInfo
	err := windows.GetFileInformationByHandleEx(windows.Handle(f.osFile.Fd()), windows.FileStandardInfo, (*byte)(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)))
	if err != nil {
		return info, os.NewSyscallError("GetFileInformationByHandleEx", err)
	}
	return info, nil
}

// currentSize returns the file's size, as the system has it now.
func (f *File) currentSize() (int64, error) {
	info, err := f.standardInfo()
	return info.EndOfFile, err
}

// diskSize returns the file's allocation size: the clusters NTFS holds for
// it, which growth allocates as the file's size grows.
func (f *File) diskSize() (int64, error) {
	info, err := f.standardInfo()
	return info.AllocationSize, err
}

// fileChange says how another program has changed the file under this
// writer, or returns "" if it has not: the file is shorter than the size
// this handle gave it, or it is marked for deletion (by another program:
// not one this handle removed itself, as an unnamed file's), both from one
// GetFileInformationByHandleEx. Windows keeps other programs from doing
// either while memvec has the file open, mapped: it refuses to cut a file
// under a mapped view (ERROR_USER_MAPPED_FILE), and to delete or rename a
// file that a handle has open without FILE_SHARE_DELETE, as memvec's are
// (a sharing violation), so the path always names the file. The check
// costs one system call and makes sure of it.
func (f *File) fileChange() (string, error) {
	info, err := f.standardInfo()
	switch {
	case err != nil:
		return "", err
	case info.EndOfFile < int64(f.fileSize):
		return f.cutError(info.EndOfFile), nil
	case info.DeletePending && !f.pathReplaced:
		return "the file was removed by another program", nil
	}
	return "", nil
}

// close unmaps the file, unlocks it (a follower, the follower byte) and
// closes it.
func (f *File) close() error {
	if f.unnamed {
		// No lock, no follower: the view and the handle, whose close
		// deletes the file (see createUnnamed).
		err := f.unmapView()
		return errors.Join(err, f.osFile.Close())
	}
	unlock := unlockFile
	if f.follow {
		unlock = unlockFollower
	} else if !f.readOnly {
		unlockWriter(f.osFile)
	}
	err := f.unmapView()
	if err == nil {
		f.trim() // Windows cuts no file under a mapped view: after the unmap
	}
	releaseClass(f.osFile, f.readOnly && !f.follow, f.sharedID)
	return errors.Join(err, unlock(f.osFile), f.osFile.Close())
}

// SyncDirectory does nothing on Windows: NTFS journals its directories'
// changes, and a file's FlushFileBuffers makes its own name durable.
func SyncDirectory(dir string) error { return nil }

// growShared makes a Shared writer's region cover the file's size, or
// size bytes if the file is smaller: a section of that size extends the
// file (see mapView). It never cuts the file, which other Shared writers
// map and may have grown meanwhile. A new view moves the region, as every
// growth does here.
func (f *File) growShared(size int) error {
	have, err := f.currentSize()
	if err != nil {
		return err
	}
	size = max(size, int(have))
	if size > f.mapped {
		if err := f.mapView(size); err != nil {
			return err
		}
	}
	f.fileSize = max(f.fileSize, size)
	f.setSize(size)
	return nil
}

// readyShared does nothing here: a section that extends a file has NTFS
// allocate the clusters of its new end at once (see resize), so a file
// that a dead Shared writer grew has them all.
func (f *File) readyShared(off int) error { return nil }
