package memvec

import (
	"errors"
	"fmt"
	"math"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// fileHandle is the open file behind a File.
type fileHandle = *os.File

// fileOS is empty on Windows: a follower has no wake word to write (there
// is no futex across processes; Wait polls), and there is no directory to
// sync (see sync).
type fileOS struct{}

// openFile opens, locks and maps the file at path.
func openFile(path string, o options) (_ *File, err error) {
	if o.follow {
		return nil, fmt.Errorf("memvec: open %s: Follow: %w", path, errors.ErrUnsupported)
	}
	flag := os.O_RDWR | os.O_CREATE
	if o.readOnly {
		flag = os.O_RDONLY
	}
	osf, err := os.OpenFile(path, flag, o.mode)
	if err != nil {
		return nil, fmt.Errorf("memvec: %w", err) // *PathError: op, path and error
	}
	if err := lockFile(osf, o.readOnly, o.lockTimeout); err != nil {
		osf.Close()
		return nil, fmt.Errorf("memvec: lock %s: %w", path, err)
	}
	// Every error below unlocks and closes the file.
	defer func() {
		if err != nil {
			unlockFile(osf)
			osf.Close()
		}
	}()
	fi, err := osf.Stat()
	if err != nil {
		return nil, fmt.Errorf("memvec: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("memvec: open %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	size := fi.Size()
	if size > math.MaxInt {
		return nil, fmt.Errorf("memvec: open %s: %d bytes do not fit in this platform's address space", path, size)
	}
	f := &File{osFile: osf, path: path, readOnly: o.readOnly, reserve: o.reserve}
	if size > 0 {
		if err := f.mapView(int(size)); err != nil {
			return nil, fmt.Errorf("memvec: map %s: %w", path, err)
		}
	}
	f.setSize(int(size))
	return f, nil
}

// resize changes the file's size, mapping it anew: on Windows a view of a
// file cannot grow, so every resize moves the region (see File).
//
// Growth creates a file mapping object (a section) of the new size, which
// extends the file first: NTFS allocates the clusters of a file's new end
// at once, so a full disk is ERROR_DISK_FULL here, not a fault in a later
// write. The old view stays mapped until the new one is, so a growth that
// the disk refuses leaves the region where it was. One that fails later,
// for want of address space, must unmap the old view to give the file its
// size back, and maps it again, possibly elsewhere.
//
// Shrinking cannot work that way: Windows refuses to cut a file under a
// mapped view (ERROR_USER_MAPPED_FILE), so the view goes first, then the
// file is cut and mapped again at its new size.
func (f *File) resize(size int) error {
	old := len(f.b)
	if size > old {
		err := f.mapView(size)
		if err == nil {
			f.setSize(size)
			return nil
		}
		// MapViewOfFile failed (no address space) after the new section
		// extended the file: give the file its size back. Windows asks
		// for every view to be unmapped before the size changes.
		if fi, serr := f.osFile.Stat(); serr == nil && fi.Size() == int64(old) {
			return err
		}
		return errors.Join(err, f.remapAt(old))
	}
	if err := f.unmapView(); err != nil {
		return err
	}
	if err := f.osFile.Truncate(int64(size)); err != nil {
		// The file is as it was: map it as it was.
		return errors.Join(err, f.remapAt(old))
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

// remapAt unmaps the file, sets its size to size and maps it again: how a
// failed resize puts the file back as it was.
func (f *File) remapAt(size int) error {
	err := f.unmapView()
	if err == nil {
		err = f.osFile.Truncate(int64(size))
	}
	if err == nil && size > 0 {
		err = f.mapView(size)
	}
	if err != nil {
		f.setSize(0)
		return fmt.Errorf("restore the size of %d bytes: %w", size, err)
	}
	f.setSize(size)
	return nil
}

// mapView maps the first size bytes of the file in a new view, in place of
// the current one, which stays mapped until the new one is: on failure the
// region is unchanged (though a new section may have extended the file). A
// section larger than the file extends the file to its size.
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
	addr, err := windows.MapViewOfFile(section, access, 0, 0, uintptr(size))
	windows.CloseHandle(section)
	if err != nil {
		return os.NewSyscallError("MapViewOfFile", err)
	}
	if err := f.unmapView(); err != nil {
		windows.UnmapViewOfFile(addr)
		return err
	}
	f.base, f.mapped = addrToPtr(addr), size
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

// sync writes the view's changed pages to the file (FlushViewOfFile) and
// then the file to the disk (FlushFileBuffers, which os.File.Sync calls).
// Both are needed on every Sync: FlushViewOfFile starts the writes but
// waits neither for them nor for the drive's cache.
//
// There is no directory to sync: Windows has no call that flushes a
// directory through a handle os.Open returns, and NTFS logs a new file's
// name in its journal with the file's metadata, which FlushFileBuffers
// makes durable.
func (f *File) sync() error {
	if len(f.b) > 0 {
		if err := windows.FlushViewOfFile(uintptr(unsafe.Pointer(f.base)), uintptr(len(f.b))); err != nil {
			return os.NewSyscallError("FlushViewOfFile", err)
		}
	}
	return f.osFile.Sync()
}

// close unmaps the file, unlocks it and closes it.
func (f *File) close() error {
	return errors.Join(f.unmapView(), unlockFile(f.osFile), f.osFile.Close())
}
